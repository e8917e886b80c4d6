import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as root from '@ics-ts/server-socket';
import * as air from '../src/air';
import * as totalcross from '../src/totalcross';
import * as xojo from '../src/xojo';

// jest maps `@ics-ts/<pkg>` to its src (package roots only), so the subpath entries are imported as files;
// package.json `exports` is checked to point at their built names.

test('the index exports the three facades, each also `ServerSocket` of its own subpath', () => {
  expect(xojo.ServerSocket).toBe(root.XojoServerSocket);
  expect(totalcross.ServerSocket).toBe(root.TotalCrossServerSocket);
  expect(air.ServerSocket).toBe(root.AirServerSocket);
  expect(xojo.TCPSocket).toBe(root.XojoTCPSocket);
  expect(totalcross.Socket).toBe(root.TotalCrossSocket);
  expect(air.Socket).toBe(root.AirSocket);
});

test('package.json exports: one entry per subpath, each built from a source file that exists', () => {
  const dir = path.resolve(__dirname, '..');
  const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
  const entries = Object.entries(pkg.exports).filter(([key]) => key !== './package.json');
  expect(entries.map(([key]) => key)).toEqual(['.', './xojo', './totalcross', './air']);
  for (const [key, target] of entries) {
    const name = key === '.' ? 'index' : key.slice(2);
    expect(target).toEqual({
      import: { types: `./dist/${name}.d.mts`, default: `./dist/${name}.mjs` },
      require: { types: `./dist/${name}.d.ts`, default: `./dist/${name}.js` },
    });
    expect(existsSync(path.join(dir, 'src', `${name}.ts`))).toBe(true);
  }
});
