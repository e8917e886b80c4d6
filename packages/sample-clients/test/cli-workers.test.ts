/**
 * `ics-ts-server --workers N`: one chat served by N processes, as an operator
 * runs it. The workers share the port (Node's cluster), one room and the
 * client slots (the primary's ServiceHub over IPC); SIGTERM to the primary
 * shuts every worker down gracefully and its exit code says how it went.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CliIO, startCli } from '../src/cli';
import { CliProcess } from './support/cli-process';
import { LineClient } from './support/line-client';

// Three processes compile the TypeScript sources at start (ts-node, see register-ts.js): the two-worker
// test took 25 s on a half-loaded 2-core machine (21 s of it until both workers listened); 60 s left too little for a loaded one.
jest.setTimeout(150_000);

let dir: string;
const peers: LineClient[] = [];

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'ics-ts-cli-workers-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  for (const peer of peers.splice(0)) peer.destroy();
  await CliProcess.killAll();
});

/** Starts the CLI with `workers` workers and waits until each printed its listening line; the shared port and the worker pids. */
async function startWorkers(args: string[], workers: number): Promise<{ cli: CliProcess; port: number; pids: string[] }> {
  const cli = new CliProcess([...args, '--workers', String(workers)]);
  const listening = /^worker (\d+): listening tcp:\/\/127\.0\.0\.1:(\d+)$/;
  await cli.waitForLine(listening);
  const seen = () => cli.lines.map((line) => listening.exec(line)).filter((match) => match !== null);
  // Bounded by jest's timeout; the process ending first fails waitForLine below.
  while (seen().length < workers) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    if (cli.child.exitCode !== null) await cli.waitForLine(/^never$/);
  }
  const matches = seen();
  return { cli, port: Number(matches[0]![2]), pids: matches.map((match) => match![1]) };
}

async function chatMember(port: number, nick: string, localAddress?: string): Promise<LineClient> {
  const peer = new LineClient(port, '127.0.0.1', localAddress);
  peers.push(peer);
  await peer.connected;
  await peer.line(); // the banner
  peer.sendLine(nick);
  expect(await peer.line()).toMatch(/^\* Welcome, /);
  return peer;
}

test('two workers: one port, one chat room (/who and messages cross the workers), maxClients for the whole server; SIGTERM ends both gracefully', async () => {
  const config = path.join(dir, 'chat.json');
  writeFileSync(config, JSON.stringify({ addr: '127.0.0.1', port: 0, clientClass: 'chat', maxClients: 3, bannerTooBusy: 'busy' }));
  const { cli, port, pids } = await startWorkers(['--config', config], 2);
  expect(new Set(pids).size).toBe(2);
  const ann = await chatMember(port, 'ann', '127.0.0.2');
  const bob = await chatMember(port, 'bob', '127.0.0.3');
  expect(await ann.line()).toBe('* bob joined');
  // Round robin: the two connections went to different workers, each logged by the worker that took it.
  const served = cli.lines.map((line) => /^worker (\d+): client \d+ connected from 127\.0\.0\.([23]):/.exec(line)).filter((m) => m !== null);
  expect(new Set(served.map((match) => match![1])).size).toBe(2);

  ann.sendLine('/who');
  expect(await ann.line()).toBe('* Here (2): ann (127.0.0.2), bob (127.0.0.3)');
  ann.sendLine('hello from one worker');
  expect(await bob.line()).toBe('<ann> hello from one worker');
  bob.sendLine('hello from the other');
  expect(await ann.line()).toBe('<bob> hello from the other');

  // maxClients 3 across both workers: one more seat, then busy whichever worker takes the connection.
  const greeted: string[] = [];
  for (let i = 0; i < 3; i++) {
    const peer = new LineClient(port, '127.0.0.1');
    peers.push(peer);
    greeted.push(await peer.line());
  }
  expect(greeted.filter((line) => line === 'busy')).toHaveLength(2);

  cli.child.kill('SIGTERM');
  expect(await ann.line()).toBe('* The chat server is shutting down. Bye!');
  expect(await bob.line()).toBe('* The chat server is shutting down. Bye!');
  await Promise.all([ann.closed, bob.closed]);
  expect(await cli.finished()).toEqual({ code: 0, signal: null });
});

test('bad workers values are refused with the value named (no process is forked)', async () => {
  const errors: string[] = [];
  const io: CliIO = { out: () => undefined, err: (line) => errors.push(line), cwd: dir };
  expect(await startCli(['--client', 'chat', '--workers', 'many'], io)).toEqual({ exitCode: 2 });
  expect(errors[0]).toContain('--workers must be "auto" or an integer in 0..256 (0 = one per core), got "many"');
  writeFileSync(path.join(dir, 'bad.json'), JSON.stringify({ clientClass: 'chat', workers: -1, redis: 'http://x' }));
  errors.length = 0;
  expect(await startCli(['--config', 'bad.json'], io)).toEqual({ exitCode: 2 });
  expect(errors[0]).toContain('bad.json: option workers must be "auto" or an integer in 0..256 (0 = one per core), got -1');
  writeFileSync(path.join(dir, 'bad-redis.json'), JSON.stringify({ clientClass: 'chat', redis: 'http://x' }));
  errors.length = 0;
  expect(await startCli(['--config', 'bad-redis.json'], io)).toEqual({ exitCode: 2 });
  expect(errors[0]).toContain('option redis must be a redis:// or rediss:// URL or an object of RedisBus options, got "http://x"');
  writeFileSync(path.join(dir, 'bad-redis-key.json'), JSON.stringify({ clientClass: 'chat', redis: { url: 'redis://127.0.0.1:1', presenceTtl: 'soon' } }));
  errors.length = 0;
  expect(await startCli(['--config', 'bad-redis-key.json', '--port', '0'], io)).toEqual({ exitCode: 2 });
  expect(errors[0]).toMatch(/option redis: .*presenceTtl.*"soon"/);
});
