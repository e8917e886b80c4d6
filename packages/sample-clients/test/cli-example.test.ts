import * as net from 'node:net';
import { parseCliArgs, UsageError } from '../src/cli-args';
import { CliProcess } from './support/cli-process';

/**
 * `ics-ts-server --example xojo|totalcross|air`: the seeds' example servers
 * (@ics-ts/server-socket), each run as a user runs the CLI (a child process)
 * and spoken to with a real socket.
 */

// Each process compiles the sources on start: a safety net for slow machines, not a timing check.
jest.setTimeout(60_000);

const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await CliProcess.killAll();
});

/** A raw TCP peer collecting what it receives. */
function connect(port: number): { socket: net.Socket; received: () => string; waitFor: (text: string) => Promise<void> } {
  const socket = net.connect(port, '127.0.0.1');
  sockets.push(socket);
  socket.setEncoding('utf8');
  let text = '';
  const waiters = new Set<() => void>();
  socket.on('data', (chunk: string) => {
    text += chunk;
    for (const waiter of [...waiters]) waiter();
  });
  return {
    socket,
    received: () => text,
    waitFor: (expected) =>
      new Promise((resolve) => {
        const check = () => {
          if (!text.includes(expected)) return;
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        check();
      }),
  };
}

test('--example takes xojo, totalcross or air, and nothing that brings its own server', () => {
  expect(parseCliArgs(['--example', 'air'])).toMatchObject({ example: 'air' });
  expect(() => parseCliArgs(['--example', 'flash'])).toThrow(new UsageError('option --example: no example named "flash" (xojo, totalcross, air)'));
  expect(() => parseCliArgs(['--example', 'xojo', '--client', 'echo'])).toThrow(
    new UsageError('option --example cannot be given with --client: the example brings its own server'),
  );
  expect(() => parseCliArgs(['--example', 'xojo', '--require', './x.js'])).toThrow(/cannot be given with --require/);
});

test('--example xojo: the pool is made, the ClientSocket greets the client and logs what it got; SIGTERM stops it', async () => {
  const cli = new CliProcess(['--example', 'xojo', '--port', '0']);
  const { port } = await cli.listening();
  expect(cli.lines.slice(0, 2)).toEqual(['Added Socket', 'Added Socket']);
  const peer = connect(port);
  await peer.waitFor('From the server socket, I connected to you.');
  peer.socket.write('Socket 0connected!');
  await cli.waitForLine(/^Socket 0 got: Socket 0connected!$/);
  await cli.waitForLine(/^Socket 0 send complete\.$/);
  cli.child.kill('SIGTERM');
  expect(await cli.finished()).toEqual({ code: 0, signal: null });
});

test('--example totalcross: accept() and echo', async () => {
  const cli = new CliProcess(['--example', 'totalcross', '--port', '0']);
  const { port } = await cli.listening();
  const peer = connect(port);
  peer.socket.write('hello');
  await peer.waitFor('echo: hello');
  await cli.waitForLine(/^got: hello$/);
  cli.child.kill('SIGINT');
  expect(await cli.finished()).toEqual({ code: 0, signal: null });
});

test("--example air: 'Connection from ADDR:PORT', what it got, and Lucy's line back", async () => {
  const cli = new CliProcess(['--example', 'air', '--port', '0']);
  const { port } = await cli.listening();
  expect(cli.lines[0]).toBe(`Bound to: 127.0.0.1:${port}`);
  const peer = connect(port);
  await new Promise((resolve) => peer.socket.once('connect', resolve));
  peer.socket.write('Hello AIR');
  await peer.waitFor("Lucy can't drink milk.");
  await cli.waitForLine(new RegExp(`^Connection from 127\\.0\\.0\\.1:${peer.socket.localPort}$`));
  await cli.waitForLine(/^Received: Hello AIR$/);
  cli.child.kill('SIGTERM');
  expect(await cli.finished()).toEqual({ code: 0, signal: null });
});

test('--example with a port in use ends with 1 and says why', async () => {
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  try {
    const port = (taken.address() as net.AddressInfo).port;
    const cli = new CliProcess(['--example', 'air', '--port', String(port)]);
    expect(await cli.finished()).toEqual({ code: 1, signal: null });
    expect(cli.stderr).toContain(`ics-ts-server: AirServerSocket: cannot bind 127.0.0.1:${port}: the address and port are already bound by another object or process (EADDRINUSE)`);
  } finally {
    taken.close();
  }
});
