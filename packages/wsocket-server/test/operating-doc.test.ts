import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import * as promClient from 'prom-client';
import * as serverPackage from '../src';
import { METRIC_NAMES } from '../src/stats/metric-families';
import { ADMIN_DEFAULTS } from '../src/stats/admin-options';
import { track } from './helpers';

/**
 * docs/operating.md: its code example, read from the page at test time,
 * compiled and run (ports 0); every metric name and admin option it lists
 * exists, and every one that exists is listed.
 */

const PAGE = path.resolve(__dirname, '../../../docs/operating.md');
const text = readFileSync(PAGE, 'utf8');

function example(): string {
  const match = /## Turning it on\n\nIn code, the `admin` option:\n\n```ts\n([\s\S]*?)```/.exec(text);
  if (!match) throw new Error('docs/operating.md: the "Turning it on" example is missing');
  return match[1];
}

test('the example runs: the admin listener answers, the prom-client registry carries the figures', async () => {
  const source = example().replace(/port: \d+/g, 'port: 0').replace(/\bconst server\b/, 'server');
  // The imports stay at the top; the rest (top-level await) runs in an async function the test awaits.
  const lines = source.split('\n');
  const imports = lines.filter((line) => line.startsWith('import '));
  const body = lines.filter((line) => !line.startsWith('import '));
  const js = ts.transpileModule(`${imports.join('\n')}\nexports.done = (async () => {\n${body.join('\n')}\n})();`, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  const requireFor = (name: string): unknown => {
    if (name === '@ics-ts/wsocket-server') return serverPackage;
    if (name === 'prom-client') return promClient;
    throw new Error(`the example imports ${name}`);
  };
  const logged: string[] = [];
  const scope = { server: undefined as serverPackage.TWSocketServer | undefined };
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const exports: { done?: Promise<void> } = {};
  new Function('require', 'exports', 'console', 'scope', `with (scope) { ${js.replace(/^"use strict";\s*/, '')} }`)(
    requireFor,
    exports,
    { log: (...args: unknown[]) => logged.push(args.map(String).join(' ')) },
    scope,
  );
  await exports.done;
  const server = track(scope.server!);
  expect(logged[0]).toBe(`admin ${server.adminUrl}`);
  expect(logged[0]).toMatch(/^admin http:\/\/127\.0\.0\.1:\d+$/);
  expect(logged[1]).toBe('ics_ts_up 1');
  const metrics = await (await fetch(`${server.adminUrl}/metrics`)).text();
  expect(metrics).toContain('ics_ts_up 1\n');
  // The token in the example is long enough: actions are on.
  expect((await fetch(`${server.adminUrl}/recheck`, { method: 'POST' })).status).toBe(401);
});

test('every metric family is in the table, and nothing else is', () => {
  const listed = new Set([...text.matchAll(/^\| `(ics_ts_[a-z_<>]+)` \|/gm)].map((m) => m[1]));
  const perListener = METRIC_NAMES.filter((n) => n.startsWith('ics_ts_listener_') && n !== 'ics_ts_listener_info' && n !== 'ics_ts_listener_up');
  for (const name of METRIC_NAMES) {
    if (perListener.includes(name)) continue; // one row: ics_ts_listener_<figure>
    expect([name, listed.has(name)]).toEqual([name, true]);
  }
  for (const name of perListener) expect(METRIC_NAMES).toContain(name.replace('ics_ts_listener_', 'ics_ts_'));
  for (const name of listed) {
    if (name === 'ics_ts_listener_<figure>') continue;
    expect(METRIC_NAMES).toContain(name);
  }
  for (const reason of serverPackage.REFUSAL_REASONS) expect(text).toContain(`\`${reason}\``);
  for (const reason of serverPackage.HANDSHAKE_FAILURE_REASONS) expect(text).toContain(`\`${reason}\``);
});

test('the admin option table gives the real defaults', () => {
  expect(text).toContain(`| \`addr\` | \`'${ADMIN_DEFAULTS.addr}'\` |`);
  expect(text).toContain(`| \`maxClientsListed\` | ${ADMIN_DEFAULTS.maxClientsListed} |`);
  expect(text).toContain(`| \`sampleInterval\` | ${ADMIN_DEFAULTS.sampleInterval} |`);
  expect(text).toContain(`| \`samplesKept\` | ${ADMIN_DEFAULTS.samplesKept} |`);
});
