import 'reflect-metadata';

// e2e suites boot real processes once per file; give them room.
jest.setTimeout(180_000);
