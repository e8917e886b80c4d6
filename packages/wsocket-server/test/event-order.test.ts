import { TWSocketClient, TWSocketServer } from '@ics-ts/wsocket-server';
import { EchoClient, Peer, connectClient, disconnects, once, startServer, track } from './helpers';

describe('events for one connection', () => {
  test('clientCreate -> clientConnect -> banner -> peer closes -> clientDisconnect, then gone', async () => {
    const server = await startServer({ banner: 'hello' });
    const log: string[] = [];
    let created: TWSocketClient | undefined;

    server.on('clientCreate', (client) => {
      created = client;
      log.push('clientCreate');
      // Before the socket is attached: not connected, but the server facts are set.
      expect(client.state).toBe('closed');
      expect(client.rawSocket).toBeUndefined();
      expect(client.server).toBe(server);
      expect(client.cliId).toBe(1);
      expect(client.multiListenIndex).toBe(-1);
      expect(server.isClient(client)).toBe(true);
      expect(server.clientCount).toBe(1);
    });
    server.on('clientConnect', (client) => {
      log.push('clientConnect');
      expect(client).toBe(created);
      expect(client.state).toBe('connected');
      expect(client.rawSocket).toBeDefined();
    });
    let disconnects = 0;
    server.on('clientDisconnect', (client, error) => {
      disconnects++;
      log.push('clientDisconnect');
      expect(client).toBe(created);
      expect(error).toBeUndefined();
      // Still in the list during the event...
      expect(server.isClient(client)).toBe(true);
      expect(server.clients).toContain(client);
      expect(server.clientCount).toBe(1);
      // ... and gone right after it.
      queueMicrotask(() => {
        log.push(`after: isClient=${server.isClient(client)} count=${server.clientCount}`);
      });
    });

    const peer = await Peer.connect(server.bindPort);
    expect(await peer.nextLine()).toBe('hello');
    log.push('banner');
    expect(peer.received).toBe('hello\r\n');
    const gone = once(server, 'clientDisconnect');
    await peer.end();
    await gone;
    await Promise.resolve();

    expect(log).toEqual([
      'clientCreate',
      'clientConnect',
      'banner',
      'clientDisconnect',
      'after: isClient=false count=0',
    ]);
    expect(disconnects).toBe(1);
    expect(server.clients).toEqual([]);
    expect(created!.state).toBe('closed');
    expect(peer.error).toBeUndefined();
  });

  test('clientDisconnect fires exactly once when the server closes the client', async () => {
    const server = await startServer({ clientClass: EchoClient });
    const seen = new Map<TWSocketClient, number>();
    server.on('clientDisconnect', (client) => seen.set(client, (seen.get(client) ?? 0) + 1));
    const { peer, client } = await connectClient(server);
    const gone = disconnects(server, 1);
    client.close();
    await gone;
    await peer.closed;
    expect(peer.sawEnd).toBe(true);
    expect(peer.error).toBeUndefined();
    // A round trip on another connection: a late second event would have come by now.
    const other = await connectClient(server);
    expect(await other.peer.ask('x')).toBe('echo x');
    expect([...seen.values()]).toEqual([1]);
    expect(seen.get(client)).toBe(1);
  });

  test('clientDisconnect carries the error of a connection reset by the peer', async () => {
    const server = await startServer({ clientClass: EchoClient });
    const peer = await Peer.connect(server.bindPort);
    expect(await peer.ask('a')).toBe('echo a');
    const gone = once(server, 'clientDisconnect');
    peer.socket.resetAndDestroy();
    const [client, error] = await gone;
    expect(server.isClient(client)).toBe(false); // once() resolves after the event: already removed
    // (Node's own errors come from another realm than jest's Error: check the code.)
    expect(error).toBeDefined();
    expect((error as NodeJS.ErrnoException).code).toBe('ECONNRESET');
  });

  test('changeState: closed -> listening -> closed', async () => {
    const server = track(new TWSocketServer({ addr: '127.0.0.1', port: 0 }));
    const states: string[] = [];
    server.on('changeState', (state, previous) => states.push(`${previous}->${state}`));
    expect(server.state).toBe('closed');
    await server.listen();
    expect(server.state).toBe('listening');
    await server.close();
    expect(server.state).toBe('closed');
    await server.close(); // no second event
    expect(states).toEqual(['closed->listening', 'listening->closed']);
  });
});
