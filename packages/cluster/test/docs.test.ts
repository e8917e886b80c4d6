import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { WORKERS_EXIT } from '../src';
import { assertBuilt } from './support/built';
import { LinePeer } from './support/line-peer';

/**
 * The README's example, read from the README at test time and run as the
 * reader would (`node chat-workers.js`): a real primary and 2 workers. The
 * file is saved inside this package so that `@ics-ts/cluster` (the package
 * itself, built) and `@ics-ts/wsocket-server` resolve as they would once
 * installed. The one change: port 7000 becomes 0 (the workers share it).
 */

const README = readFileSync(path.join(__dirname, '../README.md'), 'utf8');
let dir: string;

beforeAll(() => {
  assertBuilt();
  dir = mkdtempSync(path.join(__dirname, '.readme-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function savedExample(name: string): string {
  const match = new RegExp('`' + name.replace('.', '\\.') + '`:\\n\\n```js\\n([\\s\\S]*?)```').exec(README);
  if (!match) throw new Error(`README: no block to save as ${name}`);
  return match[1].replace(/port: 7000/, 'port: 0');
}

test("the README's chat-workers.js: two workers, one lobby across them, a graceful Ctrl-C", async () => {
  const file = path.join(dir, 'chat-workers.js');
  writeFileSync(file, savedExample('chat-workers.js'));
  expect(README).toContain('node chat-workers.js');
  const child = spawn(process.execPath, [file], { cwd: dir, env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stdout = '';
  let stderr = '';
  let wake: (() => void) | undefined;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    wake?.();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const waitFor = async (pattern: RegExp, count: number): Promise<RegExpMatchArray[]> => {
    for (;;) {
      const found = [...stdout.matchAll(new RegExp(pattern.source, 'gm'))];
      if (found.length >= count) return found;
      if (child.exitCode !== null) throw new Error(`the example exited (${child.exitCode}):\n${stdout}\n${stderr}`);
      await new Promise<void>((resolve) => (wake = resolve));
    }
  };
  try {
    const listening = await waitFor(/^worker (\d+) listening tcp:\/\/127\.0\.0\.1:(\d+)$/, 2);
    const port = Number(listening[0][2]);
    expect(Number(listening[1][2])).toBe(port);
    // Two clients on two different workers (round robin alternates; bounded).
    const peers: LinePeer[] = [];
    const workerOf = (peer: LinePeer) => /^Worker (\d+) here\. Your nick\?$/.exec(peer.lines[0])![1];
    while (peers.length < 8 && new Set(peers.map(workerOf)).size < 2) {
      const peer = new LinePeer(port);
      await peer.nextLine();
      peers.push(peer);
    }
    const ann = peers[0];
    const bob = peers.find((peer) => workerOf(peer) !== workerOf(ann))!;
    expect(bob).toBeDefined();
    expect(await ann.ask('ann')).toBe('Welcome ann: 1 here.');
    expect(await bob.ask('bob')).toBe('Welcome bob: 2 here.');
    await waitFor(/^worker \d+: bob joined$/, 1);
    // ann's line reaches bob on the other worker, through the primary
    ann.socket.write('hi bob\n');
    expect(await bob.nextLine()).toBe('<ann> hi bob');
    // a nick is unique across the workers
    const carl = new LinePeer(port);
    await carl.nextLine();
    peers.push(carl);
    expect(await carl.ask('ann')).toBe('ann is taken, another nick?');
    process.kill(child.pid!, 'SIGINT');
    for (const peer of peers) {
      await peer.closed;
      expect(peer.lines).toContain('Server restarting, bye.');
      expect(peer.ended).toBe(true);
    }
    expect(await exited).toBe(WORKERS_EXIT.GRACEFUL);
  } finally {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // ended
    }
  }
});
