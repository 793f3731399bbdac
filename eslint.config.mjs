// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import globals from 'globals';

const APPS = ['gateway', 'card-service', 'points-service', 'dashboard-service'];

/** An app imports libs by their public index only, and never another app's code. */
const appBoundaries = APPS.map((app) => ({
  files: [`apps/${app}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          { group: APPS.filter((a) => a !== app).flatMap((a) => [`**/${a}/**`, `**/${a}`]), message: 'no imports across apps: share through libs/' },
          { group: ['@app/*/*', '**/libs/*/src/**'], message: 'import a lib by its public index (@app/domain, @app/platform)' },
        ],
      },
    ],
  },
}));

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.data/**', 'apps/console/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // A promise nobody awaits loses its errors; a promise where a boolean or a callback's result is expected is a bug.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // Rows from the database driver are untyped at its boundary (`Record<string, any>`), and mapped right there:
      // the no-unsafe-* family would flag every such mapping without making it safer.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
      // An async method without await is how an interface that returns a promise is met (Nest hooks, Bull handlers).
      '@typescript-eslint/require-await': 'off',
    },
  },
  // libs/domain stays free of framework code: no Nest, no TypeORM, no database driver.
  {
    files: ['libs/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@nestjs/*', '!@nestjs/swagger', 'typeorm', 'pg', 'ioredis', 'bull', '@app/platform', '**/platform/**'],
              message: 'libs/domain holds pure rules and contracts',
            },
          ],
        },
      ],
    },
  },
  ...appBoundaries,
  {
    files: ['**/*.spec.ts', '**/*.int-spec.ts', 'test/**/*.ts'],
    rules: {
      // Tests reach into an app's own folders to build a middle tier; they are not apps.
      'no-restricted-imports': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { ...tseslint.configs.disableTypeChecked.languageOptions, sourceType: 'commonjs', globals: { ...globals.node } },
    rules: { ...tseslint.configs.disableTypeChecked.rules, '@typescript-eslint/no-require-imports': 'off' },
  },
  { files: ['**/*.mjs'], languageOptions: { sourceType: 'module' } },
  prettier,
);
