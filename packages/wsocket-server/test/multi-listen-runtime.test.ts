import type * as net from 'node:net';
import { TWSocketServer } from '@ics-ts/wsocket-server';
import { EchoClient, disconnects, startServer, track } from './helpers';
import { connectTo, occupy, refusedCode, rejection } from './fixtures/multi-listen-support';

afterEach(() => jest.restoreAllMocks());

/** Main on 127.0.0.1, items on 127.0.0.2 and [::1], all port 0, echoing; listening. */
function threeListeners(): Promise<TWSocketServer<EchoClient>> {
  return startServer<EchoClient>({
    clientClass: EchoClient,
    multiListenSockets: [
      { addr: '127.0.0.2', port: 0 },
      { addr: '::1', port: 0 },
    ],
  });
}

/** One connected peer (and its client) per listener, in listener order. */
async function oneClientEach(server: TWSocketServer<EchoClient>) {
  const result = [];
  for (const l of server.listenSockets) result.push(await connectTo(server, l.spec.addr, l.bindPort));
  return result;
}

describe('closing and opening listeners at run time', () => {
  test('closeListenSocket(i): its clients stay and still round-trip; new connects there are refused; the others go on', async () => {
    const server = await threeListeners();
    const ports = server.listenStates.map((s) => s.bindPort);
    const before = await oneClientEach(server);
    const states: string[] = [];
    server.on('changeState', (state) => states.push(state));

    server.closeListenSocket(0);
    expect(server.listenStates.map((s) => s.state)).toEqual(['listening', 'closed', 'listening']);
    expect(server.listenStates[1].bindPort).toBe(0);
    expect(server.listenAllOk).toBe(false);
    expect(server.listenAny).toBe(true);
    expect(server.state).toBe('listening');
    expect(states).toEqual([]);

    expect(await refusedCode('127.0.0.2', ports[1])).toBe('ECONNREFUSED');
    expect(server.clientCount).toBe(3);
    for (const [i, { peer }] of before.entries()) expect(await peer.ask(`still ${i}`)).toBe(`echo still ${i}`);
    // The other listeners still accept.
    const late = await connectTo(server, '::1', ports[2]);
    expect(late.client.multiListenIndex).toBe(1);
    expect(await late.peer.ask('late')).toBe('echo late');
  });

  test('openListenSocket(i) re-opens a closed listener; its new clients carry its index', async () => {
    const server = await threeListeners();
    const kept = await connectTo(server, '127.0.0.2', server.listenStates[1].bindPort);
    server.closeListenSocket(0);
    await server.openListenSocket(0);
    const reopened = server.listenStates[1];
    expect(reopened.state).toBe('listening');
    expect(reopened.port).toBe(0); // as asked: port 0, so the system picked again
    expect(reopened.bindPort).toBeGreaterThan(0);
    expect(server.listenAllOk).toBe(true);
    const fresh = await connectTo(server, '127.0.0.2', reopened.bindPort);
    expect(fresh.client.multiListenIndex).toBe(0);
    expect(await fresh.peer.ask('again')).toBe('echo again');
    expect(await kept.peer.ask('kept')).toBe('echo kept');
    // Opening one that listens already is a no-op.
    await server.openListenSocket(0);
    expect(server.listenStates[1].bindPort).toBe(reopened.bindPort);
  });

  test('a listener with a fixed port re-opens on that port', async () => {
    const spare = await occupy('127.0.0.3');
    await spare.release();
    const server = track(
      new TWSocketServer({ addr: '127.0.0.1', port: 0, multiListenSockets: [{ addr: '127.0.0.3', port: spare.port }] }),
    );
    await server.listen();
    server.closeListenSocket(0);
    expect(await refusedCode('127.0.0.3', spare.port)).toBe('ECONNREFUSED');
    await server.openListenSocket(0);
    expect(server.listenStates[1]).toMatchObject({ port: spare.port, bindPort: spare.port, state: 'listening' });
    const { client } = await connectTo(server, '127.0.0.3', spare.port);
    expect(client.multiListenIndex).toBe(0);
  });

  test('closeListenSocket(-1) closes only the main listener', async () => {
    const server = await threeListeners();
    const mainPort = server.bindPort;
    server.closeListenSocket(-1);
    expect(server.listenStates.map((s) => s.state)).toEqual(['closed', 'listening', 'listening']);
    expect(server.bindPort).toBe(0);
    expect(await refusedCode('127.0.0.1', mainPort)).toBe('ECONNREFUSED');
    const { client } = await connectTo(server, '127.0.0.2', server.listenStates[1].bindPort);
    expect(client.multiListenIndex).toBe(0);
  });

  test('closing the last listening one: the server is closed; opening one: listening again', async () => {
    const server = await threeListeners();
    const states: string[] = [];
    server.on('changeState', (state) => states.push(state));
    server.closeListenSocket(1);
    server.closeListenSocket(-1);
    expect(server.state).toBe('listening');
    server.closeListenSocket(0);
    expect(server.state).toBe('closed');
    expect(server.listenAny).toBe(false);
    await server.openListenSocket(1);
    expect(server.state).toBe('listening');
    expect(states).toEqual(['closed', 'listening']);
  });

  test('close() stops every listener and disconnects nobody; listen() opens them all again', async () => {
    const server = await threeListeners();
    const ports = server.listenStates.map((s) => s.bindPort);
    const connected = await oneClientEach(server);
    let gone = 0;
    server.on('clientDisconnect', () => gone++);
    await server.close();
    expect(server.state).toBe('closed');
    expect(server.listenStates.map((s) => s.state)).toEqual(['closed', 'closed', 'closed']);
    expect(await refusedCode('127.0.0.1', ports[0])).toBe('ECONNREFUSED');
    expect(await refusedCode('127.0.0.2', ports[1])).toBe('ECONNREFUSED');
    expect(await refusedCode('::1', ports[2])).toBe('ECONNREFUSED');
    for (const [i, { peer }] of connected.entries()) expect(await peer.ask(`after ${i}`)).toBe(`echo after ${i}`);
    expect(server.clientCount).toBe(3);
    expect(gone).toBe(0);

    await server.listen();
    expect(server.listenAllOk).toBe(true);
    const again = await oneClientEach(server);
    expect(again.map((c) => c.client.multiListenIndex)).toEqual([-1, 0, 1]);
    expect(server.clientCount).toBe(6);
  });

  test('no such listener: RangeError naming the valid range', async () => {
    const server = await threeListeners();
    expect(() => server.closeListenSocket(2)).toThrow(RangeError);
    expect(() => server.closeListenSocket(-2)).toThrow(/no listener -2 \(-1 is the main one, 0\.\.1 the others\)/);
    await expect(server.openListenSocket(1.5)).rejects.toThrow(RangeError);
  });
});

describe('addListenSocket at run time', () => {
  test('adds and opens a listener: next index, in listenStates, its clients carry its index', async () => {
    const server = await threeListeners();
    const before = await connectTo(server, '127.0.0.1', server.bindPort);
    const added = await server.addListenSocket({ addr: '127.0.0.3', port: 0 });
    expect(added.index).toBe(2);
    expect(added.state).toBe('listening');
    expect(server.listenSockets).toHaveLength(4);
    expect(server.listenSockets[3]).toBe(added);
    expect(server.listenStates[3]).toEqual({
      index: 2,
      addr: '127.0.0.3',
      port: 0,
      bindPort: added.bindPort,
      tls: false,
      state: 'listening',
    });
    const { peer, client } = await connectTo(server, '127.0.0.3', added.bindPort);
    expect(client.multiListenIndex).toBe(2);
    expect(client.localAddr).toBe('127.0.0.3');
    expect(await peer.ask('new')).toBe('echo new');
    expect(await before.peer.ask('old')).toBe('echo old');
    // It is one of the listeners now: close/open by index, close() and listen() include it.
    server.closeListenSocket(2);
    expect(await refusedCode('127.0.0.3', added.bindPort)).toBe('ECONNREFUSED');
    await server.openListenSocket(2);
    expect(added.state).toBe('listening');
    await server.close();
    expect(added.state).toBe('closed');
    await server.listen();
    expect(added.state).toBe('listening');
  });

  test('on a server that was never started: opens that listener only', async () => {
    const server = track(new TWSocketServer({ addr: '127.0.0.1', port: 0, clientClass: EchoClient }));
    const added = await server.addListenSocket({ addr: '::1', port: 0 });
    expect(server.state).toBe('listening');
    expect(server.listenStates.map((s) => s.state)).toEqual(['closed', 'listening']);
    expect(server.listenAny).toBe(true);
    expect(server.listenAllOk).toBe(false);
    const { client } = await connectTo(server, '::1', added.bindPort);
    expect(client.multiListenIndex).toBe(0);
  });

  test('a bad item is rejected naming its would-be index; nothing is added', async () => {
    const server = await threeListeners();
    await expect(server.addListenSocket({ addr: '127.0.0.3', port: 70000 })).rejects.toThrow(
      /multiListenSockets\[2\]\.port must be an integer in 0\.\.65535, got 70000/,
    );
    await expect(
      server.addListenSocket({ addr: '127.0.0.3', port: 0, bogus: 1 } as unknown as { addr: string; port: number }),
    ).rejects.toThrow(/unknown option multiListenSockets\[2\]\.bogus/);
    expect(server.listenSockets).toHaveLength(3);
  });

  test('a listener that cannot open (port taken) is rejected with the address; nothing is added', async () => {
    const server = await threeListeners();
    const taken = await occupy('127.0.0.3');
    try {
      const error = await rejection(server.addListenSocket({ addr: '127.0.0.3', port: taken.port }));
      expect(error.code).toBe('EADDRINUSE');
      expect(error.message).toContain(`127.0.0.3:${taken.port}`);
      expect(server.listenSockets).toHaveLength(3);
      expect(server.listenAllOk).toBe(true);
      // The next one gets the next index.
      const next = await server.addListenSocket({ addr: '127.0.0.3', port: 0 });
      expect(next.index).toBe(2);
    } finally {
      await taken.release();
    }
  });

  test('two added at once get distinct indexes, in call order', async () => {
    const server = await threeListeners();
    const [a, b] = await Promise.all([
      server.addListenSocket({ addr: '127.0.0.3', port: 0 }),
      server.addListenSocket({ addr: '127.0.0.4', port: 0 }),
    ]);
    expect([a.index, b.index]).toEqual([2, 3]);
    expect(server.listenSockets.slice(3)).toEqual([a, b]);
    const viaA = await connectTo(server, '127.0.0.3', a.bindPort);
    const viaB = await connectTo(server, '127.0.0.4', b.bindPort);
    expect([viaA.client.multiListenIndex, viaB.client.multiListenIndex]).toEqual([2, 3]);
    server.closeListenSocket(3);
    expect(b.state).toBe('closed');
    expect(a.state).toBe('listening');
  });

  test('close() while an add is opening: the add is aborted, nothing is left listening', async () => {
    const server = await threeListeners();
    const queued = server.addListenSocket({ addr: '127.0.0.3', port: 0 });
    const behind = server.addListenSocket({ addr: '127.0.0.4', port: 0 });
    await server.close();
    await expect(queued).rejects.toThrow(/tcp:\/\/127\.0\.0\.3:0 aborted: the server was closed meanwhile/);
    await expect(behind).rejects.toThrow(/tcp:\/\/127\.0\.0\.4:0 aborted/);
    expect(server.listenSockets).toHaveLength(3);
    expect(server.listenAny).toBe(false);
    expect(server.state).toBe('closed');
    // Later adds still work and take the next index.
    const next = await server.addListenSocket({ addr: '127.0.0.3', port: 0 });
    expect(next.index).toBe(2);
  });

  test.each([
    ['before it is bound', 'created'],
    ['once it is bound, before the add resumes', 'listening'],
  ] as const)('close() while an add is opening its socket (%s): the add is aborted, nothing listens', async (_when, moment) => {
    const server = await threeListeners();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const netModule = require('node:net') as typeof net;
    const createServer = netModule.createServer;
    let made: net.Server | undefined;
    let closing: Promise<void> | undefined;
    jest.spyOn(netModule, 'createServer').mockImplementationOnce(((...args: Parameters<typeof net.createServer>) => {
      made = createServer(...args);
      if (moment === 'created') queueMicrotask(() => (closing = server.close()));
      else made.once('listening', () => (closing = server.close()));
      return made;
    }) as typeof net.createServer);
    const error = await rejection(server.addListenSocket({ addr: '127.0.0.3', port: 0 }));
    await closing;
    expect(error.message).toMatch(/aborted/);
    expect(server.listenSockets).toHaveLength(3);
    expect(server.state).toBe('closed');
    expect(made).toBeDefined();
    expect(made!.listening).toBe(false);
  });

  test('clients of a closed listener end normally (clientDisconnect once each)', async () => {
    const server = await threeListeners();
    const { peer } = await connectTo(server, '127.0.0.2', server.listenStates[1].bindPort);
    server.closeListenSocket(0);
    const gone = disconnects(server, 1);
    await peer.end();
    await gone;
    expect(server.clientCount).toBe(0);
  });
});
