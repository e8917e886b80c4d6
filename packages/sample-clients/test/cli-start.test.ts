import * as net from 'node:net';
import { TWSocketServer } from '@ics-ts/wsocket-server';
import { CliIO, startCli } from '../src/cli';
import { LineClient } from './support/line-client';

/** startCli in this process: the wiring of arguments, config, registry and server, without a child process. */

interface Captured extends CliIO {
  out: jest.Mock<void, [string]>;
  err: jest.Mock<void, [string]>;
}

function io(): Captured {
  return { out: jest.fn(), err: jest.fn(), cwd: process.cwd() };
}

const servers: TWSocketServer[] = [];
const peers: LineClient[] = [];
afterEach(async () => {
  for (const peer of peers.splice(0)) peer.destroy();
  await Promise.all(servers.splice(0).map((server) => server.shutdown()));
});

test('--help prints the help and ends with 0', async () => {
  const out = io();
  expect(await startCli(['--help'], out)).toEqual({ exitCode: 0 });
  expect(out.out.mock.calls[0][0]).toMatch(/^Usage: ics-ts-server/);
  expect(out.err).not.toHaveBeenCalled();
});

test('a usage error ends with 2 and points to --help', async () => {
  const out = io();
  expect(await startCli(['--nope'], out)).toEqual({ exitCode: 2 });
  expect(out.err.mock.calls.map((c) => c[0])).toEqual([expect.stringContaining("Unknown option '--nope'"), 'Try ics-ts-server --help']);
});

test('an unregistered --client ends with 2, naming the registered classes', async () => {
  const out = io();
  expect(await startCli(['--client', 'nope', '--port', '0'], out)).toEqual({ exitCode: 2 });
  expect(out.err.mock.calls[0][0]).toBe(
    'ics-ts-server: command line: option --client: no client class is registered as "nope" ' +
      '(registered: chat, command, daytime, echo; --require the module that registers it)',
  );
});

test('listening: prints the URL with the real port, then a line per connection', async () => {
  const out = io();
  const start = await startCli(['--port', '0', '--client', 'echo'], out);
  const server = start.server!;
  servers.push(server);
  expect(server.addr).toBe('127.0.0.1');
  expect(server.banner).toBe(''); // --client without --config: not the chat demo's banner
  expect(out.out.mock.calls).toEqual([[`listening tcp://127.0.0.1:${server.bindPort}`]]);

  const connected = new Promise((resolve) => server.once('clientConnect', resolve));
  const peer = new LineClient(server.bindPort);
  peers.push(peer);
  await connected;
  expect(out.out.mock.calls[1][0]).toBe(`client 1 connected from 127.0.0.1:${peer.socket.localPort} (1 now)`);
});

test('a port in use ends with 1 and the listen error', async () => {
  const taken = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => taken.once('listening', resolve));
  const port = (taken.address() as net.AddressInfo).port;
  try {
    const out = io();
    expect(await startCli(['--port', String(port)], out)).toEqual({ exitCode: 1 });
    expect(out.err.mock.calls[0][0]).toContain(`listen on tcp://127.0.0.1:${port} failed: EADDRINUSE`);
  } finally {
    taken.close();
  }
});
