import type * as net from 'node:net';
import { TWSocketServer } from '@ics-ts/wsocket-server';
import { EchoClient, Peer, connectClient, startServer, track } from './helpers';

/**
 * Records the net.Servers the package creates (node core modules are shared
 * with the code under test, so spying on the module object sees its calls).
 */
function spyOnCreateServer(): () => net.Server[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const netModule = require('node:net') as typeof net;
  const spy = jest.spyOn(netModule, 'createServer');
  return () => spy.mock.results.map((result) => result.value as net.Server);
}

describe('listening', () => {
  test('port 0: bindPort is the real port after listen, 0 before and after close', async () => {
    const server = track(new TWSocketServer({ addr: '127.0.0.1', port: 0 }));
    expect(server.bindPort).toBe(0);
    await server.listen();
    expect(server.port).toBe(0);
    expect(server.bindPort).toBeGreaterThan(0);
    expect(server.listener.url).toBe(`tcp://127.0.0.1:${server.bindPort}`);
    const peer = await Peer.connect(server.bindPort);
    expect(peer.socket.remotePort).toBe(server.bindPort);
    await server.close();
    expect(server.bindPort).toBe(0);
  });

  test('EADDRINUSE: a second server on the same port rejects with code, address and port', async () => {
    const first = await startServer();
    const port = first.bindPort;
    const second = track(new TWSocketServer({ addr: '127.0.0.1', port }));
    const states: string[] = [];
    second.on('changeState', (state) => states.push(state));
    const error = (await second.listen().then(
      () => undefined,
      (e: unknown) => e,
    )) as NodeJS.ErrnoException;
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe('EADDRINUSE');
    expect(error.message).toContain('127.0.0.1');
    expect(error.message).toContain(String(port));
    expect(second.state).toBe('closed');
    expect(second.listener.state).toBe('failed');
    expect(second.listener.lastError).toBe(error);
    expect(states).toEqual([]);
    // The first one is unharmed.
    const { peer } = await connectClient(first);
    expect(peer.localPort).toBeGreaterThan(0);
  });

  test('listen() twice rejects; the server keeps listening', async () => {
    const server = await startServer({ clientClass: EchoClient });
    await expect(server.listen()).rejects.toThrow(/already listening/);
    expect(server.state).toBe('listening');
    const { peer } = await connectClient(server);
    expect(await peer.ask('x')).toBe('echo x');
  });

  test('listen() twice at once: the second rejects, one listener only', async () => {
    const server = track(new TWSocketServer({ addr: '127.0.0.1', port: 0 }));
    const created = spyOnCreateServer();
    const first = server.listen();
    const second = server.listen();
    await expect(second).rejects.toThrow(/already/);
    await first;
    expect(server.state).toBe('listening');
    expect(created()).toHaveLength(1); // a second net.Server would be left listening, unreachable
    jest.restoreAllMocks();
  });

  test('close() while listen() is under way: listen rejects and nothing stays listening', async () => {
    const server = track(new TWSocketServer({ addr: '127.0.0.1', port: 0 }));
    const created = spyOnCreateServer();
    const listening = server.listen();
    await server.close();
    await expect(listening).rejects.toThrow(/closed before it was listening/);
    expect(server.state).toBe('closed');
    expect(server.listener.state).not.toBe('listening');
    expect(created()).toHaveLength(1);
    expect(created()[0].listening).toBe(false); // the net.Server made for it was closed, not leaked
    jest.restoreAllMocks();
    // It can listen again afterwards.
    await server.listen();
    expect(server.state).toBe('listening');
  });

  test('IPv6: a server on ::1 accepts a client; peerAddr is ::1', async () => {
    const server = await startServer({ addr: '::1', clientClass: EchoClient });
    expect(server.socketFamily).toBe('ipv6');
    expect(server.listener.url).toBe(`tcp://[::1]:${server.bindPort}`);
    const { peer, client } = await connectClient(server, '::1');
    expect(client.peerAddr).toBe('::1');
    expect(client.localAddr).toBe('::1');
    expect(await peer.ask('six')).toBe('echo six');
  });

  test('a client of a dual-stack listener (::) connecting over IPv4 reads as plain IPv4', async () => {
    const server = await startServer({ addr: '::', clientClass: EchoClient });
    const { client } = await connectClient(server, '127.0.0.1');
    expect(client.peerAddr).toBe('127.0.0.1');
    expect(client.peerAddrRaw).toBe('::ffff:127.0.0.1');
  });

  test('ipv6Only on :: leaves the IPv4 side of the port free', async () => {
    const v6 = await startServer({ addr: '::', ipv6Only: true, clientClass: EchoClient });
    const v4 = await startServer({ addr: '127.0.0.1', port: v6.bindPort, clientClass: EchoClient });
    expect(v4.bindPort).toBe(v6.bindPort);
    const a = await connectClient(v4, '127.0.0.1');
    const b = await connectClient(v6, '::1');
    expect(a.client.peerAddr).toBe('127.0.0.1');
    expect(b.client.peerAddr).toBe('::1');
  });
});
