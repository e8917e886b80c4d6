import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import * as wsocketPackage from '../src';
import { Loopback, Received, writeNow } from './helpers';

/**
 * docs/hardening.md's example, read from the page at test time, compiled and
 * run against a real peer: the example can never drift from what works.
 */

const PAGE = path.resolve(__dirname, '../../../docs/hardening.md');

function exampleClass(): typeof wsocketPackage.TWSocket {
  const match = /## Example\n\n```ts\n([\s\S]*?)```/.exec(readFileSync(PAGE, 'utf8'));
  if (!match) throw new Error('docs/hardening.md: the example is missing');
  const js = ts.transpileModule(match[1], {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  const requireFor = (name: string): unknown => {
    if (name === '@ics-ts/wsocket') return wsocketPackage;
    throw new Error(`the example imports ${name}`);
  };
  const exports: Record<string, unknown> = {};
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  new Function('require', 'exports', js)(requireFor, exports);
  return exports.Guarded as typeof wsocketPackage.TWSocket;
}

const loop = new Loopback();
afterEach(() => loop.dispose());

test('the hardening example answers lines, and says why it closes a slow line', async () => {
  const Guarded = exampleClass();
  const guarded = new Guarded();
  expect([guarded.idleTimeout, guarded.lineTimeout, guarded.readLinesPerSecond, guarded.readLinesBurst]).toEqual([60_000, 10_000, 20, 40]);
  expect(guarded.readRateAction).toBe('close');
  guarded.lineTimeout = 300; // the test's patience, not the example's
  const { wsocket, peer } = await loop.pair(guarded);
  const received = new Received(peer);
  peer.on('end', () => peer.end());
  const closed = once(wsocket, 'sessionClosed');
  await writeNow(peer, 'hello\r\n');
  await received.untilText('you said: hello\r\n');
  await writeNow(peer, 'half a li');
  const [error] = (await closed) as [wsocketPackage.WSocketError];
  expect(received.text).toBe('you said: hello\r\nbye: line too slow\r\n');
  expect(received.ended).toBe(true);
  expect(error.code).toBe('ICS_ERR_LINE_TIMEOUT');
});
