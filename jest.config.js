/**
 * Unit tests live beside the code (*.spec.ts); middle-tier tests too (*.int-spec.ts: one
 * service's use cases with their real repositories on PostgreSQL, in-process); e2e tests in
 * test/ boot the real apps.
 */
const tsJest = ['ts-jest', { tsconfig: 'tsconfig.spec.json' }];
const moduleNameMapper = {
  '^@app/domain(|/.*)$': '<rootDir>/libs/domain/src$1',
  '^@app/platform(|/.*)$': '<rootDir>/libs/platform/src$1',
};

module.exports = {
  projects: [
    {
      displayName: 'unit',
      rootDir: __dirname,
      testMatch: ['<rootDir>/libs/**/*.spec.ts', '<rootDir>/apps/**/*.spec.ts'],
      transform: { '^.+\\.ts$': tsJest },
      moduleNameMapper,
      testEnvironment: 'node',
    },
    {
      displayName: 'middle',
      rootDir: __dirname,
      testMatch: ['<rootDir>/apps/**/*.int-spec.ts'],
      transform: { '^.+\\.ts$': tsJest },
      moduleNameMapper,
      testEnvironment: 'node',
      setupFilesAfterEnv: ['<rootDir>/test/support/jest-setup.ts'],
    },
    {
      displayName: 'e2e',
      rootDir: __dirname,
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
      transform: { '^.+\\.ts$': tsJest },
      moduleNameMapper,
      testEnvironment: 'node',
      setupFilesAfterEnv: ['<rootDir>/test/support/jest-setup.ts'],
    },
  ],
};
