/**
 * The CLI's shutdown, as an operator sees it: the first SIGTERM/SIGINT is
 * graceful (every chat member hears it, every connection ends with FIN), the
 * exit code says whether clients had to be aborted at the timeout, and a
 * second signal exits at once (128 + the signal's number).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { CliProcess } from './support/cli-process';
import { LineClient } from './support/line-client';

jest.setTimeout(60_000);

let dir: string;
const peers: LineClient[] = [];
const sockets: net.Socket[] = [];

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'ics-ts-cli-shutdown-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  for (const peer of peers.splice(0)) peer.destroy();
  for (const socket of sockets.splice(0)) socket.destroy();
  await CliProcess.killAll();
});

async function member(port: number, nick: string): Promise<LineClient> {
  const peer = new LineClient(port, '127.0.0.1');
  peers.push(peer);
  await peer.connected;
  await peer.line(); // the banner
  peer.sendLine(nick);
  await peer.line(); // welcome
  return peer;
}

test('SIGTERM: every chat member receives the shutdown notice, sees FIN, and the exit code is 0', async () => {
  const cli = new CliProcess(['--port', '0']);
  const { port } = await cli.listening();
  const members = [await member(port, 'ann'), await member(port, 'bob'), await member(port, 'cy')];
  await members[0].line(); // * bob joined
  cli.child.kill('SIGTERM');
  for (const peer of members) {
    let line = await peer.line();
    while (line.endsWith('joined')) line = await peer.line();
    expect(line).toBe('* The chat server is shutting down. Bye!');
    await peer.closed;
  }
  expect(await cli.finished()).toEqual({ code: 0, signal: null });
  expect(cli.lines).toContain('shut down: 3 of 3 clients closed gracefully, 0 aborted at the timeout');
  expect(cli.stderr).toBe('');
});

test('a peer that never closes its side is aborted at shutdownTimeout: exit code 3; shutdownNotice reaches line protocols', async () => {
  const config = path.join(dir, 'echo.json');
  writeFileSync(config, JSON.stringify({ addr: '127.0.0.1', port: 0, clientClass: 'echo', shutdownTimeout: 300, shutdownNotice: '421 closing' }));
  const cli = new CliProcess(['--config', config]);
  const { port } = await cli.listening();
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  sockets.push(socket);
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (text += chunk));
  await new Promise((resolve) => socket.once('connect', resolve));
  await cli.waitForLine(/^client 1 connected/);
  cli.child.kill('SIGTERM');
  expect(await cli.finished()).toEqual({ code: 3, signal: null });
  expect(text).toBe('421 closing\r\n');
  expect(cli.lines).toContain('shut down: 0 of 1 clients closed gracefully, 1 aborted at the timeout');
});

test('a second signal exits at once with 128 + its number', async () => {
  const config = path.join(dir, 'slow.json');
  writeFileSync(config, JSON.stringify({ addr: '127.0.0.1', port: 0, clientClass: 'echo', shutdownTimeout: 60000 }));
  const cli = new CliProcess(['--config', config]);
  const { port } = await cli.listening();
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  sockets.push(socket);
  await new Promise((resolve) => socket.once('connect', resolve));
  await cli.waitForLine(/^client 1 connected/);
  cli.child.kill('SIGINT');
  await cli.waitForLine(/^SIGINT: shutting down gracefully/);
  cli.child.kill('SIGINT');
  expect(await cli.finished()).toEqual({ code: 130, signal: null });
  expect(cli.stderr).toContain('SIGINT again: exiting at once, open connections dropped');
});
