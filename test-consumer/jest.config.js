// The consumer test: run by `pnpm test:consumer` (and .ci/run), never by `pnpm test`,
// since it packs the packages and installs them with npm from the registry.
/** @type {import('jest').Config} */
module.exports = {
  rootDir: __dirname,
  testEnvironment: 'node',
  testMatch: ['<rootDir>/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }] },
  testTimeout: 120000,
};
