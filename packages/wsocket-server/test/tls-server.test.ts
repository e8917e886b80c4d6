/**
 * TWSocketServer over TLS, the server side: `openssl s_client` against the
 * server (banner over TLS, protocol and cipher as the level says), a
 * representative subset of the security levels checked THROUGH the server,
 * the TLS facts a client exposes, a plain and a TLS listener sharing one client
 * list, maxClients counted over TLS, exceptions in client code on a TLS
 * connection, and client-initiated renegotiation refused.
 *
 * Loopback only, port 0; everything waits on events or process output.
 */
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { DevIdentity, SslSrvSecurity, TSslContext, createDevCertificate } from '@ics-ts/ssl-context';
import { SERVER_DEFAULTS, TWSocketClient, TWSocketServer, TooBusyInfo } from '@ics-ts/wsocket-server';
import { EchoClient, Peer, connectClient, disconnects, startServer } from './helpers';
import { TlsPeer, connectTls, runSClient, trackSocket } from './tls-peer';

// ---------------------------------------------------------------- openssl s_client

interface SClient {
  code: number | null;
  stdout: string;
  stderr: string;
  /** From -brief's "Protocol version:" line. */
  protocol?: string;
  /** From -brief's "Ciphersuite:" line. */
  cipher?: string;
  /** The first line the server sent (the banner), when one came. */
  firstLine?: string;
}

/**
 * `openssl s_client -brief -connect 127.0.0.1:PORT -servername localhost ...args`
 * with stdin piped: waits for the first line from the server, optionally sends
 * `send` (with -crlf) and waits for `expectReply`, then closes stdin so
 * s_client hangs up. A handshake failure ends it by itself; a kill timer bounds it.
 */
async function sClient(port: number, args: string[], dialog: { send?: string; expectReply?: string } = {}): Promise<SClient> {
  const { code, stdout, stderr } = await runSClient(
    ['-brief', '-nocommands', '-crlf', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', ...args],
    {
      firstLineCame: (out) => out.includes('\n'),
      send: dialog.send,
      replyCame: (out) => dialog.expectReply !== undefined && out.includes(dialog.expectReply),
    },
  );
  const all = `${stdout}\n${stderr}`;
  const firstLine = stdout.includes('\n') ? stdout.slice(0, stdout.indexOf('\n')).replace(/\r$/, '') : undefined;
  return {
    code,
    stdout,
    stderr,
    protocol: /Protocol version: (\S+)/.exec(all)?.[1],
    cipher: /Ciphersuite: (\S+)/.exec(all)?.[1],
    firstLine,
  };
}

// ---------------------------------------------------------------- fixtures

let dev: DevIdentity;

beforeAll(async () => {
  dev = await createDevCertificate({ names: ['localhost', '127.0.0.1'] });
});

function ctxOptions(extra: Partial<ConstructorParameters<typeof TSslContext>[0]> = {}) {
  return { sslCert: dev.cert, sslKey: dev.key, ...extra };
}

// ---------------------------------------------------------------- tests

describe('openssl s_client against a TLS TWSocketServer', () => {
  test('TLS 1.3: the banner comes over TLS, a line round trip works, protocol and cipher as the level says', async () => {
    const server = await startServer({ clientClass: EchoClient, banner: 'welcome over tls', sslEnable: true, sslContext: ctxOptions() });
    const seen: { protocol: string; cipher: string; serverName: string }[] = [];
    server.on('clientConnect', (client) => {
      const facts = client.tls!;
      seen.push({ protocol: facts.protocol, cipher: facts.cipher, serverName: facts.serverName });
    });
    const result = await sClient(server.bindPort, ['-tls1_3'], { send: 'hello', expectReply: 'echo hello' });
    expect(result.code).toBe(0);
    expect(result.protocol).toBe('TLSv1.3');
    expect(result.cipher).toBe('TLS_AES_256_GCM_SHA384');
    expect(result.firstLine).toBe('welcome over tls');
    expect(result.stdout).toContain('echo hello\r\n');
    expect(seen).toEqual([{ protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', serverName: 'localhost' }]);
    expect(server.sslHandshakeErrors).toBe(0);
  });

  test('TLS 1.2: ECDHE-ECDSA AES-GCM, and the banner', async () => {
    const server = await startServer({ banner: 'hi 1.2', sslEnable: true, sslContext: ctxOptions() });
    const result = await sClient(server.bindPort, ['-tls1_2']);
    expect(result.code).toBe(0);
    expect(result.protocol).toBe('TLSv1.2');
    expect(result.cipher).toMatch(/^ECDHE-ECDSA-(AES128|AES256)-GCM-SHA(256|384)$|^ECDHE-ECDSA-CHACHA20-POLY1305$/);
    expect(result.firstLine).toBe('hi 1.2');
  });

  test('s_client against a plain listener: no handshake, s_client fails, nothing counted as a TLS error', async () => {
    const server = await startServer({ banner: 'plain banner' });
    const result = await sClient(server.bindPort, ['-tls1_3']);
    expect(result.code).not.toBe(0);
    expect(result.protocol).toBeUndefined();
    expect(server.sslHandshakeErrors).toBe(0);
  });
});

describe('security levels through TWSocketServer (openssl s_client probes)', () => {
  const PROBES = {
    /** TLS 1.1, the client dropping to OpenSSL level 0 even to offer it. */
    tls11: ['-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0'],
    /** TLS 1.2, forward-secret AEAD. */
    tls12: ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES256-GCM-SHA384'],
    /** TLS 1.2, CBC with a SHA1 MAC: legacy. */
    cbc: ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-SHA'],
    /** TLS 1.3. */
    tls13: ['-tls1_3', '-ciphersuites', 'TLS_AES_256_GCM_SHA384'],
    /** TLS 1.3, CHACHA20 only. */
    tls13chacha: ['-tls1_3', '-ciphersuites', 'TLS_CHACHA20_POLY1305_SHA256'],
  } as const;
  type Probe = keyof typeof PROBES;
  const CIPHER: Record<Probe, string> = {
    tls11: '',
    tls12: 'ECDHE-ECDSA-AES256-GCM-SHA384',
    cbc: 'ECDHE-ECDSA-AES128-SHA',
    tls13: 'TLS_AES_256_GCM_SHA384',
    tls13chacha: 'TLS_CHACHA20_POLY1305_SHA256',
  };
  const EXPECTED: Partial<Record<SslSrvSecurity, Record<Probe, boolean>>> = {
    high: { tls11: false, tls12: true, cbc: false, tls13: true, tls13chacha: true },
    tls12Less: { tls11: false, tls12: true, cbc: false, tls13: false, tls13chacha: false },
    tls13Only: { tls11: false, tls12: false, cbc: false, tls13: true, tls13chacha: true },
    back: { tls11: false, tls12: true, cbc: true, tls13: true, tls13chacha: true },
  };

  test.each(Object.keys(EXPECTED) as SslSrvSecurity[])('%s: refuses and accepts what it must; accepted ones get the banner', async (level) => {
    const expected = EXPECTED[level]!;
    const server = await startServer({
      banner: `level ${level}`,
      sslEnable: true,
      sslContext: ctxOptions({ sslSrvSecurity: level }),
      sslHandshakeTimeout: 5000,
    });
    expect(server.sslContext!.profile.level).toBe(level);
    const facts: { protocol: string; cipher: string }[] = [];
    server.on('clientConnect', (client) => facts.push({ protocol: client.tls!.protocol, cipher: client.tls!.cipher }));
    const failures: Error[] = [];
    server.on('sslHandshakeError', (failure) => failures.push(failure.error));

    const names = Object.keys(PROBES) as Probe[];
    const results = await Promise.all(names.map((name) => sClient(server.bindPort, [...PROBES[name]])));
    const got = Object.fromEntries(names.map((name, i) => [name, results[i]])) as Record<Probe, SClient>;
    const accepted = Object.fromEntries(names.map((name) => [name, got[name].code === 0 && got[name].firstLine === `level ${level}`]));
    expect(accepted).toEqual(expected);

    const acceptedNames = names.filter((name) => expected[name]);
    for (const name of acceptedNames) {
      expect([got[name].protocol, got[name].cipher]).toEqual([name.startsWith('tls13') ? 'TLSv1.3' : 'TLSv1.2', CIPHER[name]]);
    }
    // The server saw the same protocol/cipher on its side, once per accepted probe.
    const expectedFacts = acceptedNames.map((name) => ({ protocol: name.startsWith('tls13') ? 'TLSv1.3' : 'TLSv1.2', cipher: CIPHER[name] }));
    const sortKey = (f: { protocol: string; cipher: string }) => `${f.protocol} ${f.cipher}`;
    expect(facts.map(sortKey).sort()).toEqual(expectedFacts.map(sortKey).sort());

    // Refused: each one counted as a handshake error and reported through the event.
    const refused = names.length - acceptedNames.length;
    expect(server.sslHandshakeErrors).toBe(refused);
    expect(failures).toHaveLength(refused);
  });
});

describe('TLS facts on the client object', () => {
  test('protocol, cipher, serverName (SNI), alpnProtocol, peerCertificate (none without mTLS), sslEnabled', async () => {
    const server = await startServer({
      clientClass: EchoClient,
      banner: 'imap ready',
      sslEnable: true,
      sslContext: ctxOptions({ alpnProtocols: ['imap'] }),
    });
    const { peer, client } = await connectTls(server, server.bindPort, {
      servername: 'localhost',
      ALPNProtocols: ['imap'],
      minVersion: 'TLSv1.3',
    });
    expect(await peer.nextLine()).toBe('imap ready');
    expect(peer.socket.alpnProtocol).toBe('imap');
    expect(client.sslEnabled).toBe(true);
    const facts = client.tls!;
    expect(facts.protocol).toBe('TLSv1.3');
    expect(facts.cipher).toBe('TLS_AES_256_GCM_SHA384');
    expect(facts.serverName).toBe('localhost');
    expect(facts.alpnProtocol).toBe('imap');
    expect(facts.peerCertificate).toBeUndefined();
    expect(facts.authorized).toBe(false);
    expect(await peer.ask('x')).toBe('echo x');
  });

  test('no SNI and no ALPN: serverName and alpnProtocol are empty', async () => {
    const server = await startServer({ sslEnable: true, sslContext: ctxOptions({ alpnProtocols: ['imap'] }) });
    // Node sends no SNI for an IP address host unless servername is given; '' turns it off explicitly.
    const { client } = await connectTls(server, server.bindPort, { servername: '' });
    expect(client.tls!.serverName).toBe('');
    expect(client.tls!.alpnProtocol).toBe('');
  });

  test('the facts stay readable after the client closed (read during the session)', async () => {
    const server = await startServer({ sslEnable: true, sslContext: ctxOptions({ alpnProtocols: ['imap'] }) });
    const { peer, client } = await connectTls(server, server.bindPort, { ALPNProtocols: ['imap'] });
    const during = { ...client.tls! };
    const gone = disconnects(server, 1);
    await peer.end();
    await gone;
    expect(client.state).toBe('closed');
    expect(client.tls).toEqual(during);
    expect(client.tls!.protocol).toBe('TLSv1.3');
  });

  // The facts are read at admission, while the handshake is fresh: a destroyed TLSSocket has none.
  test('the facts stay readable after the client closed, never read before (cached at admission)', async () => {
    const server = await startServer({ sslEnable: true, sslContext: ctxOptions({ alpnProtocols: ['imap'] }) });
    const { peer, client } = await connectTls(server, server.bindPort, { ALPNProtocols: ['imap'] });
    const gone = disconnects(server, 1);
    await peer.end();
    await gone;
    expect(client.tls).toMatchObject({
      protocol: 'TLSv1.3',
      cipher: 'TLS_AES_256_GCM_SHA384',
      serverName: 'localhost',
      alpnProtocol: 'imap',
    });
  });

  test('a plain connection has no TLS facts', async () => {
    const server = await startServer();
    const { client } = await connectClient(server);
    expect(client.tls).toBeUndefined();
    expect(client.sslEnabled).toBe(false);
  });
});

describe('a plain listener and a TLS listener on one server', () => {
  test('they share the client list; each client knows its listener and whether it is TLS', async () => {
    const server = await startServer({
      clientClass: EchoClient,
      banner: 'hello',
      sslContext: ctxOptions(), // the server's context: the default of TLS listeners
      multiListenSockets: [{ addr: '127.0.0.1', port: 0, sslEnable: true }],
    });
    const [main, tlsListener] = server.listenSockets;
    expect(main.status.tls).toBe(false);
    expect(tlsListener.status.tls).toBe(true);
    expect(tlsListener.url).toMatch(/^tls:\/\/127\.0\.0\.1:\d+$/);

    const plain = await connectClient(server);
    const secure = await connectTls(server, tlsListener.bindPort);
    expect(await plain.peer.nextLine()).toBe('hello');
    expect(await secure.peer.nextLine()).toBe('hello');
    expect(server.clientCount).toBe(2);
    expect(server.clients).toEqual([plain.client, secure.client]);
    expect([plain.client.multiListenIndex, secure.client.multiListenIndex]).toEqual([-1, 0]);
    expect([plain.client.sslEnabled, secure.client.sslEnabled]).toEqual([false, true]);
    expect([plain.client.cliId, secure.client.cliId]).toEqual([1, 2]);
    expect(await plain.peer.ask('p')).toBe('echo p');
    expect(await secure.peer.ask('s')).toBe('echo s');

    // A TLS client leaving takes its place out of the shared list, the plain one stays.
    const gone = disconnects(server, 1);
    await secure.peer.end();
    await gone;
    expect(server.clients).toEqual([plain.client]);
    expect(await plain.peer.ask('still')).toBe('echo still');
  });

  test('a TLS item with its own sslContext; the main listener TLS with the server context', async () => {
    const other = await createDevCertificate({ names: ['localhost', '127.0.0.1'] });
    const server = await startServer({
      banner: 'b',
      sslEnable: true,
      sslContext: ctxOptions(),
      multiListenSockets: [{ addr: '127.0.0.1', port: 0, sslEnable: true, sslContext: { sslCert: other.cert, sslKey: other.key } }],
    });
    const a = await TlsPeer.connect(server.bindPort);
    const b = await TlsPeer.connect(server.listenSockets[1].bindPort);
    expect(a.socket.getPeerCertificate().fingerprint256).toBe(new X509Certificate(dev.cert).fingerprint256);
    expect(b.socket.getPeerCertificate().fingerprint256).toBe(new X509Certificate(other.cert).fingerprint256);
    expect(await a.nextLine()).toBe('b');
    expect(await b.nextLine()).toBe('b');
  });
});

describe('maxClients over TLS', () => {
  /** Two places over TLS: banner 'hi', bannerTooBusy 'too busy'. */
  function twoPlaces() {
    return { banner: 'hi', bannerTooBusy: 'too busy', maxClients: 2, sslEnable: true, sslContext: ctxOptions() };
  }

  test('maxClients 2: two served, the third gets bannerTooBusy over TLS after the handshake; clientCount never above 2', async () => {
    const server = await startServer({ clientClass: EchoClient, ...twoPlaces() });
    let most = 0;
    server.on('clientConnect', () => (most = Math.max(most, server.clientCount)));
    const busy: TooBusyInfo[] = [];
    server.on('tooBusy', (info) => busy.push(info));

    const a = await connectTls(server, server.bindPort);
    const b = await connectTls(server, server.bindPort);
    expect(await a.peer.nextLine()).toBe('hi');
    expect(await b.peer.nextLine()).toBe('hi');

    // The handshake completes (secureConnect), then the busy line comes encrypted, then the end.
    const c = await TlsPeer.connect(server.bindPort);
    const cPort = c.localPort;
    expect(c.socket.getProtocol()).toBe('TLSv1.3');
    expect(await c.nextLine()).toBe('too busy');
    await c.closed;
    expect(c.received).toBe('too busy\r\n');
    expect(c.sawEnd).toBe(true);
    expect(server.tooBusyCount).toBe(1);
    expect(busy).toEqual([{ peerAddr: '127.0.0.1', peerPort: cPort, multiListenIndex: -1 }]);
    expect(server.clientCount).toBe(2);
    expect(server.sslHandshakeErrors).toBe(0);

    // A freed place admits again.
    const gone = disconnects(server, 1);
    await a.peer.end();
    await gone;
    const d = await connectTls(server, server.bindPort);
    expect(await d.peer.nextLine()).toBe('hi');
    expect(await b.peer.ask('b')).toBe('echo b');
    expect(most).toBe(2);
  });

  test('three at once: connections still in their handshake count, so exactly two are served', async () => {
    let constructed = 0;
    class Counted extends TWSocketClient {
      constructor() {
        super();
        constructed++;
      }
    }
    const server = await startServer<TWSocketClient>({ clientClass: Counted, ...twoPlaces() });
    let most = 0;
    server.on('clientConnect', () => (most = Math.max(most, server.clientCount)));
    const peers = await Promise.all([0, 1, 2, 3, 4].map(() => TlsPeer.connect(server.bindPort)));
    const first = await Promise.all(peers.map((p) => p.nextLine()));
    expect(first.filter((l) => l === 'hi')).toHaveLength(2);
    expect(first.filter((l) => l === 'too busy')).toHaveLength(3);
    expect(server.clientCount).toBe(2);
    expect(server.tooBusyCount).toBe(3);
    expect(most).toBe(2);
    expect(constructed).toBe(2); // no client object for a connection turned away
  });

  test('a failed handshake gives its place back', async () => {
    const server = await startServer({ banner: 'hi', maxClients: 1, sslEnable: true, sslContext: ctxOptions(), sslHandshakeTimeout: 300 });
    const failed = once(server, 'sslHandshakeError');
    const stalled = await Peer.connect(server.bindPort);
    stalled.send(Buffer.from([0x16, 0x03]) as unknown as string); // not even a record header: the handshake stalls
    await failed;
    await stalled.closed;
    const ok = await TlsPeer.connect(server.bindPort);
    expect(await ok.nextLine()).toBe('hi');
    expect(server.tooBusyCount).toBe(0);
  });
});

describe('client code on a TLS connection', () => {
  class Fragile extends EchoClient {
    protected override onLine(line: string): void {
      if (line === 'boom') throw new Error(`boom from client ${this.cliId}`);
      super.onLine(line);
    }
  }

  test('an exception in onLine goes to bgException, that client is aborted, the others continue', async () => {
    const server = await startServer({ clientClass: Fragile, sslEnable: true, sslContext: ctxOptions() });
    const bystander = await connectTls(server, server.bindPort);
    const victim = await connectTls(server, server.bindPort);
    const bg = once(server, 'bgException') as Promise<[Error, TWSocketClient | undefined]>;
    const gone = disconnects(server, 1);
    victim.peer.socket.write('boom\r\n');
    const [error, client] = await bg;
    await gone;
    await victim.peer.closed;
    expect(error.message).toBe(`boom from client ${victim.client.cliId}`);
    expect(client).toBe(victim.client);
    expect(server.clients).toEqual([bystander.client]);
    expect(await bystander.peer.ask('alive')).toBe('echo alive');
    // A new TLS client still works too.
    const late = await connectTls(server, server.bindPort);
    expect(await late.peer.ask('late')).toBe('echo late');
    expect(server.sslHandshakeErrors).toBe(0);
  });

  test('the peer ends its side after a last unterminated line: the line is answered over TLS, then the connection closes cleanly', async () => {
    // The handshake's own end/close/error listeners stay on the socket after admission; they must do nothing then.
    const server = await startServer({ clientClass: EchoClient, sslEnable: true, sslContext: ctxOptions() });
    const { peer, client } = await connectTls(server, server.bindPort);
    const gone = disconnects(server, 1);
    const closedWith = once(client, 'sessionClosed') as Promise<[Error | undefined]>;
    expect(await peer.ask('first')).toBe('echo first');
    peer.socket.write('last words');
    peer.socket.end();
    expect(await peer.nextLine()).toBe('echo last words');
    await gone;
    await peer.closed;
    expect(await closedWith).toEqual([undefined]);
    expect(server.sslHandshakeErrors).toBe(0);
  });

  // A server TLSSocket made outside tls.Server reports a refused renegotiation only as '_tlsError':
  // tls-handshake.ts ends the connection on it.
  test('client-initiated renegotiation (TLS 1.2) is refused: that connection ends, the server goes on', async () => {
    const server = await startServer({ clientClass: EchoClient, sslEnable: true, sslContext: ctxOptions() });
    const bystander = await connectTls(server, server.bindPort);
    const { peer, client } = await connectTls(server, server.bindPort, { maxVersion: 'TLSv1.2' });
    expect(client.tls!.protocol).toBe('TLSv1.2');
    const outcome = await new Promise<'refused' | 'renegotiated'>((resolve) => {
      server.once('clientDisconnect', () => resolve('refused'));
      const started = peer.socket.renegotiate({ rejectUnauthorized: false }, (err) => {
        if (!err) resolve('renegotiated');
      });
      expect(started).toBe(true);
    });
    expect(outcome).toBe('refused');
    await peer.closed;
    expect((client.lastError as NodeJS.ErrnoException | undefined)?.code).toBe('ERR_TLS_RENEGOTIATION_DISABLED');
    expect(server.clients).toEqual([bystander.client]);
    expect(await bystander.peer.ask('ok')).toBe('echo ok');
  });
});

describe('TLS errors after the handshake', () => {
  /** Rejects with `what` if `promise` has not settled within `ms` (a bound for a failing run, not a wait). */
  function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
    });
    return Promise.race([promise, bound]).finally(() => clearTimeout(timer));
  }

  // Same cause: a fatal TLS error after the handshake must end the connection, with that error as the reason.
  test('a corrupted record: the server drops the connection itself; the client leaves with the TLS error', async () => {
    const server = await startServer({ clientClass: EchoClient, banner: 'b', sslEnable: true, sslContext: ctxOptions() });
    const raw = trackSocket(new net.Socket());
    const rawConnected = once(raw, 'connect');
    raw.connect(server.bindPort, '127.0.0.1');
    await rawConnected;
    const secured = tls.connect({ socket: raw, servername: 'localhost', rejectUnauthorized: false });
    try {
      secured.on('error', () => undefined); // the server's alert; we do not close on it
      const gone = once(server, 'clientDisconnect') as Promise<[TWSocketClient, Error | undefined]>;
      await new Promise((resolve) => secured.once('data', resolve)); // the banner: the client is admitted
      expect(server.clientCount).toBe(1);
      // An application-data record that does not decrypt, written under the TLS layer.
      raw.write(Buffer.concat([Buffer.from([0x17, 0x03, 0x03, 0x00, 0x20]), Buffer.alloc(32, 7)]));
      const [, error] = await within(gone, 1000, 'clientDisconnect after a fatal TLS error');
      expect(server.clientCount).toBe(0);
      expect(error?.message).toMatch(/bad record mac|decryption failed/);
    } finally {
      const closed = new Promise((resolve) => secured.once('close', resolve));
      secured.destroy();
      await closed;
    }
  });

  test('a corrupted record from a peer that then closes: the client leaves the list', async () => {
    const server = await startServer({ clientClass: EchoClient, banner: 'b', sslEnable: true, sslContext: ctxOptions() });
    const bystander = await connectTls(server, server.bindPort);
    expect(await bystander.peer.nextLine()).toBe('b');
    const raw = trackSocket(new net.Socket());
    const rawConnected = once(raw, 'connect');
    raw.connect(server.bindPort, '127.0.0.1');
    await rawConnected;
    const secured = tls.connect({ socket: raw, servername: 'localhost', rejectUnauthorized: false });
    secured.on('error', () => secured.destroy()); // a normal client hangs up on a fatal alert
    const closed = new Promise((resolve) => secured.once('close', resolve));
    const gone = once(server, 'clientDisconnect');
    await new Promise((resolve) => secured.once('data', resolve));
    raw.write(Buffer.concat([Buffer.from([0x17, 0x03, 0x03, 0x00, 0x20]), Buffer.alloc(32, 7)]));
    await closed;
    await gone;
    expect(server.clients).toEqual([bystander.client]);
    expect(await bystander.peer.ask('fine')).toBe('echo fine');
  });
});

describe('session resumption', () => {
  /** Connects (offering `session`), waits for the banner, closes; says whether the session was resumed. */
  async function resumed(port: number, session: Buffer): Promise<boolean> {
    const peer = await TlsPeer.connect(port, { session });
    expect(await peer.nextLine()).toBe('hi');
    const reused = peer.socket.isSessionReused();
    await peer.end();
    return reused;
  }

  test('a TLS 1.3 client resumes its session on the same context; not after a reload (new ticket keys)', async () => {
    const ctx = new TSslContext(ctxOptions());
    const server = await startServer({ banner: 'hi', sslEnable: true, sslContext: ctx });
    const first = await TlsPeer.connect(server.bindPort);
    expect(await first.nextLine()).toBe('hi');
    const session = await first.session; // the ticket comes after the handshake
    expect(first.socket.isSessionReused()).toBe(false);
    await first.end();
    expect(await resumed(server.bindPort, session)).toBe(true);
    expect(ctx.reload(true)).toEqual({ changed: true });
    expect(await resumed(server.bindPort, session)).toBe(false);
  });
});

describe('defaults', () => {
  test('the handshake timeout default is well under Node 120 s', () => {
    expect(SERVER_DEFAULTS.sslHandshakeTimeout).toBeGreaterThan(0);
    expect(SERVER_DEFAULTS.sslHandshakeTimeout).toBeLessThanOrEqual(30_000);
  });

  test('sslHandshakeTimeout and sslContext are checked, the message naming the option', () => {
    expect(() => new TWSocketServer({ sslHandshakeTimeout: -1 })).toThrow(/option sslHandshakeTimeout must be an integer number of ms from 0 to 2147483647, got -1/);
    // a Node timer longer than 2^31-1 ms fires after 1 ms: every handshake would time out at once
    expect(() => new TWSocketServer({ sslHandshakeTimeout: 2 ** 31 })).toThrow(/option sslHandshakeTimeout must be an integer number of ms from 0 to 2147483647, got 2147483648/);
    expect(() => new TWSocketServer({ tooBusyCloseTimeout: 1e12 })).toThrow(/option tooBusyCloseTimeout must be an integer number of ms from 0 to 2147483647, got 1000000000000/);
    expect(() => new TWSocketServer({ sslCertRecheckInterval: 2 ** 31 })).toThrow(/option sslCertRecheckInterval must be an integer number of ms from 0 to 2147483647, got 2147483648/);
    expect(() => new TWSocketServer({ sslHandshakeTimeout: 1.5 })).toThrow(RangeError);
    expect(() => new TWSocketServer({ sslContext: 'cert.pem' as never })).toThrow(/option sslContext must be a TSslContext or its options/);
    expect(() => new TWSocketServer({ sslContext: { sslCert: dev.cert, sslKey: dev.key, sslSrvSecurity: 'ultra' as never } })).toThrow(
      /option sslContext: option sslSrvSecurity must be one of/,
    );
  });

  test('sslEnable without an sslContext is refused, naming the option', () => {
    expect(() => new TWSocketServer({ sslEnable: true })).toThrow(/sslEnable needs option sslContext/);
    expect(() => new TWSocketServer({ multiListenSockets: [{ addr: '127.0.0.1', port: 0, sslEnable: true }] })).toThrow(
      /multiListenSockets\[0\]\.sslEnable needs an sslContext/,
    );
  });
});
