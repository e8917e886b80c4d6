/**
 * Graceful shutdown on real sockets: every client is told (onShutdown, the
 * notice), what was sent is flushed, the peer sees FIN; what is still open at
 * the timeout (or when the signal aborts) is aborted; the result says which.
 */
import { TWSocketClient, TWSocketServer } from '@ics-ts/wsocket-server';
import { EchoClient, Peer, startServer, track } from './helpers';

describe('shutdown({ notice, timeout, signal })', () => {
  test('every client gets the notice, then a FIN; the result counts them', async () => {
    const server = await startServer({ clientClass: EchoClient, banner: 'hi' });
    const peers = await Promise.all([0, 1, 2].map(() => Peer.connect(server.bindPort)));
    for (const peer of peers) expect(await peer.nextLine()).toBe('hi');
    const result = await server.shutdown({ notice: '421 Service closing', timeout: 5000 });
    expect(result).toEqual({ clients: 3, closed: 3, aborted: 0 });
    for (const peer of peers) {
      expect(await peer.nextLine()).toBe('421 Service closing');
      await peer.closed;
      expect(peer.sawEnd).toBe(true);
      expect(peer.error).toBeUndefined();
    }
    expect(server.state).toBe('closed');
  });

  test('onShutdown is overridable (a chat announces it its own way); an exception there aborts that client only', async () => {
    class Announcing extends TWSocketClient {
      protected override onShutdown(notice: string | undefined): void {
        this.sendLine(`* server going down: ${notice ?? 'no reason'}`);
        if (this.cliId === 2) throw new Error('announce failed');
      }
    }
    const server = await startServer({ clientClass: Announcing });
    const errors: unknown[] = [];
    server.on('bgException', (error) => errors.push(error));
    const a = await Peer.connect(server.bindPort);
    const b = await Peer.connect(server.bindPort);
    while (server.clientCount < 2) await new Promise((resolve) => setImmediate(resolve));
    const result = await server.shutdown({ notice: 'maintenance' });
    expect(await a.nextLine()).toBe('* server going down: maintenance');
    await a.closed;
    await b.closed;
    expect((errors[0] as Error).message).toBe('announce failed');
    expect(result.clients).toBe(2);
  });

  test('a peer that keeps its side open is aborted at the timeout; the result says so', async () => {
    const server = await startServer({ clientClass: EchoClient });
    const lingering = await Peer.connect(server.bindPort, '127.0.0.1', { allowHalfOpen: true });
    const polite = await Peer.connect(server.bindPort);
    while (server.clientCount < 2) await new Promise((resolve) => setImmediate(resolve));
    const result = await server.shutdown({ timeout: 100 });
    expect(result).toEqual({ clients: 2, closed: 1, aborted: 1 });
    await lingering.ended; // our FIN came; the peer keeps its own side open, its connection is gone on our side
    await polite.closed;
    expect(server.clientCount).toBe(0);
  });

  test('an aborted signal cuts the graceful part short', async () => {
    const server = await startServer({ clientClass: EchoClient });
    await Peer.connect(server.bindPort, '127.0.0.1', { allowHalfOpen: true });
    while (server.clientCount < 1) await new Promise((resolve) => setImmediate(resolve));
    const controller = new AbortController();
    const done = server.shutdown({ timeout: 60000, signal: controller.signal });
    setImmediate(() => controller.abort());
    expect(await done).toEqual({ clients: 1, closed: 0, aborted: 1 });
  });

  test('await using: Symbol.asyncDispose shuts the server down', async () => {
    let port = 0;
    let peer: Peer;
    {
      await using server = track(new TWSocketServer({ addr: '127.0.0.1', port: 0, clientClass: EchoClient }));
      await server.listen();
      port = server.bindPort;
      peer = await Peer.connect(port);
    }
    await peer.closed;
    expect(peer.sawEnd).toBe(true);
    await expect(Peer.connect(port)).rejects.toThrow(/ECONNREFUSED/);
  });

  test.each([
    [{ timeout: -1 }, 'shutdown timeout must be an integer >= 0, got -1'],
    [{ notice: 42 }, 'shutdown notice must be a string, got 42'],
    [{ signal: 'stop' }, 'shutdown option signal must be an AbortSignal, got "stop"'],
    ['soon', 'shutdown options must be an object or a timeout in ms, got "soon"'],
  ])('bad options %j are named', async (options, message) => {
    const server = track(new TWSocketServer({ addr: '127.0.0.1', port: 0 }));
    await expect(server.shutdown(options as never)).rejects.toThrow(message);
  });
});

describe('listen({ signal })', () => {
  test('an aborted signal refuses to listen', async () => {
    const server = track(new TWSocketServer({ addr: '127.0.0.1', port: 0 }));
    const controller = new AbortController();
    controller.abort(new Error('changed my mind'));
    await expect(server.listen({ signal: controller.signal })).rejects.toThrow('changed my mind');
    expect(server.state).toBe('closed');
  });

  test('aborting while a listen is under way closes what was opened and rejects with an AbortError', async () => {
    const server = track(
      new TWSocketServer({ addr: '127.0.0.1', port: 0, multiListenSockets: [{ addr: '127.0.0.1', port: 0 }, { addr: '::1', port: 0 }] }),
    );
    const controller = new AbortController();
    const listening = server.listen({ signal: controller.signal });
    controller.abort();
    const error = await listening.catch((e: Error) => e);
    expect(error).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    expect(server.listenAny).toBe(false);
    // Nothing is left listening on the ports it had bound.
    for (const listener of server.listenSockets) expect(listener.state).not.toBe('listening');
  });

  test('a signal that is not an AbortSignal is named', async () => {
    const server = track(new TWSocketServer({ addr: '127.0.0.1', port: 0 }));
    await expect(server.listen({ signal: {} as AbortSignal })).rejects.toThrow('option signal must be an AbortSignal, got {}');
  });
});
