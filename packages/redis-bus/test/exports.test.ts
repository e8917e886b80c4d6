import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as root from '@ics-ts/redis-bus';

test('the index exports the bus, its defaults and its drop reasons', () => {
  expect(Object.keys(root).sort()).toEqual(['DROP_REASONS', 'MAX_PENDING_PUBLISHES', 'REDIS_BUS_DEFAULTS', 'RedisBus']);
  expect(root.DROP_REASONS).toEqual(['malformed', 'oversize', 'notSubscribed']);
});

test('package.json exports: one entry, import and require with their types, built from src/index.ts', () => {
  const dir = path.resolve(__dirname, '..');
  const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { exports: Record<string, unknown>; dependencies: Record<string, string> };
  expect(pkg.exports).toEqual({
    '.': {
      import: { types: './dist/index.d.mts', default: './dist/index.mjs' },
      require: { types: './dist/index.d.ts', default: './dist/index.js' },
    },
    './package.json': './package.json',
  });
  expect(existsSync(path.join(dir, 'src', 'index.ts'))).toBe(true);
  expect(Object.keys(pkg.dependencies)).toContain('ioredis');
});
