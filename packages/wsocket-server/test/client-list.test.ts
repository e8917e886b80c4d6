import { TWSocketClient } from '@ics-ts/wsocket-server';
import { EchoClient, Peer, connectClient, disconnects, once, startServer } from './helpers';

describe('the client list', () => {
  test('clients in connection order, client(i), isClient, cliId 1, 2, 3...', async () => {
    const server = await startServer({ clientClass: EchoClient });
    expect(server.clients).toEqual([]);
    expect(server.client(0)).toBeUndefined();
    const made = [];
    for (let i = 0; i < 3; i++) made.push(await connectClient(server));
    const [a, b, c] = made.map((m) => m.client);
    expect(server.clients).toEqual([a, b, c]);
    expect(server.clientCount).toBe(3);
    expect([a.cliId, b.cliId, c.cliId]).toEqual([1, 2, 3]);
    expect(server.client(0)).toBe(a);
    expect(server.client(2)).toBe(c);
    expect(server.client(3)).toBeUndefined();
    expect(server.client(-1)).toBeUndefined();
    expect(server.client(1.5)).toBeUndefined();
    expect(server.isClient(b)).toBe(true);
    expect(server.isClient(new EchoClient())).toBe(false);
    expect(server.isClient(undefined)).toBe(false);
    expect(server.isClient({})).toBe(false);

    // Indexes shift when a client leaves; cliIds never repeat.
    const snapshot = server.clients;
    const gone = disconnects(server, 1);
    await made[1].peer.end();
    await gone;
    expect(snapshot).toEqual([a, b, c]); // an earlier snapshot is not changed
    expect(server.clients).toEqual([a, c]);
    expect(server.client(1)).toBe(c);
    expect(server.isClient(b)).toBe(false);
    const d = await connectClient(server);
    expect(d.client.cliId).toBe(4);
    expect(server.clients).toEqual([a, c, d.client]);
  });

  test('cliIds are per server', async () => {
    const s1 = await startServer();
    const s2 = await startServer();
    expect((await connectClient(s1)).client.cliId).toBe(1);
    expect((await connectClient(s2)).client.cliId).toBe(1);
    expect((await connectClient(s1)).client.cliId).toBe(2);
  });

  test('peerAddr/peerPort of a client are cached and stay valid in clientDisconnect', async () => {
    const server = await startServer({ clientClass: EchoClient });
    const { peer, client } = await connectClient(server);
    const seen = once(server, 'clientDisconnect');
    let inEvent: [string, number] | undefined;
    server.on('clientDisconnect', (c) => {
      inEvent = [c.peerAddr, c.peerPort];
    });
    await peer.end();
    await seen;
    expect(inEvent).toEqual(['127.0.0.1', peer.localPort]);
    expect(client.peerPort).toBe(peer.localPort);
  });
});

describe('disconnect, disconnectAll, close, shutdown', () => {
  test('disconnect(client) resolves after clientDisconnect and removal', async () => {
    const server = await startServer({ clientClass: EchoClient });
    const a = await connectClient(server);
    const b = await connectClient(server);
    const log: string[] = [];
    server.on('clientDisconnect', (client) => log.push(`disconnect ${client.cliId}`));
    await server.disconnect(a.client);
    log.push('resolved');
    expect(log).toEqual(['disconnect 1', 'resolved']);
    expect(server.isClient(a.client)).toBe(false);
    expect(server.clients).toEqual([b.client]);
    await a.peer.closed;
    await expect(server.disconnect(a.client)).resolves.toBeUndefined(); // not a client any more
    expect(await b.peer.ask('b')).toBe('echo b');
    expect(server['list']['waiters'].size).toBe(0);
  });

  test('disconnect called twice for the same client resolves both', async () => {
    const server = await startServer({ clientClass: EchoClient });
    const { client } = await connectClient(server);
    let events = 0;
    server.on('clientDisconnect', () => events++);
    await Promise.all([server.disconnect(client), server.disconnect(client)]);
    expect(events).toBe(1);
    expect(server.clientCount).toBe(0);
    expect(server['list']['waiters'].size).toBe(0);
  });

  test('disconnect(client) inside clientConnect: no banner, clientDisconnect follows, promise resolves', async () => {
    const server = await startServer({ clientClass: EchoClient, banner: 'never' });
    const log: string[] = [];
    let done: Promise<void> | undefined;
    server.once('clientConnect', (client) => {
      done = server.disconnect(client).then(() => {
        log.push('resolved');
      });
    });
    server.on('clientDisconnect', () => log.push('disconnect'));
    const peer = await Peer.connect(server.bindPort);
    await peer.closed;
    await done;
    expect(log).toEqual(['disconnect', 'resolved']);
    expect(peer.received).toBe('');
    expect(server.clientCount).toBe(0);
  });

  test('disconnectAll ends every client', async () => {
    const server = await startServer({ clientClass: EchoClient });
    const pairs = [];
    for (let i = 0; i < 4; i++) pairs.push(await connectClient(server));
    let events = 0;
    server.on('clientDisconnect', () => events++);
    await server.disconnectAll();
    expect(events).toBe(4);
    expect(server.clientCount).toBe(0);
    await Promise.all(pairs.map((p) => p.peer.closed));
    // Still listening: a new client is served.
    expect(server.state).toBe('listening');
    const next = await connectClient(server);
    expect(await next.peer.ask('n')).toBe('echo n');
  });

  test('close() stops listening (ECONNREFUSED) but keeps connected clients working', async () => {
    const server = await startServer({ clientClass: EchoClient });
    const port = server.bindPort;
    const { peer } = await connectClient(server);
    await server.close();
    expect(server.state).toBe('closed');
    expect(server.bindPort).toBe(0);
    await expect(Peer.connect(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(await peer.ask('still')).toBe('echo still');
    expect(server.clientCount).toBe(1);
  });

  test('listen() again after close() serves again', async () => {
    const server = await startServer({ clientClass: EchoClient });
    await server.close();
    await server.listen();
    expect(server.state).toBe('listening');
    const { peer } = await connectClient(server);
    expect(await peer.ask('again')).toBe('echo again');
  });

  test('shutdown() stops listening, ends every client gracefully and resolves', async () => {
    class Goodbye extends EchoClient {
      protected override onSessionClosed(): void {
        closedIds.push(this.cliId);
      }
    }
    const closedIds: number[] = [];
    const server = await startServer({ clientClass: Goodbye });
    const port = server.bindPort;
    const pairs = [];
    for (let i = 0; i < 3; i++) pairs.push(await connectClient(server));
    // A send just before shutdown is flushed (graceful), not dropped.
    pairs[0].client.sendLine('last words');
    let events = 0;
    server.on('clientDisconnect', () => events++);
    await server.shutdown();
    expect(events).toBe(3);
    expect(closedIds.sort()).toEqual([1, 2, 3]);
    expect(server.clientCount).toBe(0);
    expect(server.state).toBe('closed');
    await Promise.all(pairs.map((p) => p.peer.closed));
    expect(pairs[0].peer.received).toBe('last words\r\n');
    for (const { peer } of pairs) {
      expect(peer.sawEnd).toBe(true);
      expect(peer.error).toBeUndefined();
    }
    await expect(Peer.connect(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  test('shutdown() aborts clients whose peer does not close in time', async () => {
    const server = await startServer({ clientClass: EchoClient });
    // A half-open peer: it does not end its side when the server ends.
    const { peer } = await connectClient(server, '127.0.0.1', { allowHalfOpen: true });
    await server.shutdown(50); // the graceful close cannot finish: the peer keeps its side open
    await peer.ended;
    await peer.end();
    expect(server.clientCount).toBe(0);
  });

  test('shutdown() with no client resolves at once; shutdown twice is fine', async () => {
    const server = await startServer();
    await server.shutdown();
    await server.shutdown();
    expect(server.state).toBe('closed');
  });

  test('shutdown() also settles connections turned away as too busy', async () => {
    const server = await startServer<TWSocketClient>({ maxClients: 1 });
    await connectClient(server);
    const peer = await Peer.connect(server.bindPort, '127.0.0.1', { allowHalfOpen: true });
    await peer.ended; // busy banner and FIN came; our side stays open
    expect(peer.received).toBe('Sorry, too many clients\r\n');
    expect(server['tooBusyStage'].sockets.size).toBe(1);
    await server.shutdown(50);
    expect(server['tooBusyStage'].sockets.size).toBe(0);
    const closed = peer.end();
    await closed;
  });
});
