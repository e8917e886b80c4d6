/**
 * IcsHosts over real sockets, SNI: `openssl s_client -servername` and Node
 * tls.connect({ servername }) against one TLS port shared by three hosts
 * (exact names, a wildcard), unknown names and no name under both policies,
 * two hosts sharing a plain port, the per-connection facts (client fields,
 * injected ConnectionInfo), and per-host security levels on one port and on
 * separate ports.
 *
 * Loopback only; real free ports (bindSslPort/bindNonPort 0 means "none");
 * everything waits on events or process output.
 */
import { HandshakeFailure, IcsHostOptions, TWSocketClient, TWSocketServer } from '@ics-ts/wsocket-server';
import { Peer, track } from './helpers';
import {
  ClassA,
  ClassB,
  ClassC,
  ClassD,
  IdentityFiles,
  TlsPeer,
  connectHost,
  freePorts,
  greetingOf,
  identityFiles,
  inlineIdentity,
  once,
  sClient,
  tempDir,
  threeHostServer,
} from './fixtures/ics-hosts-support';

let chat: IdentityFiles;
let echo: IdentityFiles;
let wild: IdentityFiles;

beforeAll(async () => {
  const dir = tempDir();
  [chat, echo, wild] = await Promise.all([
    identityFiles(dir, 'localhost', ['localhost']),
    identityFiles(dir, 'echo', ['echo.localhost']),
    identityFiles(dir, 'wild', ['*.wild.test']),
  ]);
});

/** localhost (A), echo.localhost (B), *.wild.test (C) on one TLS port; the first two on one plain port. */
const { hostTable, startHosts } = threeHostServer(() => ({ chat, echo, wild }));

describe('SNI picks the host: certificate and client class', () => {
  test('listeners: one plain and one TLS, both on 127.0.0.1', async () => {
    const { server, tlsPort, plainPort } = await startHosts();
    expect(server.listenSockets.map((l) => l.url)).toEqual([`tcp://127.0.0.1:${plainPort}`, `tls://127.0.0.1:${tlsPort}`]);
    expect(server.listenAllOk).toBe(true);
    expect(server.icsHosts.map((h) => h.hostTag)).toEqual(['chat', 'echo', 'wild']);
  });

  test.each([
    ['localhost', 'chat', 'A', 0, 'localhost', () => chat],
    ['echo.localhost', 'echo', 'B', 1, 'echo.localhost', () => echo],
    ['ECHO.localhost', 'echo', 'B', 1, 'echo.localhost', () => echo],
    ['a.wild.test', 'wild', 'C', 2, '*.wild.test', () => wild],
    ['a.b.wild.test', 'chat', 'A', 0, '', () => chat],
    ['wild.test', 'chat', 'A', 0, '', () => chat],
  ])('openssl s_client -servername %s: host %s, class %s', async (name, tag, kind, idx, matched, files) => {
    const { server, tlsPort } = await startHosts();
    const probe = await sClient(tlsPort, name, [], 'ping');
    expect(probe.code).toBe(0);
    expect(probe.fingerprint).toBe(files().fingerprint);
    expect(probe.commonName).toBe(files().names[0]);
    expect(probe.greeting).toBe(greetingOf(kind, tag, idx, matched));
    expect(probe.reply).toBe(`${kind} ping`);
    expect(server.sslHandshakeErrors).toBe(0);
  });

  test('Node tls.connect({ servername }) for each host: certificate names, class, client fields', async () => {
    const { server, tlsPort } = await startHosts();
    const cases = [
      { name: 'localhost', files: chat, cls: ClassA, tag: 'chat', idx: 0, matched: 'localhost' },
      { name: 'echo.localhost', files: echo, cls: ClassB, tag: 'echo', idx: 1, matched: 'echo.localhost' },
      { name: 'x1.wild.test', files: wild, cls: ClassC, tag: 'wild', idx: 2, matched: '*.wild.test' },
      { name: 'x1.x2.wild.test', files: chat, cls: ClassA, tag: 'chat', idx: 0, matched: '' },
    ];
    for (const c of cases) {
      const { peer, client, greeting } = await connectHost(server, tlsPort, c.name);
      expect(peer.fingerprint).toBe(c.files.fingerprint);
      expect(peer.certificate.subject.CN).toBe(c.files.names[0]);
      expect(peer.certificate.subjectaltname).toBe(`DNS:${c.files.names[0]}`);
      expect(client).toBeInstanceOf(c.cls);
      expect(client).toMatchObject({ icsHostIdx: c.idx, hostTag: c.tag, matchedName: c.matched, multiListenIndex: 0 });
      expect(client.icsHost).toBe(server.icsHosts[c.idx]);
      expect(client.tls?.serverName).toBe(c.name);
      expect(greeting).toBe(greetingOf(client instanceof ClassA ? 'A' : client instanceof ClassB ? 'B' : 'C', c.tag, c.idx, c.matched));
      expect(await peer.ask('who')).toMatch(/^[ABC] who$/);
    }
    expect(server.clientCount).toBe(4);
  });

  test('unknown name, sniUnknown default: the default host (first bound) with its certificate', async () => {
    const { server, tlsPort } = await startHosts({ sniUnknown: 'default' });
    const probe = await sClient(tlsPort, 'nobody.example');
    expect(probe.code).toBe(0);
    expect(probe.fingerprint).toBe(chat.fingerprint);
    expect(probe.greeting).toBe(greetingOf('A', 'chat', 0, ''));
    const { peer, client } = await connectHost(server, tlsPort, 'nobody.example');
    expect(peer.fingerprint).toBe(chat.fingerprint);
    expect(client).toBeInstanceOf(ClassA);
    expect(client.matchedName).toBe('');
  });

  test('unknown name, sniUnknown refuse: the handshake fails (s_client and Node), sslHandshakeError fires', async () => {
    const { server, tlsPort } = await startHosts({ sniUnknown: 'refuse' });
    const failures: HandshakeFailure[] = [];
    server.on('sslHandshakeError', (f) => failures.push(f));
    let failed = once(server, 'sslHandshakeError');
    const probe = await sClient(tlsPort, 'nobody.example');
    await failed;
    expect(probe.code).not.toBe(0);
    expect(probe.certificate).toBeUndefined();
    expect(probe.greeting).toBeUndefined();

    failed = once(server, 'sslHandshakeError');
    const attempt = await TlsPeer.attempt(tlsPort, { servername: 'nobody.example' });
    await failed;
    expect(attempt.secure).toBe(false);
    expect(attempt.error).toBeDefined();
    expect(attempt.received).toBe('');
    expect(failures).toHaveLength(2);
    for (const f of failures) {
      expect(f.error.message).toMatch(/unknown server name "nobody\.example" \(refused by sniUnknown\)/);
      expect(f.peerAddr).toBe('127.0.0.1');
      expect(f.multiListenIndex).toBe(0);
    }
    expect(server.clientCount).toBe(0);
    // Known names, the wildcard and no name at all are still served.
    expect((await sClient(tlsPort, 'echo.localhost')).greeting).toBe(greetingOf('B', 'echo', 1, 'echo.localhost'));
    expect((await sClient(tlsPort, 'q.wild.test')).greeting).toBe(greetingOf('C', 'wild', 2, '*.wild.test'));
    expect((await sClient(tlsPort, undefined)).greeting).toBe(greetingOf('A', 'chat', 0, ''));
  });

  test('no SNI at all (s_client -noservername, Node servername ""): the default host', async () => {
    const { server, tlsPort } = await startHosts();
    const probe = await sClient(tlsPort, undefined);
    expect(probe.code).toBe(0);
    expect(probe.fingerprint).toBe(chat.fingerprint);
    expect(probe.greeting).toBe(greetingOf('A', 'chat', 0, ''));
    const { peer, client } = await connectHost(server, tlsPort, '');
    expect(peer.fingerprint).toBe(chat.fingerprint);
    expect(client).toBeInstanceOf(ClassA);
    expect(client.tls?.serverName).toBe('');
    expect(client.matchedName).toBe('');
  });

  test('no SNI at all, sniMissing refuse: refused with sslHandshakeError; names still served', async () => {
    const { server, tlsPort } = await startHosts({ sniMissing: 'refuse' });
    let failed = once(server, 'sslHandshakeError') as Promise<[HandshakeFailure]>;
    const probe = await sClient(tlsPort, undefined);
    const [failure] = await failed;
    expect(failure.error.message).toMatch(/no server name sent \(refused by sniMissing\)/);
    expect(probe.greeting).toBeUndefined();
    failed = once(server, 'sslHandshakeError') as Promise<[HandshakeFailure]>;
    const attempt = await TlsPeer.attempt(tlsPort, { servername: '' });
    await failed;
    expect(attempt.received).toBe('');
    expect(server.clientCount).toBe(0);
    expect(server.sslHandshakeErrors).toBe(2);
    // sniMissing does not touch unknown names (sniUnknown is still 'default').
    expect((await sClient(tlsPort, 'nobody.example')).greeting).toBe(greetingOf('A', 'chat', 0, ''));
    expect((await sClient(tlsPort, 'localhost')).greeting).toBe(greetingOf('A', 'chat', 0, 'localhost'));
  });

  test('a default host whose certificate does not name the client: still its certificate (no name check on the default)', async () => {
    const { tlsPort } = await startHosts({}, (t, p) => {
      const [first, ...rest] = hostTable(t, p);
      return [rest[1], first, rest[0]]; // wild first: the default
    });
    const probe = await sClient(tlsPort, 'nobody.example');
    expect(probe.fingerprint).toBe(wild.fingerprint);
    expect(probe.greeting).toBe(greetingOf('C', 'wild', 0, ''));
  });
});

describe('two hosts sharing a plain port and a TLS port', () => {
  test('the plain port is served by the first enabled host bound there; TLS by SNI', async () => {
    const { server, tlsPort, plainPort } = await startHosts();
    const connected = once(server, 'clientConnect') as Promise<[TWSocketClient]>;
    const peer = await Peer.connect(plainPort);
    const [client] = await connected;
    expect(await peer.nextLine()).toBe(greetingOf('A', 'chat', 0, ''));
    expect(client).toBeInstanceOf(ClassA);
    expect(client).toMatchObject({ icsHostIdx: 0, hostTag: 'chat', matchedName: '', multiListenIndex: -1 });
    expect(client.tls).toBeUndefined();
    expect(await peer.ask('plain')).toBe('A plain');
    const viaTls = await connectHost(server, tlsPort, 'echo.localhost');
    expect(viaTls.greeting).toBe(greetingOf('B', 'echo', 1, 'echo.localhost'));
  });

  test('with the first host disabled, the second serves the plain port', async () => {
    const { plainPort } = await startHosts({}, (t, p) => hostTable(t, p).map((h, i) => (i === 0 ? { ...h, hostEnabled: false } : h)));
    const peer = await Peer.connect(plainPort);
    expect(await peer.nextLine()).toBe(greetingOf('B', 'echo', 1, ''));
  });
});

describe('ConnectionInfo', () => {
  test('an injected ConnectionInfo shows icsHostIdx, hostTag and matchedName', async () => {
    const { server, tlsPort, plainPort } = await startHosts({}, (t, p) =>
      hostTable(t, p).map((h) => ({ ...h, clientClass: ClassD })),
    );
    const wildConn = await connectHost(server, tlsPort, 'deep.wild.test');
    const info = (wildConn.client as ClassD).info;
    expect(info).toMatchObject({ icsHostIdx: 2, hostTag: 'wild', matchedName: '*.wild.test', multiListenIndex: 0, localPort: tlsPort });
    expect(info.cliId).toBe(wildConn.client.cliId);
    const byDefault = await connectHost(server, tlsPort, 'other.example');
    expect((byDefault.client as ClassD).info).toMatchObject({ icsHostIdx: 0, hostTag: 'chat', matchedName: '' });
    const connected = once(server, 'clientConnect') as Promise<[ClassD]>;
    await Peer.connect(plainPort);
    const [plain] = await connected;
    expect(plain.info).toMatchObject({ icsHostIdx: 0, hostTag: 'chat', matchedName: '', multiListenIndex: -1, localPort: plainPort });
  });
});

describe('per-host security levels', () => {
  async function levelsOnOnePort(order: 'high-first' | 'tls13-first') {
    const [y, x] = await Promise.all([inlineIdentity(['y.test']), inlineIdentity(['x.test'])]);
    const [port] = await freePorts('127.0.0.1', 1);
    const hostY: IcsHostOptions = { hostTag: 'y', hostNames: ['y.test'], bindIpAddr: '127.0.0.1', bindSslPort: port, sslCert: y.cert, sslKey: y.key, sslSrvSecurity: 'high', clientClass: ClassB };
    const hostX: IcsHostOptions = { hostTag: 'x', hostNames: ['x.test'], bindIpAddr: '127.0.0.1', bindSslPort: port, sslCert: x.cert, sslKey: x.key, sslSrvSecurity: 'tls13Only', clientClass: ClassA };
    const server = track(new TWSocketServer({ icsHosts: order === 'high-first' ? [hostY, hostX] : [hostX, hostY] }));
    await server.listen();
    return { server, port, x, y };
  }

  test.each(['high-first', 'tls13-first'] as const)(
    'one TLS port, host x tls13Only and host y high (%s): TLS 1.2 to x is dropped naming x, TLS 1.2 to y is served',
    async (order) => {
      const { server, port, x, y } = await levelsOnOnePort(order);
      const xIdx = order === 'high-first' ? 1 : 0;
      const yIdx = 1 - xIdx;
      expect(server.validateHosts().hosts.flatMap((h) => h.problems)).toEqual([]);
      // TLS 1.2 with servername x: refused, the server says which host refused it.
      const failed = once(server, 'sslHandshakeError') as Promise<[HandshakeFailure]>;
      const refused = await TlsPeer.attempt(port, { servername: 'x.test', maxVersion: 'TLSv1.2' });
      const [failure] = await failed;
      expect(failure.error.message).toMatch(/TLSv1\.2 refused by host x \(sslSrvSecurity tls13Only\)/);
      expect(refused.received).toBe('');
      const probe12x = await sClient(port, 'x.test', ['-tls1_2']);
      expect(probe12x.greeting).toBeUndefined();
      // TLS 1.2 with servername y: served, by y, with y's certificate.
      const { peer, client, greeting } = await connectHost(server, port, 'y.test', { maxVersion: 'TLSv1.2' });
      expect(peer.socket.getProtocol()).toBe('TLSv1.2');
      expect(peer.fingerprint).toBe(y.fingerprint);
      expect(client.tls?.protocol).toBe('TLSv1.2');
      expect(greeting).toBe(greetingOf('B', 'y', yIdx, 'y.test'));
      const probe12y = await sClient(port, 'y.test', ['-tls1_2']);
      expect(probe12y.protocol).toBe('TLSv1.2');
      expect(probe12y.greeting).toBe(greetingOf('B', 'y', yIdx, 'y.test'));
      // TLS 1.3 reaches both.
      const probe13x = await sClient(port, 'x.test', ['-tls1_3']);
      expect(probe13x.protocol).toBe('TLSv1.3');
      expect(probe13x.fingerprint).toBe(x.fingerprint);
      expect(probe13x.greeting).toBe(greetingOf('A', 'x', xIdx, 'x.test'));
      expect(server.sslHandshakeErrors).toBe(2);
    },
  );

  test('one TLS port, default host tls12Less and host z tls13Only: z cannot be reached there, and validateHosts says so', async () => {
    // The version is negotiated with the default host's context, before SNI picks z: TLS stops at 1.2.
    const [d, z] = await Promise.all([inlineIdentity(['d.test']), inlineIdentity(['z.test'])]);
    const [port] = await freePorts('127.0.0.1', 1);
    const server = track(
      new TWSocketServer({
        icsHosts: [
          { hostTag: 'd', hostNames: ['d.test'], bindIpAddr: '127.0.0.1', bindSslPort: port, sslCert: d.cert, sslKey: d.key, sslSrvSecurity: 'tls12Less', clientClass: ClassA },
          { hostTag: 'z', hostNames: ['z.test'], bindIpAddr: '127.0.0.1', bindSslPort: port, sslCert: z.cert, sslKey: z.key, sslSrvSecurity: 'tls13Only', clientClass: ClassC },
        ],
      }),
    );
    await server.listen();
    const [dReport, zReport] = server.validateHosts().hosts;
    expect(dReport.problems).toEqual([]);
    expect(zReport.problems).toEqual([
      `unreachable on tls://127.0.0.1:${port}: it needs TLSv1.3 (sslSrvSecurity tls13Only) but TLS stops at TLSv1.2 there ` +
        '(the default host d has sslSrvSecurity tls12Less)',
    ]);
    // d, over TLS 1.2, even for a client that can do TLS 1.3 (its range is not widened upward).
    const toD = await sClient(port, 'd.test');
    expect(toD.protocol).toBe('TLSv1.2');
    expect(toD.greeting).toBe(greetingOf('A', 'd', 0, 'd.test'));
    const noName = await connectHost(server, port, '');
    expect(noName.peer.socket.getProtocol()).toBe('TLSv1.2');
    expect(noName.peer.fingerprint).toBe(d.fingerprint);
    // z: dropped after the handshake, naming z.
    const failed = once(server, 'sslHandshakeError') as Promise<[HandshakeFailure]>;
    const toZ = await TlsPeer.attempt(port, { servername: 'z.test' });
    const [failure] = await failed;
    expect(failure.error.message).toMatch(/TLSv1\.2 refused by host z \(sslSrvSecurity tls13Only\)/);
    expect(toZ.received).toBe('');
  });

  test('separate ports, each host its own level: tls13Only and tls12Less', async () => {
    const [a, b] = await Promise.all([inlineIdentity(['a.test']), inlineIdentity(['b.test'])]);
    const [portA, portB] = await freePorts('127.0.0.1', 2);
    const server = track(
      new TWSocketServer({
        icsHosts: [
          { hostTag: 'a13', hostNames: ['a.test'], bindIpAddr: '127.0.0.1', bindSslPort: portA, sslCert: a.cert, sslKey: a.key, sslSrvSecurity: 'tls13Only', clientClass: ClassA },
          { hostTag: 'b12', hostNames: ['b.test'], bindIpAddr: '127.0.0.1', bindSslPort: portB, sslCert: b.cert, sslKey: b.key, sslSrvSecurity: 'tls12Less', clientClass: ClassB },
        ],
      }),
    );
    await server.listen();
    const a13 = await sClient(portA, 'a.test');
    expect(a13.protocol).toBe('TLSv1.3');
    expect(a13.greeting).toBe(greetingOf('A', 'a13', 0, 'a.test'));
    const b12 = await sClient(portB, 'b.test');
    expect(b12.protocol).toBe('TLSv1.2');
    expect(b12.greeting).toBe(greetingOf('B', 'b12', 1, 'b.test'));
    let failed = once(server, 'sslHandshakeError');
    const a12 = await sClient(portA, 'a.test', ['-tls1_2']);
    await failed;
    expect(a12.code).not.toBe(0);
    expect(a12.greeting).toBeUndefined();
    failed = once(server, 'sslHandshakeError');
    const b13 = await sClient(portB, 'b.test', ['-tls1_3']);
    await failed;
    expect(b13.code).not.toBe(0);
    expect(b13.greeting).toBeUndefined();
    expect(server.validateHosts().hosts.map((h) => h.certificate?.securityLevel)).toEqual(['tls13Only', 'tls12Less']);
  });
});
