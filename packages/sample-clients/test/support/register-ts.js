'use strict';
/**
 * Lets a child process run the TypeScript sources with no build step:
 *
 *   node -r packages/sample-clients/test/support/register-ts.js packages/sample-clients/src/cli.ts ...
 *
 * 1. `@ics-ts/NAME` resolves to packages/NAME/src, as jest's moduleNameMapper does in the test
 *    process (tsconfig `paths` are a compile-time map; tsconfig-paths is not installed).
 * 2. ts-node compiles `.ts` on load, transpile-only (one file at a time, no type check: that is
 *    `pnpm typecheck`'s job), with the same tsconfig as jest. rootDir is set because TypeScript 6
 *    otherwise refuses to infer it (TS5011) for the emit ts-node asks for.
 *
 * Plain JavaScript on purpose: it has to run before anything can compile TypeScript.
 */
const path = require('node:path');
const Module = require('node:module');

const root = path.resolve(__dirname, '../../../..');
const WORKSPACE_PACKAGE = /^@ics-ts\/([^/]+)$/;

const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  const match = WORKSPACE_PACKAGE.exec(request);
  return resolveFilename.call(this, match ? path.join(root, 'packages', match[1], 'src') : request, ...rest);
};

require(require.resolve('ts-node', { paths: [root] })).register({
  transpileOnly: true,
  project: path.join(root, 'tsconfig.jest.json'),
  compilerOptions: { rootDir: root },
});
require(require.resolve('reflect-metadata', { paths: [root] }));
