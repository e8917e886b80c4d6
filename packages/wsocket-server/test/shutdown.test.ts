/**
 * Graceful shutdown on real sockets: every client is told (onShutdown, the
 * notice), what was sent is flushed, the peer sees FIN; what is still open at
 * the timeout (or when the signal aborts) is aborted; the result says which.
 */
import { once } from 'node:events';
import * as net from 'node:net';
import { TWSocketClient, TWSocketServer } from '@ics-ts/wsocket-server';
import { EchoClient, Peer, disconnects, startServer, track } from './helpers';

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
    [{ timeout: -1 }, 'shutdown timeout must be an integer number of ms from 0 to 2147483647, got -1'],
    [{ timeout: 2 ** 31 }, 'shutdown timeout must be an integer number of ms from 0 to 2147483647, got 2147483648'],
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

describe('shutdown while clients stream (nothing read is lost)', () => {
  test('50 echo clients streaming: every line the server read is echoed, every peer sees FIN, none sees a reset', async () => {
    const readByClient = new Map<number, number>();
    class CountingEcho extends TWSocketClient {
      constructor() {
        super({ lineMode: true });
      }
      protected override onLine(line: string): void {
        readByClient.set(this.peerPort, (readByClient.get(this.peerPort) ?? 0) + 1);
        this.sendLine(line);
      }
    }
    const server = await startServer<CountingEcho>({ clientClass: CountingEcho });
    const line = `${'x'.repeat(200)}\r\n`;
    const peers = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const socket = net.connect({ port: server.bindPort, host: '127.0.0.1' });
        await once(socket, 'connect');
        let echoedBytes = 0;
        let sent = 0;
        let reset: Error | undefined;
        let sawEnd = false;
        socket.on('data', (chunk: Buffer) => (echoedBytes += chunk.length));
        socket.on('error', (error) => (reset = error));
        socket.on('end', () => (sawEnd = true));
        // Streams until the server's FIN (bounded: at most 20,000 lines).
        const pump = () => {
          while (!sawEnd && !socket.destroyed && sent < 20000) {
            sent++;
            if (!socket.write(line)) return void socket.once('drain', pump);
          }
        };
        pump();
        const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
        const port = socket.localPort!;
        return { port, closed, echoed: () => echoedBytes / line.length, state: () => ({ reset, sawEnd, sent }) };
      }),
    );
    while (server.clientCount < 50) await new Promise((resolve) => setImmediate(resolve));
    // Let every stream get going, then shut down in the middle of it.
    while ([...readByClient.values()].reduce((a, b) => a + b, 0) < 5000) await new Promise((resolve) => setTimeout(resolve, 5));
    // What the server has read from each peer when the shutdown begins: all of it must be answered.
    const readAtShutdown = new Map(server.clients.map((client) => [client.peerPort, client.bytesReceived]));
    const result = await server.shutdown({ timeout: 15000 });
    await Promise.all(peers.map((peer) => peer.closed));
    expect(result).toEqual({ clients: 50, closed: 50, aborted: 0 });
    peers.forEach((peer) => {
      const { reset, sawEnd } = peer.state();
      expect(reset).toBeUndefined();
      expect(sawEnd).toBe(true);
      expect(peer.echoed()).toBe(readByClient.get(peer.port) ?? 0);
      expect(peer.echoed()).toBeGreaterThanOrEqual(Math.floor(readAtShutdown.get(peer.port)! / line.length));
    });
    expect(peers.reduce((sum, peer) => sum + peer.echoed(), 0)).toBeGreaterThanOrEqual(5000);
  }, 40000);
});

describe('clientDefaults: connection life per server and per listener', () => {
  test('idleTimeout from the server closes a silent client; a listener sets its own; the class wins over both', async () => {
    class OwnIdle extends TWSocketClient {
      constructor() {
        super({ idleTimeout: 0 });
      }
    }
    const server = await startServer({
      clientDefaults: { idleTimeout: 300 },
      multiListenSockets: [{ addr: '127.0.0.1', port: 0, clientDefaults: { idleTimeout: 0 } }, { addr: '127.0.0.1', port: 0, clientClass: OwnIdle }],
    });
    const gone = disconnects(server, 1);
    const timedOut = await Peer.connect(server.bindPort);
    const kept = await Peer.connect(server.listenSockets[1].bindPort);
    const own = await Peer.connect(server.listenSockets[2].bindPort);
    await gone;
    await timedOut.closed;
    expect(timedOut.sawEnd).toBe(true);
    expect(server.clientCount).toBe(2);
    expect(server.clients.map((c) => c.idleTimeout)).toEqual([0, 0]);
    expect(kept.error).toBeUndefined();
    expect(own.error).toBeUndefined();
  });

  test('bad clientDefaults are named at construction', () => {
    expect(() => new TWSocketServer({ clientDefaults: { idleTimeout: -5 } })).toThrow(/TWSocketServer: option clientDefaults.*idleTimeout.*-5/);
    expect(() => new TWSocketServer({ clientDefaults: { nope: 1 } as never })).toThrow('TWSocketServer: option clientDefaults has an unknown option "nope"');
    expect(() => new TWSocketServer({ multiListenSockets: [{ addr: '127.0.0.1', port: 0, clientDefaults: { sendLimit: 'big' as never } }] })).toThrow(
      /option multiListenSockets\[0\]\.clientDefaults/,
    );
  });
});
