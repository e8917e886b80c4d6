import type { Config } from 'jest';

// Tests run against the TypeScript sources (no build step): the workspace
// package names map straight to packages/*/src.
const config: Config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/packages'],
  testMatch: ['**/test/**/*.test.ts'],
  setupFiles: ['reflect-metadata'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }],
  },
  moduleNameMapper: { '^@ics-ts/([^/]+)$': '<rootDir>/packages/$1/src' },
  testTimeout: 20000,
};
export default config;
