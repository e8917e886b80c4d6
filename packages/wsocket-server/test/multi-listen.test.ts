import type * as net from 'node:net';
import { readFileSync } from 'node:fs';
import { injectable } from 'tsyringe';
import { ConnectionInfo, TWSocketClient, TWSocketServer } from '@ics-ts/wsocket-server';
import { EchoClient, newServer, startServer, track } from './helpers';
import { connectTo, listenOnSharedPort, occupy, refusedCode, rejection } from './fixtures/multi-listen-support';

/** Records the net.Servers the package creates (node:net is shared with the code under test). */
function spyOnCreateServer(): () => net.Server[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const netModule = require('node:net') as typeof net;
  const spy = jest.spyOn(netModule, 'createServer');
  return () => spy.mock.results.map((result) => result.value as net.Server);
}

afterEach(() => jest.restoreAllMocks());

/** Echoes, and keeps the ConnectionInfo it was made with. */
@injectable()
class InfoEchoClient extends EchoClient {
  constructor(readonly info: ConnectionInfo) {
    super();
  }
}

const ADDRS = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '::1'] as const;

describe('multiListenSockets: several listeners at once', () => {
  test('127.0.0.1, .2, .3 and [::1] on one port: each client lands in the one list with its listener index and local address', async () => {
    const { server, port } = await listenOnSharedPort((p) =>
      track(
        new TWSocketServer<InfoEchoClient>({
          addr: '127.0.0.1',
          port: p,
          clientClass: InfoEchoClient,
          multiListenSockets: [
            { addr: '127.0.0.2', port: p },
            { addr: '127.0.0.3', port: p },
            { addr: '::1', port: String(p) },
          ],
        }),
      ),
    );
    expect(server.state).toBe('listening');
    expect(server.listenAllOk).toBe(true);
    expect(server.listenAny).toBe(true);
    expect(server.listenStates).toEqual([
      { index: -1, addr: '127.0.0.1', port, bindPort: port, tls: false, state: 'listening' },
      { index: 0, addr: '127.0.0.2', port, bindPort: port, tls: false, state: 'listening' },
      { index: 1, addr: '127.0.0.3', port, bindPort: port, tls: false, state: 'listening' },
      { index: 2, addr: '::1', port, bindPort: port, tls: false, state: 'listening' },
    ]);
    expect(server.listenSockets.map((l) => l.url)).toEqual([
      `tcp://127.0.0.1:${port}`,
      `tcp://127.0.0.2:${port}`,
      `tcp://127.0.0.3:${port}`,
      `tcp://[::1]:${port}`,
    ]);

    const connections = [];
    for (const host of ADDRS) connections.push(await connectTo(server, host, port));
    expect(server.clientCount).toBe(4);
    expect(server.clients).toEqual(connections.map((c) => c.client));
    expect(server.clients.map((c) => c.multiListenIndex)).toEqual([-1, 0, 1, 2]);
    expect(server.clients.map((c) => c.localAddr)).toEqual([...ADDRS]);
    expect(server.clients.map((c) => c.localPort)).toEqual([port, port, port, port]);
    // The peer's own address is whatever source the system picked for it.
    expect(server.clients.map((c) => c.peerAddr)).toEqual(connections.map((c) => c.peer.socket.localAddress));
    // The same facts were injectable before the socket was attached.
    expect(server.clients.map((c) => c.info.multiListenIndex)).toEqual([-1, 0, 1, 2]);
    expect(server.clients.map((c) => c.info.localAddr)).toEqual([...ADDRS]);
    expect(server.clients.map((c) => c.info.localPort)).toEqual([port, port, port, port]);
    for (const [i, { peer }] of connections.entries()) expect(await peer.ask(`on ${i}`)).toBe(`echo on ${i}`);
  });

  test('port 0 everywhere: every listener reads back the port it was given, and its clients see it', async () => {
    const server = track(
      new TWSocketServer({
        addr: '127.0.0.1',
        port: 0,
        clientClass: EchoClient,
        multiListenSockets: [
          { addr: '127.0.0.2', port: 0 },
          { addr: '127.0.0.3', port: '0' },
          { addr: '::1', port: 0 },
        ],
      }),
    );
    expect(server.listenStates.map((s) => s.bindPort)).toEqual([0, 0, 0, 0]);
    await server.multiListen();
    const states = server.listenStates;
    expect(states.map((s) => s.port)).toEqual([0, 0, 0, 0]);
    for (const s of states) expect(s.bindPort).toBeGreaterThan(0);
    expect(server.listenSockets.map((l) => l.bindPort)).toEqual(states.map((s) => s.bindPort));
    expect(server.bindPort).toBe(states[0].bindPort);
    for (const [i, s] of states.entries()) {
      const { peer, client } = await connectTo(server, ADDRS[i], s.bindPort);
      expect(client.multiListenIndex).toBe(s.index);
      expect(client.localAddr).toBe(ADDRS[i]);
      expect(client.localPort).toBe(s.bindPort);
      expect(await peer.ask('x')).toBe('echo x');
    }
  });

  test('listenStatesText: one line per listener, readable at a glance', async () => {
    const taken = await occupy('127.0.0.3');
    try {
      const server = newServer({
        multiListenSockets: [
          { addr: '::1', port: 0 },
          { addr: '127.0.0.3', port: taken.port },
          { addr: '127.0.0.2', port: 'telnet' },
        ],
      });
      await server.openListenSocket(-1);
      await server.openListenSocket(0);
      await server.openListenSocket(1).catch(() => undefined);
      const [main, v6] = server.listenStates;
      expect(server.listenStatesText().split('\n')).toEqual([
        `main  tcp 127.0.0.1 port 0 (bound ${main.bindPort}): listening`,
        `#0    tcp ::1 port 0 (bound ${v6.bindPort}): listening`,
        expect.stringMatching(
          new RegExp(`^#1    tcp 127\\.0\\.0\\.3 port ${taken.port}: failed \\(listen on tcp://127\\.0\\.0\\.3:${taken.port} failed: EADDRINUSE`),
        ),
        '#2    tcp 127.0.0.2 port 23: closed',
      ]);
    } finally {
      await taken.release();
    }
  });
});

describe('listening policy: strict (listen, multiListen) or lenient (multiListenEx)', () => {
  let taken: { port: number; release(): Promise<void> };
  beforeEach(async () => {
    taken = await occupy('127.0.0.3');
  });
  afterEach(() => taken.release());

  function makeServer(): TWSocketServer<EchoClient> {
    return newServer<EchoClient>({
      clientClass: EchoClient,
      multiListenSockets: [
        { addr: '127.0.0.2', port: 0 },
        { addr: '127.0.0.3', port: taken.port },
        { addr: '::1', port: 0 },
      ],
    });
  }

  test.each(['listen', 'multiListen'] as const)(
    'strict %s(): rejects naming the listener and EADDRINUSE, and closes the ones it had opened',
    async (method) => {
      const server = makeServer();
      const states: string[] = [];
      server.on('changeState', (state) => states.push(state));
      const created = spyOnCreateServer();
      const error = await rejection(server[method]());
      expect(error.code).toBe('EADDRINUSE');
      expect(error.message).toContain(`127.0.0.3:${taken.port}`);
      expect(error.message).toMatch(/EADDRINUSE/);
      expect(server.state).toBe('closed');
      expect(states).toEqual([]);
      expect(server.listenAny).toBe(false);
      expect(server.listenAllOk).toBe(false);
      expect(server.listenStates.map((s) => s.state)).toEqual(['closed', 'closed', 'failed', 'closed']);
      expect(server.listenStates.map((s) => s.bindPort)).toEqual([0, 0, 0, 0]);
      expect(server.listenStates[2].lastError).toBe(error.message);
      expect(server.listenSockets[2].lastError).toBe(error);
      // Main and #0 were opened, then closed again; #2 (after the failure) was never tried.
      expect(created()).toHaveLength(3);
      for (const netServer of created()) expect(netServer.listening).toBe(false);
    },
  );

  test('strict: nothing stays reachable after the failure (the opened ports refuse)', async () => {
    // Fixed ports for the listeners that open, so we can knock on them afterwards.
    const a = await occupy('127.0.0.1');
    const b = await occupy('127.0.0.2');
    await a.release();
    await b.release();
    const server = track(
      new TWSocketServer({
        addr: '127.0.0.1',
        port: a.port,
        multiListenSockets: [
          { addr: '127.0.0.2', port: b.port },
          { addr: '127.0.0.3', port: taken.port },
        ],
      }),
    );
    const error = await rejection(server.listen());
    if (error.message.includes(`127.0.0.3:${taken.port}`)) {
      expect(await refusedCode('127.0.0.1', a.port)).toBe('ECONNREFUSED');
      expect(await refusedCode('127.0.0.2', b.port)).toBe('ECONNREFUSED');
    } else {
      // Another process took a.port or b.port meanwhile: still a named EADDRINUSE.
      expect(error.code).toBe('EADDRINUSE');
    }
  });

  test('lenient multiListenEx(): opens what it can, returns the failure; listenAllOk false, listenAny true', async () => {
    const server = makeServer();
    const failures = await server.multiListenEx();
    expect(failures).toHaveLength(1);
    expect(failures[0].index).toBe(1);
    expect(failures[0].url).toBe(`tcp://127.0.0.3:${taken.port}`);
    expect((failures[0].error as NodeJS.ErrnoException).code).toBe('EADDRINUSE');
    expect(failures[0].error.message).toContain(`127.0.0.3:${taken.port}`);
    expect(server.state).toBe('listening');
    expect(server.listenAllOk).toBe(false);
    expect(server.listenAny).toBe(true);
    const states = server.listenStates;
    expect(states.map((s) => s.state)).toEqual(['listening', 'listening', 'failed', 'listening']);
    expect(states[2]).toEqual({
      index: 1,
      addr: '127.0.0.3',
      port: taken.port,
      bindPort: 0,
      tls: false,
      state: 'failed',
      lastError: failures[0].error.message,
    });
    for (const s of [states[0], states[1], states[3]]) expect(s.lastError).toBeUndefined();
    // The others serve.
    for (const [i, s] of states.entries()) {
      if (s.state !== 'listening') continue;
      const { peer, client } = await connectTo(server, s.addr, s.bindPort);
      expect(client.multiListenIndex).toBe(s.index);
      expect(await peer.ask(`n${i}`)).toBe(`echo n${i}`);
    }

    // A second call only retries what is not listening; once the port is free it succeeds.
    expect(await server.multiListenEx()).toHaveLength(1);
    await taken.release();
    expect(await server.multiListenEx()).toEqual([]);
    expect(server.listenAllOk).toBe(true);
    expect(server.listenStates[2]).toMatchObject({ state: 'listening', bindPort: taken.port });
    expect(server.listenStates[2].lastError).toBeUndefined();
    expect(server.clientCount).toBe(3); // nobody was dropped by the retries
  });

  test('lenient, every listener failing: one failure each, the server stays closed', async () => {
    const v6 = await occupy('::1');
    try {
      const server = track(
        new TWSocketServer({
          addr: '127.0.0.3',
          port: taken.port,
          multiListenSockets: [{ addr: '::1', port: v6.port }],
        }),
      );
      const failures = await server.multiListenEx();
      expect(failures.map((f) => f.index)).toEqual([-1, 0]);
      expect(failures.map((f) => f.url)).toEqual([`tcp://127.0.0.3:${taken.port}`, `tcp://[::1]:${v6.port}`]);
      expect(server.state).toBe('closed');
      expect(server.listenAny).toBe(false);
      expect(server.listenStates.map((s) => s.state)).toEqual(['failed', 'failed']);
    } finally {
      await v6.release();
    }
  });
});

describe('IPv6 listeners', () => {
  test("'::' with ipv6Only and '0.0.0.0' share a port; each family lands on its own listener", async () => {
    const server = track(
      new TWSocketServer({ addr: '::', ipv6Only: true, port: 0, clientClass: EchoClient }),
    );
    await server.listen();
    const port = server.bindPort;
    const v4 = await server.addListenSocket({ addr: '0.0.0.0', port });
    expect(v4.bindPort).toBe(port);
    expect(server.listenStates.map((s) => [s.addr, s.bindPort, s.state])).toEqual([
      ['::', port, 'listening'],
      ['0.0.0.0', port, 'listening'],
    ]);
    const a = await connectTo(server, '127.0.0.1', port);
    const b = await connectTo(server, '::1', port);
    expect([a.client.multiListenIndex, a.client.peerAddr, a.client.peerAddrRaw]).toEqual([0, '127.0.0.1', '127.0.0.1']);
    expect([b.client.multiListenIndex, b.client.peerAddr, b.client.localAddr]).toEqual([-1, '::1', '::1']);
    expect(await a.peer.ask('4')).toBe('echo 4');
    expect(await b.peer.ask('6')).toBe('echo 6');
  });

  test("without ipv6Only, '::' also holds the IPv4 side: '0.0.0.0' on its port fails", async () => {
    // Only where the system default is dual-stack (Linux: net.ipv6.bindv6only = 0).
    let dualStackDefault = true;
    try {
      dualStackDefault = readFileSync('/proc/sys/net/ipv6/bindv6only', 'utf8').trim() === '0';
    } catch {
      // not Linux: assume the usual dual-stack default
    }
    if (!dualStackDefault) return;
    const server = track(new TWSocketServer({ addr: '::', port: 0 }));
    await server.listen();
    const error = await rejection(server.addListenSocket({ addr: '0.0.0.0', port: server.bindPort }));
    expect(error.code).toBe('EADDRINUSE');
    expect(error.message).toContain(`0.0.0.0:${server.bindPort}`);
  });

  test("a dual-stack '::' item: an IPv4 client reads as plain IPv4, the raw form keeps ::ffff:", async () => {
    const server = await startServer<InfoEchoClient>({ clientClass: InfoEchoClient, multiListenSockets: [{ addr: '::', port: 0 }] });
    const port = server.listenSockets[1].bindPort;
    const { peer, client } = await connectTo(server, '127.0.0.1', port);
    expect(client.multiListenIndex).toBe(0);
    expect(client.peerAddr).toBe('127.0.0.1');
    expect(client.peerAddrRaw).toBe('::ffff:127.0.0.1');
    expect(client.localAddr).toBe('127.0.0.1');
    expect(client.localPort).toBe(port);
    expect(client.info.peerAddr).toBe('127.0.0.1');
    expect(client.info.peerAddrRaw).toBe('::ffff:127.0.0.1');
    expect(client.info.localAddr).toBe('127.0.0.1');
    expect(await peer.ask('mapped')).toBe('echo mapped');
  });
});

describe('listeners with their own client class', () => {
  test('a second listener speaks another protocol (its class given by registered name)', async () => {
    const { ClientClassRegistry } = await import('@ics-ts/wsocket-server');
    class UpperClient extends TWSocketClient {
      constructor() {
        super({ lineMode: true });
      }
      protected override onLine(line: string): void {
        this.sendLine(line.toUpperCase());
      }
    }
    const registry = new ClientClassRegistry();
    registry.register('echo', EchoClient);
    registry.register('upper', UpperClient);
    const server = track(
      new TWSocketServer({
        addr: '127.0.0.1',
        port: 0,
        registry,
        clientClass: 'echo',
        multiListenSockets: [{ addr: '127.0.0.1', port: 0, clientClass: 'upper' }, { addr: '127.0.0.2', port: 0 }],
      }),
    );
    await server.listen();
    const [main, upper, plain] = server.listenStates;
    const a = await connectTo(server, '127.0.0.1', main.bindPort);
    const b = await connectTo(server, '127.0.0.1', upper.bindPort);
    const c = await connectTo(server, '127.0.0.2', plain.bindPort);
    expect(a.client).toBeInstanceOf(EchoClient);
    expect(b.client).toBeInstanceOf(UpperClient);
    expect(c.client).toBeInstanceOf(EchoClient);
    expect(await a.peer.ask('hi')).toBe('echo hi');
    expect(await b.peer.ask('hi')).toBe('HI');
    expect(await c.peer.ask('hi')).toBe('echo hi');
    expect(server.clients).toEqual([a.client, b.client, c.client]);
  });

  test('an unknown class name on an item fails at construction, naming the item', () => {
    expect(
      () =>
        new TWSocketServer({
          addr: '127.0.0.1',
          multiListenSockets: [{ addr: '127.0.0.1', port: 0 }, { addr: '127.0.0.2', port: 0, clientClass: 'no-such-protocol' }],
        }),
    ).toThrow(/multiListenSockets\[1\]\.clientClass: no client class is registered as "no-such-protocol"/);
  });
});
