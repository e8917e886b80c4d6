import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { CliProcess } from './support/cli-process';
import { LineClient } from './support/line-client';

/**
 * The CLI as a user runs it: a real child process (from the TypeScript
 * sources, see support/register-ts.js), real sockets, real signals. What can be
 * checked without a process (every config and argument error) is in
 * config.test.ts and cli-args.test.ts.
 */

// Each process compiles the sources on start (about a second, several on a
// loaded two-core machine): a safety net for slow machines, not a timing check.
jest.setTimeout(60_000);

let dir: string;
const peers: LineClient[] = [];
const servers: net.Server[] = [];

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'ics-ts-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  for (const peer of peers.splice(0)) peer.destroy();
  for (const server of servers.splice(0)) server.close();
  await CliProcess.killAll();
});

function writeConfig(name: string, config: unknown): string {
  const file = path.join(dir, name);
  writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config));
  return file;
}

async function connect(port: number, host = '127.0.0.1'): Promise<LineClient> {
  const peer = new LineClient(port, host);
  peers.push(peer);
  await peer.connected;
  return peer;
}

test('default config: the chat demo with its banner; two clients chat; SIGTERM stops it with exit code 0', async () => {
  const cli = new CliProcess(['--port', '0']);
  const { url, host, port } = await cli.listening();
  expect(host).toBe('127.0.0.1');
  expect(port).toBeGreaterThan(0);
  expect(url).toBe(`tcp://127.0.0.1:${port}`);

  const alice = await connect(port);
  const alicePort = alice.socket.localPort;
  expect(await alice.line()).toBe('Welcome to the ics-ts chat. Your nick?');
  alice.sendLine('alice');
  expect(await alice.line()).toMatch(/^\* Welcome, alice\./);
  const bob = await connect(port);
  expect(await bob.line()).toBe('Welcome to the ics-ts chat. Your nick?');
  bob.send('bob\n');
  expect(await bob.line()).toBe('* Welcome, bob. Here: alice. /help lists the commands.');
  expect(await alice.line()).toBe('* bob joined');
  alice.sendLine('hi bob');
  expect(await bob.line()).toBe('<alice> hi bob');
  bob.sendLine('/who');
  expect(await bob.line()).toBe('* Here (2): alice (127.0.0.1), bob (127.0.0.1)');

  cli.child.kill('SIGTERM');
  // Shutdown closes both connections gracefully, then the process exits.
  await Promise.all([alice.closed, bob.closed]);
  expect(await cli.finished()).toEqual({ code: 0, signal: null });
  expect(cli.lines).toContain(`client 1 connected from 127.0.0.1:${alicePort} (1 now)`);
  expect(cli.stderr).toBe('');
});

test('SIGINT stops it with exit code 0 too', async () => {
  const cli = new CliProcess(['--port', '0', '--quiet']);
  const { port } = await cli.listening();
  const peer = await connect(port);
  await peer.line();
  cli.child.kill('SIGINT');
  await peer.closed;
  expect(await cli.finished()).toEqual({ code: 0, signal: null });
  // --quiet: no connection lines; the demo's TLS listener took a free port too (--port 0)
  expect(cli.lines).toEqual([
    `listening tcp://127.0.0.1:${port}`,
    expect.stringMatching(/^listening tls:\/\/127\.0\.0\.1:\d+$/),
    expect.stringMatching(/^admin http:\/\/127\.0\.0\.1:\d+$/), // the demo's admin listener, on a free port too
  ]);
});

test('the demo also serves the chat over TLS, with a generated certificate for localhost', async () => {
  const cli = new CliProcess(['--port', '0', '--quiet']);
  await cli.listening();
  const [, tlsPort] = await cli.waitForLine(/^listening tls:\/\/127\.0\.0\.1:(\d+)$/);
  const socket = tls.connect({ port: Number(tlsPort), host: '127.0.0.1', servername: 'localhost', rejectUnauthorized: false });
  socket.setEncoding('utf8');
  let text = '';
  socket.on('data', (chunk: string) => {
    text += chunk;
    if (text.includes('\n')) socket.end();
  });
  await once(socket, 'secureConnect');
  expect(socket.getPeerCertificate().subject.CN).toBe('localhost');
  expect(socket.getProtocol()).toBe('TLSv1.3');
  await once(socket, 'close');
  expect(text).toMatch(/^Welcome to the ics-ts chat\. Your nick\?\r\n/);
});

test('the demo serves echo.localhost on the same TLS port, picked by SNI', async () => {
  const cli = new CliProcess(['--port', '0', '--quiet']);
  await cli.listening();
  const [, tlsPort] = await cli.waitForLine(/^listening tls:\/\/127\.0\.0\.1:(\d+)$/);
  const socket = tls.connect({ port: Number(tlsPort), host: '127.0.0.1', servername: 'echo.localhost', rejectUnauthorized: false });
  socket.setEncoding('utf8');
  await once(socket, 'secureConnect');
  expect(socket.getPeerCertificate().subject.CN).toBe('echo.localhost');
  socket.write('ping\n');
  const [echoed] = await once(socket, 'data');
  expect(echoed).toBe('ping\n');
  socket.end();
  await once(socket, 'close');
});

test('--config naming clientClass "echo" serves echo', async () => {
  const config = writeConfig('echo.json', { addr: '127.0.0.1', port: 0, clientClass: 'echo', maxClients: 5 });
  const cli = new CliProcess(['--config', config]);
  const { port } = await cli.listening();
  const socket = net.connect(port, '127.0.0.1');
  const received: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => received.push(chunk));
  socket.end(Buffer.from('raw bytes\r\nand no banner\x00\xff', 'latin1'));
  await once(socket, 'close');
  expect(Buffer.concat(received).toString('latin1')).toBe('raw bytes\r\nand no banner\x00\xff');
  cli.child.kill('SIGTERM');
  expect(await cli.finished()).toEqual({ code: 0, signal: null });
});

test('a config with port 70000 exits 2 with a message naming port', async () => {
  const config = writeConfig('bad-port.json', { clientClass: 'echo', port: 70000 });
  const cli = new CliProcess(['--config', config]);
  expect(await cli.finished()).toEqual({ code: 2, signal: null });
  expect(cli.stderr).toContain('option port must be an integer in 0..65535, got 70000');
  expect(cli.stdout).toBe('');
});

test('a config naming an unknown key or an unregistered class exits 2 with a message naming it', async () => {
  const unknownKey = new CliProcess(['--config', writeConfig('typo.json', { clientClass: 'echo', prot: 7 })]);
  const unknownClass = new CliProcess(['--config', writeConfig('nosuch.json', { clientClass: 'nosuch', port: 0 })]);
  expect(await unknownKey.finished()).toEqual({ code: 2, signal: null });
  expect(unknownKey.stderr).toContain('typo.json: unknown option "prot"');
  expect(await unknownClass.finished()).toEqual({ code: 2, signal: null });
  // The registry lists what is registered: the samples, loaded by the CLI itself.
  expect(unknownClass.stderr).toContain(
    'nosuch.json: option clientClass: no client class is registered as "nosuch" (registered: chat, command, daytime, echo;',
  );
});

test('--require loads a module that registers its own client class', async () => {
  const cli = new CliProcess([
    '--require', './packages/sample-clients/test/fixtures/upper-client.ts',
    '--client', 'upper',
    '--port', '0',
  ]);
  const { port } = await cli.listening();
  const peer = await connect(port);
  peer.sendLine('shout this');
  expect(await peer.line()).toBe('UPPER SHOUT THIS');
  peer.sendLine('quit');
  expect(await peer.rest()).toEqual([]);
  cli.child.kill('SIGTERM');
  expect(await cli.finished()).toEqual({ code: 0, signal: null });
});

test('--require of a module that cannot be found exits 2', async () => {
  const cli = new CliProcess(['--require', './no/such/module.js', '--port', '0']);
  expect((await cli.finished()).code).toBe(2);
  expect(cli.stderr).toContain('--require ./no/such/module.js: cannot find this module');
});

test('a port already in use: the error on stderr, exit code 1', async () => {
  const taken = net.createServer();
  servers.push(taken);
  taken.listen(0, '127.0.0.1');
  await once(taken, 'listening');
  const port = (taken.address() as net.AddressInfo).port;
  const cli = new CliProcess(['--port', String(port)]);
  expect(await cli.finished()).toEqual({ code: 1, signal: null });
  expect(cli.stderr).toContain(`listen on tcp://127.0.0.1:${port} failed: EADDRINUSE`);
});

test('--addr ::1 prints the IPv6 URL in brackets', async () => {
  const cli = new CliProcess(['--addr', '::1', '--port', '0', '--client', 'command']);
  const { url, host, port } = await cli.listening();
  expect(host).toBe('::1');
  expect(url).toBe(`tcp://[::1]:${port}`);
  const peer = await connect(port, '::1');
  expect(await peer.line()).toMatch(/^\+OK /);
  cli.child.kill('SIGTERM');
  expect((await cli.finished()).code).toBe(0);
});

test('bad command lines exit 2 and point to --help', async () => {
  const unknown = new CliProcess(['--frobnicate']);
  const badPort = new CliProcess(['--port', '70000']);
  expect((await unknown.finished()).code).toBe(2);
  expect(unknown.stderr).toContain("Unknown option '--frobnicate'");
  expect(unknown.stderr).toContain('--help');
  expect((await badPort.finished()).code).toBe(2);
  expect(badPort.stderr).toContain('option --port must be an integer in 0..65535');
});

test('--help documents the options and the config keys, and exits 0', async () => {
  const cli = new CliProcess(['--help']);
  expect(await cli.finished()).toEqual({ code: 0, signal: null });
  for (const word of ['--config FILE', '--require MODULE', '--port N', '--addr A', '--client NAME', 'Example config']) {
    expect(cli.stdout).toContain(word);
  }
  for (const key of ['addr', 'port', 'socketFamily', 'ipv6Only', 'listenBacklog', 'clientClass', 'banner', 'bannerTooBusy', 'lineEnd', 'maxClients']) {
    expect(cli.stdout).toMatch(new RegExp(`^  ${key} `, 'm'));
  }
  expect(cli.stderr).toBe('');
});
