/**
 * Admission, attacked from outside: per-address limits, allow/deny, the
 * accept filter, the hard cap on sockets held, TLS handshakes that hold no
 * client slot, and a refusal reason counted for each. Real sockets on
 * 127.0.0.1, 127.0.0.2 and [::1].
 */
import { once } from 'node:events';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { DevIdentity, createDevCertificate } from '@ics-ts/ssl-context';
import { Refusal, TWSocketClient, TWSocketServer, TooBusyInfo } from '@ics-ts/wsocket-server';
import { EchoClient, Peer, startServer, track } from './helpers';
import { TlsPeer, trackSocket } from './tls-peer';

let dev: DevIdentity;

beforeAll(async () => {
  dev = await createDevCertificate({ names: ['localhost', '127.0.0.1'] });
});

const tlsContext = () => ({ sslCert: dev.cert, sslKey: dev.key });

/**
 * A raw connection from `localAddress`, its bytes and how it ended; with
 * allowHalfOpen it does not end its side when the server ends (a peer that
 * lingers).
 */
async function rawPeer(port: number, host = '127.0.0.1', localAddress?: string, allowHalfOpen = false) {
  const socket = trackSocket(net.connect({ port, host, localAddress, allowHalfOpen }));
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  let error: NodeJS.ErrnoException | undefined;
  socket.on('error', (err) => (error = err));
  const closed = new Promise<{ bytes: Buffer; error: NodeJS.ErrnoException | undefined }>((resolve) =>
    socket.once('close', () => resolve({ bytes: Buffer.concat(chunks), error })),
  );
  await once(socket, 'connect');
  return { socket, closed, localPort: socket.localPort };
}

function refusals(server: TWSocketServer<TWSocketClient>): Refusal[] {
  const seen: Refusal[] = [];
  server.on('refused', (refusal) => seen.push(refusal));
  return seen;
}

describe('maxClientsPerIp', () => {
  test('50 connections from 127.0.0.1 with maxClientsPerIp 10: exactly 10 greeted, 40 told busy, 127.0.0.2 still greeted', async () => {
    const server = await startServer({
      clientClass: EchoClient,
      banner: 'hello',
      maxClients: 100,
      maxClientsPerIp: 10,
      bannerTooBusyPerIp: 'too many from your address',
    });
    const seen = refusals(server);
    const busy: TooBusyInfo[] = [];
    server.on('tooBusy', (info) => busy.push(info));
    const peers = await Promise.all(Array.from({ length: 50 }, () => Peer.connect(server.bindPort)));
    const first = await Promise.all(peers.map((peer) => peer.nextLine()));
    expect(first.filter((line) => line === 'hello')).toHaveLength(10);
    expect(first.filter((line) => line === 'too many from your address')).toHaveLength(40);
    expect(server.clientCount).toBe(10);
    expect(server.refusals.perIp).toBe(40);
    expect(server.tooBusyCount).toBe(40);
    expect(busy).toHaveLength(40);
    expect(seen.every((r) => r.reason === 'perIp' && r.peerAddr === '127.0.0.1' && r.detail === 'maxClientsPerIp 10')).toBe(true);
    expect(server.listener.refusals.perIp).toBe(40);

    const other = await Peer.connect(server.bindPort, '127.0.0.1', { localAddress: '127.0.0.2' });
    expect(await other.nextLine()).toBe('hello');
    expect(await other.ask('x')).toBe('echo x');

    // A slot given back by one address is taken by that address again.
    const greeted = peers.filter((_, i) => first[i] === 'hello');
    const gone = once(server, 'clientDisconnect');
    await greeted[0].end();
    await gone;
    const again = await Peer.connect(server.bindPort);
    expect(await again.nextLine()).toBe('hello');
  });

  test('IPv6: one /64 counts as one address', async () => {
    const server = await startServer({ addr: '::1', clientClass: EchoClient, banner: 'hello', maxClientsPerIp: 2 });
    const peers = await Promise.all([0, 1, 2].map(() => Peer.connect(server.bindPort, '::1')));
    const lines = await Promise.all(peers.map((p) => p.nextLine()));
    expect(lines.sort()).toEqual(['Sorry, too many clients', 'hello', 'hello']);
    expect(server.refusals.perIp).toBe(1);
  });

  test('a multiListenSockets item sets its own limit; the server-wide count per address is shared', async () => {
    const server = await startServer({
      clientClass: EchoClient,
      banner: 'hello',
      maxClientsPerIp: 1,
      multiListenSockets: [{ addr: '127.0.0.1', port: 0, maxClientsPerIp: 3 }],
    });
    const loose = server.listenSockets[1].bindPort;
    const a = await Peer.connect(server.bindPort);
    expect(await a.nextLine()).toBe('hello');
    const b = await Peer.connect(server.bindPort);
    expect(await b.nextLine()).toBe('Sorry, too many clients');
    const c = await Peer.connect(loose);
    const d = await Peer.connect(loose);
    expect([await c.nextLine(), await d.nextLine()]).toEqual(['hello', 'hello']);
    const e = await Peer.connect(loose);
    expect(await e.nextLine()).toBe('Sorry, too many clients');
    expect(server.listenSockets[0].refusals.perIp).toBe(1);
    expect(server.listenSockets[1].refusals.perIp).toBe(1);
  });
});

describe('allow and deny', () => {
  test('deny 127.0.0.2/32: a peer from 127.0.0.2 gets no byte and a closed connection; 127.0.0.1 is served', async () => {
    let constructed = 0;
    class Counted extends EchoClient {
      constructor() {
        super();
        constructed++;
      }
    }
    const server = await startServer<TWSocketClient>({ clientClass: Counted, banner: 'hello', deny: ['127.0.0.2/32'] });
    const seen = refusals(server);
    const denied = await rawPeer(server.bindPort, '127.0.0.1', '127.0.0.2');
    const { bytes } = await denied.closed;
    expect(bytes.length).toBe(0);
    expect(seen).toEqual([{ reason: 'deny', peerAddr: '127.0.0.2', peerPort: denied.localPort, multiListenIndex: -1, detail: 'in the deny list' }]);
    expect(constructed).toBe(0);
    const served = await Peer.connect(server.bindPort);
    expect(await served.nextLine()).toBe('hello');
    expect(server.refusals.deny).toBe(1);
  });

  test('a non-empty allow list admits only what it names; deny wins over allow', async () => {
    const server = await startServer({
      clientClass: EchoClient,
      banner: 'hello',
      allow: ['127.0.0.0/30'],
      deny: ['127.0.0.3'],
    });
    const ok = await Peer.connect(server.bindPort, '127.0.0.1', { localAddress: '127.0.0.2' });
    expect(await ok.nextLine()).toBe('hello');
    const denied = await rawPeer(server.bindPort, '127.0.0.1', '127.0.0.3');
    expect((await denied.closed).bytes.length).toBe(0);
    const outside = await rawPeer(server.bindPort, '127.0.0.1', '127.0.0.9');
    expect((await outside.closed).bytes.length).toBe(0);
    expect(server.refusals).toMatchObject({ deny: 1, notAllowed: 1 });
  });

  test('a dual-stack listener matches IPv4-mapped peers as IPv4, and IPv6 blocks as IPv6', async () => {
    const server = await startServer({ addr: '::', clientClass: EchoClient, banner: 'hello', deny: ['127.0.0.2', '::1/128'] });
    const mapped = await rawPeer(server.bindPort, '127.0.0.1', '127.0.0.2');
    expect((await mapped.closed).bytes.length).toBe(0);
    const v6 = await rawPeer(server.bindPort, '::1');
    expect((await v6.closed).bytes.length).toBe(0);
    const ok = await Peer.connect(server.bindPort, '127.0.0.1');
    expect(await ok.nextLine()).toBe('hello');
    expect(server.refusals.deny).toBe(2);
  });

  test('on TLS, a denied peer is closed before any TLS work', async () => {
    const server = await startServer({ banner: 'hello', sslEnable: true, sslContext: tlsContext(), deny: ['127.0.0.2'] });
    const options = { host: '127.0.0.1', port: server.bindPort, localAddress: '127.0.0.2', rejectUnauthorized: false };
    const socket = trackSocket(tls.connect(options as tls.ConnectionOptions));
    let secured = false;
    socket.on('secureConnect', () => (secured = true));
    socket.on('error', () => {});
    await new Promise((resolve) => socket.once('close', resolve));
    expect(secured).toBe(false);
    expect(server.refusals.deny).toBe(1);
    expect(server.sslHandshakeErrors).toBe(0);
    expect(server.handshakeCount).toBe(0);
  });

  test('an IcsHost binding applies the allow list of its host', async () => {
    const server = track(
      new TWSocketServer({
        icsHosts: [{ hostNames: ['a.test'], bindIpAddr: '127.0.0.1', bindNonPort: await freePort(), banner: 'host a', allow: ['127.0.0.1'] }],
        clientClass: EchoClient,
      }),
    );
    await server.listen();
    const ok = await Peer.connect(server.bindPort);
    expect(await ok.nextLine()).toBe('host a');
    const out = await rawPeer(server.bindPort, '127.0.0.1', '127.0.0.2');
    expect((await out.closed).bytes.length).toBe(0);
    expect(server.refusals.notAllowed).toBe(1);
  });
});

describe('accept filter (ICS OnClientAcceptFilter)', () => {
  test('sees the peer and listener before anything is made; false or a reason refuses with no byte sent', async () => {
    const seen: unknown[] = [];
    const server = await startServer({
      clientClass: EchoClient,
      banner: 'hello',
      acceptFilter: (peer) => {
        seen.push(peer);
        if (peer.peerAddr === '127.0.0.2') return 'no robots from .2';
        if (peer.peerAddr === '127.0.0.3') return false;
        return true;
      },
    });
    const reasons = refusals(server);
    const two = await rawPeer(server.bindPort, '127.0.0.1', '127.0.0.2');
    expect((await two.closed).bytes.length).toBe(0);
    const three = await rawPeer(server.bindPort, '127.0.0.1', '127.0.0.3');
    expect((await three.closed).bytes.length).toBe(0);
    const ok = await Peer.connect(server.bindPort);
    expect(await ok.nextLine()).toBe('hello');
    expect(seen).toEqual([
      { peerAddr: '127.0.0.2', peerPort: two.localPort, multiListenIndex: -1, tls: false },
      { peerAddr: '127.0.0.3', peerPort: three.localPort, multiListenIndex: -1, tls: false },
      { peerAddr: '127.0.0.1', peerPort: ok.localPort, multiListenIndex: -1, tls: false },
    ]);
    expect(reasons.map((r) => [r.reason, r.detail])).toEqual([
      ['filter', 'no robots from .2'],
      ['filter', 'refused by the accept filter'],
    ]);
    expect(server.refusals.filter).toBe(2);
  });

  test('a filter that throws refuses the connection and reports the exception; the server carries on', async () => {
    let calls = 0;
    const server = await startServer({
      clientClass: EchoClient,
      banner: 'hello',
      acceptFilter: () => {
        if (++calls === 1) throw new Error('filter bug');
      },
    });
    const errors: unknown[] = [];
    server.on('bgException', (error) => errors.push(error));
    const first = await rawPeer(server.bindPort);
    expect((await first.closed).bytes.length).toBe(0);
    expect((errors[0] as Error).message).toBe('filter bug');
    const second = await Peer.connect(server.bindPort);
    expect(await second.nextLine()).toBe('hello');
  });
});

describe('maxConnections', () => {
  test('a flood past maxConnections leaves the server holding at most that many sockets', async () => {
    const max = 30;
    const server = await startServer({ clientClass: EchoClient, banner: 'hello', maxConnections: max, maxClients: 20 });
    let most = 0;
    const watch = () => (most = Math.max(most, server.connectionCount));
    server.on('clientConnect', watch);
    server.on('tooBusy', watch);
    server.on('refused', watch);
    // Peers that linger after the busy text, so the turned-away sockets stay held.
    const flood = await Promise.all(Array.from({ length: 100 }, () => rawPeer(server.bindPort, '127.0.0.1', undefined, true)));
    // Every socket gets its answer: hello, busy text, or a close with nothing.
    const endings = await Promise.all(
      flood.map(
        ({ socket, closed }) =>
          new Promise<string>((resolve) => {
            socket.once('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
            // A lingering peer sees the server's FIN (end) and keeps its own side open.
            socket.once('end', () => resolve(''));
            void closed.then(({ bytes }) => resolve(bytes.toString().trim()));
          }),
      ),
    );
    expect(endings.filter((e) => e === 'hello')).toHaveLength(20);
    expect(endings.filter((e) => e === 'Sorry, too many clients')).toHaveLength(10);
    expect(endings.filter((e) => e === '')).toHaveLength(70);
    expect(server.refusals.maxConnections).toBe(70);
    expect(most).toBeLessThanOrEqual(max);
    expect(server.connectionCount).toBeLessThanOrEqual(max);
  });
});

describe('TLS handshakes hold no client slot', () => {
  test('maxClients 10 with 10 silent TCP sockets on the TLS port: a real TLS client is greeted, not told busy', async () => {
    const server = await startServer({
      banner: 'hello over tls',
      bannerTooBusy: 'busy',
      maxClients: 10,
      sslEnable: true,
      sslContext: tlsContext(),
      sslHandshakeTimeout: 60000,
    });
    const silent = await Promise.all(Array.from({ length: 10 }, () => rawPeer(server.bindPort)));
    // Every silent socket is in its handshake before the real client comes.
    while (server.handshakeCount < 10) await new Promise((resolve) => setImmediate(resolve));
    const real = await TlsPeer.connect(server.bindPort);
    expect(await real.nextLine()).toBe('hello over tls');
    expect(server.clientCount).toBe(1);
    expect(server.handshakeCount).toBe(10);
    expect(server.tooBusyCount).toBe(0);
    for (const { socket } of silent) socket.destroy();
  });

  test('maxHandshakes: past it a new TLS connection is closed before any TLS work; freed slots admit again', async () => {
    const server = await startServer({
      banner: 'hello',
      sslEnable: true,
      sslContext: tlsContext(),
      maxHandshakes: 5,
      sslHandshakeTimeout: 60000,
    });
    const silent = await Promise.all(Array.from({ length: 5 }, () => rawPeer(server.bindPort)));
    while (server.handshakeCount < 5) await new Promise((resolve) => setImmediate(resolve));
    const refused = await TlsPeer.attempt(server.bindPort);
    expect(refused.secure).toBe(false);
    expect(server.refusals.maxHandshakes).toBe(1);
    const closedAll = silent.map(({ closed }) => closed);
    for (const { socket } of silent) socket.destroy();
    await Promise.all(closedAll);
    while (server.handshakeCount > 0) await new Promise((resolve) => setImmediate(resolve));
    const ok = await TlsPeer.connect(server.bindPort);
    expect(await ok.nextLine()).toBe('hello');
  });

  test('maxHandshakesPerIp: one address cannot hold every handshake; another address still gets through', async () => {
    const server = await startServer({
      banner: 'hello',
      sslEnable: true,
      sslContext: tlsContext(),
      maxHandshakesPerIp: 3,
      sslHandshakeTimeout: 60000,
    });
    const silent = await Promise.all(Array.from({ length: 3 }, () => rawPeer(server.bindPort)));
    while (server.handshakeCount < 3) await new Promise((resolve) => setImmediate(resolve));
    const fourth = await rawPeer(server.bindPort);
    await fourth.closed;
    expect(server.refusals.maxHandshakesPerIp).toBe(1);
    const other = await TlsPeer.connect(server.bindPort, { localAddress: '127.0.0.2' } as tls.ConnectionOptions);
    expect(await other.nextLine()).toBe('hello');
    for (const { socket } of silent) socket.destroy();
  });

  test('handshake failures are counted by reason', async () => {
    const server = await startServer({ sslEnable: true, sslContext: tlsContext(), sslHandshakeTimeout: 200 });
    const failed = once(server, 'sslHandshakeError');
    const garbage = await rawPeer(server.bindPort);
    garbage.socket.write('GET / HTTP/1.0\r\n\r\n');
    const [failure] = await failed;
    expect(failure.reason).toBe('protocol');
    const stalled = await rawPeer(server.bindPort);
    const [late] = await once(server, 'sslHandshakeError');
    expect(late.reason).toBe('timeout');
    await stalled.closed;
    expect(server.sslHandshakeFailures).toMatchObject({ protocol: 1, timeout: 1 });
    expect(server.sslHandshakeErrors).toBe(2);
  });
});

describe('admission options are checked', () => {
  test.each([
    [{ allow: ['10.0.0.0/33'] }, TypeError, "option allow[0] must be an IP address or a CIDR block ('10.0.0.0/8', '2001:db8::/32'), got \"10.0.0.0/33\""],
    [{ deny: 'x' }, TypeError, 'option deny must be an array of addresses or CIDR blocks, got "x"'],
    [{ deny: ['1.2.3'] }, TypeError, 'option deny[0] must be an IP address or a CIDR block'],
    [{ maxClientsPerIp: -1 }, RangeError, 'option maxClientsPerIp must be an integer >= 0, got -1'],
    [{ maxConnections: 1.5 }, RangeError, 'option maxConnections must be an integer >= 0, got 1.5'],
    [{ maxHandshakes: '9' }, RangeError, 'option maxHandshakes must be an integer >= 0, got "9"'],
    [{ acceptFilter: 'yes' }, TypeError, 'option acceptFilter must be a function, got "yes"'],
    [{ bannerTooBusyPerIp: 4 }, TypeError, 'option bannerTooBusyPerIp must be a string, got 4'],
    [
      { multiListenSockets: [{ addr: '127.0.0.1', port: 0, deny: ['::1/129'] }] },
      TypeError,
      'option multiListenSockets[0].deny[0] must be an IP address or a CIDR block',
    ],
    [
      { icsHosts: [{ hostNames: ['a.test'], bindNonPort: 7000, maxClientsPerIp: -2 }] },
      RangeError,
      'option icsHosts[0].maxClientsPerIp must be an integer >= 0, got -2',
    ],
  ])('%j', (options, kind, message) => {
    expect(() => new TWSocketServer(options as never)).toThrow(kind);
    expect(() => new TWSocketServer(options as never)).toThrow(message);
  });
});

async function freePort(): Promise<number> {
  const probe = net.createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as net.AddressInfo;
  probe.close();
  await once(probe, 'close');
  return port;
}
