/**
 * Failed TLS handshakes on a TWSocketServer TLS port: garbage bytes, half a
 * ClientHello, plain text, peers that hang up. Each is closed (at once, or by
 * a small sslHandshakeTimeout), counted in sslHandshakeErrors and reported by
 * the sslHandshakeError event, never as a crash or a client; the server keeps
 * serving good clients and gives the places back for maxClients.
 *
 * Loopback only, port 0; everything waits on events, no sleeps.
 */
import { once } from 'node:events';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { DevIdentity, createDevCertificate } from '@ics-ts/ssl-context';
import { HandshakeFailure, TWSocketClient, TWSocketServer } from '@ics-ts/wsocket-server';
import { EchoClient, Peer, startServer } from './helpers';
import { trackSocket } from './tls-peer';

let dev: DevIdentity;
/** A real ClientHello record, captured from Node's TLS client. */
let clientHello: Buffer;

beforeAll(async () => {
  dev = await createDevCertificate({ names: ['localhost', '127.0.0.1'] });
  clientHello = await captureClientHello();
});

/** The first TLS record a Node client sends (its ClientHello), read by a plain TCP server. */
async function captureClientHello(): Promise<Buffer> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const client = tls.connect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port, servername: 'localhost' });
  client.on('error', () => undefined);
  const [raw] = await accepted;
  let data = Buffer.alloc(0);
  await new Promise<void>((resolve) => {
    raw.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      if (data.length >= 5 && data.length >= 5 + data.readUInt16BE(3)) resolve();
    });
  });
  const closed = [once(raw, 'close'), once(client, 'close'), once(server, 'close')];
  raw.destroy();
  client.destroy();
  server.close();
  await Promise.all(closed);
  expect(data[0]).toBe(0x16); // handshake record
  expect(data[5]).toBe(0x01); // client_hello
  return data.subarray(0, 5 + data.readUInt16BE(3));
}

function tlsServer(extra: Record<string, unknown> = {}): Promise<TWSocketServer<EchoClient>> {
  return startServer<EchoClient>({
    clientClass: EchoClient,
    banner: 'tls ready',
    sslEnable: true,
    sslContext: { sslCert: dev.cert, sslKey: dev.key },
    sslHandshakeTimeout: 300,
    ...extra,
  });
}

/** A good TLS client: handshake, banner, one line round trip. */
async function goodClientWorks(port: number): Promise<void> {
  const socket = trackSocket(tls.connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false }));
  socket.setEncoding('utf8');
  let received = '';
  const lines = new Promise<void>((resolve, reject) => {
    socket.on('data', (text: string) => {
      received += text;
      if (received === 'tls ready\r\n') socket.write('ping\r\n');
      if (received === 'tls ready\r\necho ping\r\n') resolve();
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`closed; received ${JSON.stringify(received)}`)));
  });
  await lines;
  const closed = once(socket, 'close');
  socket.end();
  await closed;
}

/** Records what the server reports, and fails the test on anything that should not happen. */
function watch(server: TWSocketServer<TWSocketClient>) {
  const failures: HandshakeFailure[] = [];
  const created: TWSocketClient[] = [];
  const bg: unknown[] = [];
  server.on('sslHandshakeError', (failure) => failures.push(failure));
  server.on('clientCreate', (client) => created.push(client));
  server.on('bgException', (error) => bg.push(error));
  return { failures, created, bg };
}

function nextFailure(server: TWSocketServer<TWSocketClient>): Promise<HandshakeFailure> {
  return (once(server, 'sslHandshakeError') as Promise<[HandshakeFailure]>).then(([f]) => f);
}

describe('stalled handshakes are closed by sslHandshakeTimeout', () => {
  test('half a ClientHello: timed out, closed, counted, reported with the peer address; the server still serves', async () => {
    const server = await tlsServer();
    const seen = watch(server);
    const failed = nextFailure(server);
    const peer = await Peer.connect(server.bindPort);
    const peerPort = peer.localPort;
    peer.socket.write(clientHello.subarray(0, Math.floor(clientHello.length / 2)));
    const failure = await failed;
    await peer.closed;
    expect((failure.error as NodeJS.ErrnoException).code).toBe('ERR_TLS_HANDSHAKE_TIMEOUT');
    expect(failure).toMatchObject({ peerAddr: '127.0.0.1', peerPort, multiListenIndex: -1 });
    expect(peer.received).toBe(''); // no banner, no bannerTooBusy: nothing in clear
    expect(server.sslHandshakeErrors).toBe(1);
    expect(seen.created).toEqual([]);
    expect(seen.bg).toEqual([]);
    expect(server.clientCount).toBe(0);
    await goodClientWorks(server.bindPort);
    expect(server.sslHandshakeErrors).toBe(1);
  });

  test('garbage shorter than a record header: timed out the same way', async () => {
    const server = await tlsServer();
    const seen = watch(server);
    const failed = nextFailure(server);
    const peer = await Peer.connect(server.bindPort);
    peer.socket.write(Buffer.from([0x16, 0x03, 0x01]));
    const failure = await failed;
    await peer.closed;
    expect((failure.error as NodeJS.ErrnoException).code).toBe('ERR_TLS_HANDSHAKE_TIMEOUT');
    expect(failure.peerPort).toBe(peer.localPort);
    expect(server.sslHandshakeErrors).toBe(1);
    expect(seen.created).toEqual([]);
    await goodClientWorks(server.bindPort);
  });

  test('a record header announcing 16 KB, then garbage: timed out', async () => {
    const server = await tlsServer();
    const failed = nextFailure(server);
    const peer = await Peer.connect(server.bindPort);
    peer.socket.write(Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x40, 0x00]), Buffer.alloc(100, 0xa5)]));
    const failure = await failed;
    await peer.closed;
    expect((failure.error as NodeJS.ErrnoException).code).toBe('ERR_TLS_HANDSHAKE_TIMEOUT');
    await goodClientWorks(server.bindPort);
  });

  test('a peer dribbling its ClientHello a byte at a time does not extend the deadline', async () => {
    const server = await tlsServer(); // sslHandshakeTimeout 300
    const failed = nextFailure(server);
    const peer = await Peer.connect(server.bindPort);
    // One byte every 50 ms: an idle timer of 300 ms would never fire while the bytes keep coming (about 15 s).
    let sent = 0;
    const dribble = setInterval(() => {
      if (sent < clientHello.length && !peer.socket.destroyed) peer.socket.write(clientHello.subarray(sent, ++sent));
    }, 50);
    try {
      const failure = await failed;
      expect((failure.error as NodeJS.ErrnoException).code).toBe('ERR_TLS_HANDSHAKE_TIMEOUT');
      expect(sent).toBeLessThan(clientHello.length); // cut while the peer was still sending
      await peer.closed;
    } finally {
      clearInterval(dribble);
    }
    expect(server.sslHandshakeErrors).toBe(1);
    await goodClientWorks(server.bindPort);
  });

  test('a connection that sends nothing at all: timed out', async () => {
    const server = await tlsServer();
    const failed = nextFailure(server);
    const peer = await Peer.connect(server.bindPort);
    const failure = await failed;
    await peer.closed;
    expect((failure.error as NodeJS.ErrnoException).code).toBe('ERR_TLS_HANDSHAKE_TIMEOUT');
    expect(server.sslHandshakeErrors).toBe(1);
  });
});

describe('handshakes OpenSSL refuses at once', () => {
  test('a peer sending plain text to the TLS port: a handshake error (not a timeout), no crash, no client', async () => {
    const server = await tlsServer({ sslHandshakeTimeout: 10_000 }); // the error must not need the timeout
    const seen = watch(server);
    const failed = nextFailure(server);
    const peer = await Peer.connect(server.bindPort);
    peer.send('HELO mail.example\r\n');
    const failure = await failed;
    await peer.closed;
    expect((failure.error as NodeJS.ErrnoException).code).not.toBe('ERR_TLS_HANDSHAKE_TIMEOUT');
    expect(failure.error.message).toMatch(/wrong version number|http request|unknown protocol|record/i);
    expect(failure).toMatchObject({ peerAddr: '127.0.0.1', peerPort: peer.localPort, multiListenIndex: -1 });
    expect(seen.created).toEqual([]);
    expect(seen.bg).toEqual([]);
    expect(server.sslHandshakeErrors).toBe(1);
    await goodClientWorks(server.bindPort);
  });

  test('random garbage bytes: refused at once, counted', async () => {
    const server = await tlsServer({ sslHandshakeTimeout: 10_000 });
    const failed = nextFailure(server);
    const peer = await Peer.connect(server.bindPort);
    peer.socket.write(Buffer.from('ffeeddccbbaa99887766554433221100ffeeddccbbaa9988', 'hex'));
    const failure = await failed;
    await peer.closed;
    expect((failure.error as NodeJS.ErrnoException).code).not.toBe('ERR_TLS_HANDSHAKE_TIMEOUT');
    expect(server.sslHandshakeErrors).toBe(1);
    await goodClientWorks(server.bindPort);
  });

  test('a ClientHello offering only TLS 1.2 to a tls13Only server: refused, the client sees the alert', async () => {
    const server = await tlsServer({ sslContext: { sslCert: dev.cert, sslKey: dev.key, sslSrvSecurity: 'tls13Only' } });
    const failed = nextFailure(server);
    const socket = trackSocket(tls.connect({ host: '127.0.0.1', port: server.bindPort, rejectUnauthorized: false, maxVersion: 'TLSv1.2' }));
    const [clientError] = (await once(socket, 'error').catch((e: unknown) => [e])) as [Error];
    const failure = await failed;
    expect(clientError.message).toMatch(/protocol version|alert/i);
    expect(failure.error.message).toMatch(/unsupported protocol|version/i);
    expect(server.sslHandshakeErrors).toBe(1);
  });

  test('a peer that resets the connection before any byte: reported as a failed handshake, nothing else', async () => {
    const server = await tlsServer({ sslHandshakeTimeout: 10_000 });
    const seen = watch(server);
    const failed = nextFailure(server);
    const peer = await Peer.connect(server.bindPort);
    peer.socket.resetAndDestroy();
    const failure = await failed;
    expect((failure.error as NodeJS.ErrnoException).code).not.toBe('ERR_TLS_HANDSHAKE_TIMEOUT');
    expect(seen.created).toEqual([]);
    expect(server.sslHandshakeErrors).toBe(1);
    await goodClientWorks(server.bindPort);
  });

  // The listeners allow half-open sockets, which the TLSSocket inherits: a FIN during the handshake
  // (a port check, a client giving up) must end it at once, not hold a maxClients place until the timeout.
  test('a peer that connects and closes (FIN) before any byte: closed at once, not by the timeout', async () => {
    const server = await tlsServer({ sslHandshakeTimeout: 1000 });
    const seen = watch(server);
    const failed = nextFailure(server);
    const peer = await Peer.connect(server.bindPort);
    peer.socket.end();
    const failure = await failed;
    expect((failure.error as NodeJS.ErrnoException).code).not.toBe('ERR_TLS_HANDSHAKE_TIMEOUT');
    await peer.closed;
    expect(seen.created).toEqual([]);
    expect(server.sslHandshakeErrors).toBe(1);
  });
});

describe('many failures at once', () => {
  test('garbage, half hellos and plain text together, under maxClients: all closed and counted, the places come back', async () => {
    const server = await tlsServer({ maxClients: 3, sslHandshakeTimeout: 300 });
    const seen = watch(server);
    const kinds = [
      (p: Peer) => p.socket.write(clientHello.subarray(0, 40)),
      (p: Peer) => p.socket.write(Buffer.from([0x16])),
      (p: Peer) => p.send('GET / HTTP/1.0\r\n\r\n'),
    ];
    const total = 9;
    const allFailed = new Promise<void>((resolve) => {
      server.on('sslHandshakeError', () => {
        if (seen.failures.length === total) resolve();
      });
    });
    const peers = await Promise.all(Array.from({ length: total }, () => Peer.connect(server.bindPort)));
    peers.forEach((peer, i) => kinds[i % kinds.length](peer));
    await allFailed;
    await Promise.all(peers.map((p) => p.closed));
    expect(server.sslHandshakeErrors).toBe(total);
    // Connections over maxClients were handshaken as too busy: their failures count too, and
    // nobody was admitted, nobody was told "too busy" in clear text.
    expect(peers.every((p) => p.received === '')).toBe(true);
    expect(seen.created).toEqual([]);
    expect(seen.bg).toEqual([]);
    expect(new Set(seen.failures.map((f) => f.peerPort))).toEqual(new Set(peers.map((p) => p.localPort)));
    // All three places are free again: three good clients are served, not turned away.
    await Promise.all([0, 1, 2].map(() => goodClientWorks(server.bindPort)));
    expect(server.tooBusyCount).toBe(0);
  });
});

describe('reporting', () => {
  test('with no sslHandshakeError listener a failure is still counted, and nothing crashes', async () => {
    const server = await tlsServer();
    expect(server.listenerCount('sslHandshakeError')).toBe(0);
    const peer = await Peer.connect(server.bindPort);
    peer.send('not tls\r\n');
    await peer.closed;
    // the count is updated when the failure is handled, which happens before the close reaches us
    await goodClientWorks(server.bindPort);
    expect(server.sslHandshakeErrors).toBe(1);
  });

  test('an sslHandshakeError listener that throws: the exception goes to bgException, the server goes on', async () => {
    const server = await tlsServer();
    server.on('sslHandshakeError', () => {
      throw new Error('listener bug');
    });
    const bg = once(server, 'bgException') as Promise<[Error, TWSocketClient | undefined]>;
    const peer = await Peer.connect(server.bindPort);
    peer.send('not tls\r\n');
    const [error, client] = await bg;
    expect(error.message).toBe('listener bug');
    expect(client).toBeUndefined();
    await peer.closed;
    await goodClientWorks(server.bindPort);
  });

  test('a failure on a TLS multiListenSockets item names that item', async () => {
    const server = await startServer({
      banner: 'tls ready',
      sslContext: { sslCert: dev.cert, sslKey: dev.key },
      sslHandshakeTimeout: 300,
      multiListenSockets: [
        { addr: '127.0.0.1', port: 0 },
        { addr: '127.0.0.1', port: 0, sslEnable: true },
      ],
    });
    const failed = nextFailure(server);
    const peer = await Peer.connect(server.listenSockets[2].bindPort);
    peer.send('plain text\r\n');
    const failure = await failed;
    expect(failure.multiListenIndex).toBe(1);
    expect(failure.peerPort).toBe(peer.localPort);
    // the plain listeners are unaffected
    const plain = await Peer.connect(server.bindPort);
    expect(await plain.nextLine()).toBe('tls ready');
  });
});

describe('shutdown and connections in their handshake', () => {
  // shutdown() ends connections still in their TLS handshake: were they left, one whose
  // handshake completed afterwards would be admitted as a client of a server that shut down.
  test('a connection still in its handshake when shutdown() is called never becomes a client', async () => {
    const server = await tlsServer({ sslHandshakeTimeout: 10_000 });
    const created: TWSocketClient[] = [];
    server.on('clientCreate', (client) => created.push(client));
    // Accepted, handshake not started by the peer yet.
    const raw = await Peer.connect(server.bindPort);
    // A later connection's clientConnect proves the first was accepted too (accepted in order).
    await goodClientWorks(server.bindPort);
    expect(created).toHaveLength(1);
    await server.shutdown(1000);
    expect(server.clientCount).toBe(0);
    // Now the first peer starts its handshake over the connection it already has.
    const socket = trackSocket(tls.connect({ socket: raw.socket, servername: 'localhost', rejectUnauthorized: false }));
    socket.setEncoding('utf8');
    let received = '';
    socket.on('data', (text: string) => (received += text));
    socket.on('error', () => undefined);
    // Either the server drops it (right), or it admits it as a client (wrong): both come quickly.
    const admitted = once(server, 'clientConnect').then(() => true);
    // (events.once would reject on the socket's 'error', which the drop causes)
    const dropped = new Promise<boolean>((resolve) => socket.once('close', () => resolve(false)));
    expect(await Promise.race([admitted, dropped])).toBe(false);
    expect(received).toBe('');
    expect(created).toHaveLength(1);
  });
});
