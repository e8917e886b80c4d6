import { once } from 'node:events';
import * as net from 'node:net';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { createDevCertificate, DevIdentity } from '@ics-ts/ssl-context';
import { Refusal, TWSocketClient, TWSocketServer, WSocketServerOptions } from '@ics-ts/wsocket-server';
import { encodeV1, encodeV2 } from './fixtures/proxy-encoder';
import { EchoClient, Peer, startServer, track } from './helpers';
import { freePort } from '../../../test-support/haproxy';
import { trackSocket } from './tls-peer';

/**
 * The PROXY header stage on real loopback sockets: this test plays the load
 * balancer (127.0.0.1) and writes the headers itself (fixtures/proxy-encoder),
 * so every case, hostile ones included, is exact. A real HAProxy in front of
 * the server: proxy-haproxy.test.ts.
 */

const client = (sourceAddress: string, sourcePort: number) => ({
  family: (sourceAddress.includes(':') ? 'ipv6' : 'ipv4') as 'ipv4' | 'ipv6',
  sourceAddress,
  sourcePort,
  destinationAddress: sourceAddress.includes(':') ? '2001:db8::1' : '192.0.2.1',
  destinationPort: 443,
});

function proxyServer<C extends TWSocketClient = EchoClient>(options: WSocketServerOptions<C> = {}): Promise<TWSocketServer<C>> {
  return startServer<C>({ clientClass: EchoClient as never, proxyProtocol: 'auto', trustedProxies: ['127.0.0.1'], ...options });
}

/** Connects as the balancer, sends `bytes` in one write; resolves with the peer. */
async function balancer(port: number, ...writes: Buffer[]): Promise<Peer> {
  const peer = await Peer.connect(port);
  for (const bytes of writes) peer.socket.write(bytes);
  return peer;
}

function nextRefusal(server: TWSocketServer<TWSocketClient>): Promise<Refusal> {
  return once(server, 'refused').then(([refusal]) => refusal as Refusal);
}

describe('a listener that reads PROXY headers', () => {
  test('v1: the client is the address in the header; the balancer is proxyAddr; the line after the header arrives intact', async () => {
    const server = await proxyServer();
    const connected = once(server, 'clientConnect');
    const peer = await balancer(server.bindPort, Buffer.concat([encodeV1(client('203.0.113.7', 50123)), Buffer.from('hello\r\n')]));
    const [c] = (await connected) as [EchoClient];
    expect(c.peerAddr).toBe('203.0.113.7');
    expect(c.peerPort).toBe(50123);
    expect(c.proxyAddr).toBe('127.0.0.1');
    expect(c.proxyPort).toBe(peer.localPort);
    expect(c.proxy!.header).toMatchObject({ version: 1, command: 'proxy', endpoints: { destinationAddress: '192.0.2.1', destinationPort: 443 } });
    expect(await peer.nextLine()).toBe('echo hello');
  });

  test('v2 with TLVs, sent one byte per write: the TLVs read-only on the client, the first line intact', async () => {
    const server = await proxyServer({ proxyProtocol: 'v2' });
    const connected = once(server, 'clientConnect');
    const wire = Buffer.concat([encodeV2({ endpoints: client('2001:db8::42', 1), tlvs: [[0x02, 'app.example'], [0x05, 'id-1']], crc: true }), Buffer.from('first\r\n')]);
    const peer = await Peer.connect(server.bindPort);
    peer.socket.setNoDelay(true);
    for (let i = 0; i < wire.length; i++) peer.socket.write(wire.subarray(i, i + 1));
    const [c] = (await connected) as [EchoClient];
    expect(c.peerAddr).toBe('2001:db8::42');
    expect(c.proxy!.header.tlvs).toMatchObject({ authority: 'app.example', uniqueId: Buffer.from('id-1') });
    expect(await peer.nextLine()).toBe('echo first');
    expect(server.proxyHeaders).toMatchObject({ decoded: 1, healthChecks: 0, pending: 0 });
  });

  test('a peer not in trustedProxies is refused at once, no byte sent', async () => {
    const server = await proxyServer({ trustedProxies: ['10.0.0.0/8', '::1'] });
    const refused = nextRefusal(server);
    const peer = await balancer(server.bindPort, encodeV1(client('203.0.113.7', 1)));
    expect(await refused).toMatchObject({ reason: 'proxyUntrusted', peerAddr: '127.0.0.1', detail: 'not in trustedProxies' });
    await peer.closed;
    expect(peer.received).toBe('');
    expect(server.clientCount).toBe(0);
    expect(server.refusals.proxyUntrusted).toBe(1);
  });

  test.each([
    ['malformed', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 99999 1\r\nhello\r\n')],
    ['not-proxy', Buffer.from('hello, I am a client talking directly\r\n')],
    ['unsupported-version', Buffer.concat([encodeV2({ endpoints: client('203.0.113.7', 1) }), Buffer.from('x')])],
    ['bad-checksum', encodeV2({ endpoints: client('203.0.113.7', 1), crc: 'wrong' })],
  ])('%s: the connection is closed and counted; the server carries on', async (reason, bytes) => {
    const server = await proxyServer({ proxyProtocol: 'auto' });
    if (reason === 'unsupported-version') bytes[12] = 0x31;
    const refused = nextRefusal(server);
    const peer = await balancer(server.bindPort, bytes);
    expect(await refused).toMatchObject({ reason: 'proxyHeader', detail: `PROXY header: ${reason}` });
    await peer.closed;
    expect(server.proxyHeaders.failures[reason as 'malformed']).toBe(1);
    // And the next, good, connection is served.
    const connected = once(server, 'clientConnect');
    const good = await balancer(server.bindPort, Buffer.concat([encodeV1(client('198.51.100.1', 2)), Buffer.from('ok?\r\n')]));
    await connected;
    expect(await good.nextLine()).toBe('echo ok?');
  });

  test('oversized: a v2 header longer than proxyHeaderMaxBytes is refused from its first 16 bytes', async () => {
    const server = await proxyServer({ proxyHeaderMaxBytes: 64 });
    const refused = nextRefusal(server);
    const big = encodeV2({ endpoints: client('203.0.113.7', 1), tlvs: [[0xe0, Buffer.alloc(100)]] });
    const peer = await balancer(server.bindPort, big.subarray(0, 16));
    expect((await refused).detail).toBe('PROXY header: oversized');
    await peer.closed;
  });

  test('truncated: the balancer ends before the header is complete', async () => {
    const server = await proxyServer();
    const refused = nextRefusal(server);
    const peer = await balancer(server.bindPort, encodeV2({ endpoints: client('203.0.113.7', 1) }).subarray(0, 20));
    peer.socket.end();
    expect((await refused).detail).toBe('PROXY header: truncated');
    expect(server.proxyHeaders.failures.truncated).toBe(1);
  });

  test('timeout: a header that does not come in proxyHeaderTimeout closes the connection (one sweep, no timer per socket)', async () => {
    const server = await proxyServer({ proxyHeaderTimeout: 40 });
    const refused = nextRefusal(server);
    const silent = await balancer(server.bindPort, Buffer.from('PROXY TCP4 1.2.'));
    expect(server.connectionCount).toBe(1); // held while it waits: maxConnections counts it
    expect((await refused).detail).toBe('PROXY header: timeout');
    await silent.closed;
    expect(server.proxyHeaders).toMatchObject({ pending: 0, failures: expect.objectContaining({ timeout: 1 }) });
  });

  test('LOCAL (a health check) is closed cleanly and never becomes a client', async () => {
    const server = await proxyServer();
    let connects = 0;
    server.on('clientConnect', () => connects++);
    const checked = once(server, 'proxyHealthCheck');
    const peer = await balancer(server.bindPort, encodeV2({ command: 'local' }));
    expect((await checked)[0]).toEqual({ proxyAddr: '127.0.0.1', proxyPort: peer.localPort, multiListenIndex: -1 });
    const hadError = await peer.closed;
    expect(hadError).toBe(false);
    expect(peer.sawEnd).toBe(true);
    expect(connects).toBe(0);
    expect(server.proxyHeaders).toMatchObject({ decoded: 1, healthChecks: 1 });
    expect(server.refusals.proxyHeader).toBe(0);
  });

  test('v1 UNKNOWN and v2 AF_UNSPEC: a client with the balancer\'s own address', async () => {
    const server = await proxyServer();
    for (const header of [encodeV1(undefined), encodeV2({})]) {
      const connected = once(server, 'clientConnect');
      const peer = await balancer(server.bindPort, header);
      const [c] = (await connected) as [EchoClient];
      expect([c.peerAddr, c.peerPort, c.proxyAddr, c.proxyPort]).toEqual(['127.0.0.1', peer.localPort, '127.0.0.1', peer.localPort]);
      expect(c.proxy!.header.endpoints).toBeUndefined();
    }
  });

  test('deny, the accept filter and maxClientsPerIp see the client\'s address, not the balancer\'s', async () => {
    const seen: string[] = [];
    const server = await proxyServer({
      deny: ['203.0.113.0/24'],
      maxClientsPerIp: 1,
      bannerTooBusyPerIp: 'one per address',
      acceptFilter: (peer) => void seen.push(`${peer.peerAddr}:${peer.peerPort}`),
    });
    const refused = nextRefusal(server);
    await balancer(server.bindPort, encodeV1(client('203.0.113.9', 7)));
    expect(await refused).toMatchObject({ reason: 'deny', peerAddr: '203.0.113.9', peerPort: 7 });

    const first = once(server, 'clientConnect');
    await balancer(server.bindPort, encodeV1(client('198.51.100.1', 1)));
    await first;
    const busy = await balancer(server.bindPort, encodeV1(client('198.51.100.1', 2)));
    expect(await busy.nextLine()).toBe('one per address');
    const other = once(server, 'clientConnect');
    await balancer(server.bindPort, encodeV1(client('198.51.100.2', 3)));
    await other;
    expect(seen).toEqual(['198.51.100.1:1', '198.51.100.1:2', '198.51.100.2:3']);
    expect(server.clientCount).toBe(2);
  });

  test("trustedProxies ['*'] trusts every peer", async () => {
    const server = await proxyServer({ trustedProxies: ['*'] });
    const connected = once(server, 'clientConnect');
    await balancer(server.bindPort, encodeV1(client('192.0.2.200', 9)));
    expect(((await connected) as [EchoClient])[0].peerAddr).toBe('192.0.2.200');
  });

  test('shutdown ends connections still sending their header, without counting them as failures', async () => {
    const server = await proxyServer();
    const peer = await balancer(server.bindPort, Buffer.from('PROX'));
    await new Promise<void>((resolve) => {
      const check = () => (server.proxyHeaders.pending === 1 ? resolve() : setImmediate(check));
      check();
    });
    await server.shutdown(100);
    await peer.closed;
    expect(Object.values(server.proxyHeaders.failures).every((n) => n === 0)).toBe(true);
  });
});

describe('TLS behind a balancer in TCP mode', () => {
  let identity: DevIdentity;
  beforeAll(async () => {
    identity = await createDevCertificate({ names: ['app.example', 'localhost'] });
  });

  /**
   * A TLS client whose first bytes on the wire are `header` and its
   * ClientHello in one write, as a balancer that forwards at once sends them:
   * the server gets both in one chunk and must hand the ClientHello to TLS.
   */
  function tlsAfterHeader(port: number, header: Buffer, servername: string): tls.TLSSocket {
    const raw = trackSocket(net.connect(port, '127.0.0.1'));
    let first = true;
    const wire = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        raw.write(first ? Buffer.concat([header, chunk]) : chunk, callback);
        first = false;
      },
      final(callback) {
        raw.end();
        callback();
      },
    });
    raw.on('data', (chunk) => wire.push(chunk));
    raw.on('end', () => wire.push(null));
    raw.on('error', (error) => wire.destroy(error));
    return trackSocket(tls.connect({ socket: wire, servername, rejectUnauthorized: false }));
  }

  test('header and ClientHello in one chunk: the handshake gets every byte; SNI, the client address and the TLVs reach the client', async () => {
    const server = await proxyServer({ sslEnable: true, sslContext: { sslCert: identity.cert, sslKey: identity.key } });
    const connected = once(server, 'clientConnect');
    const header = encodeV2({ endpoints: client('203.0.113.50', 4444), tlvs: [[0x02, 'app.example']] });
    const socket = tlsAfterHeader(server.bindPort, header, 'app.example');
    await once(socket, 'secureConnect');
    const [c] = (await connected) as [EchoClient];
    expect(c.peerAddr).toBe('203.0.113.50');
    expect(c.tls!.serverName).toBe('app.example');
    expect(c.proxy!.header.tlvs.authority).toBe('app.example');
    socket.write('over tls\r\n');
    const [echo] = await once(socket, 'data');
    expect(echo.toString()).toBe('echo over tls\r\n');
  });
});

describe('PROXY options', () => {
  const make = (options: WSocketServerOptions) => () => new TWSocketServer({ addr: '127.0.0.1', port: 0, ...options });

  test('proxyProtocol without trustedProxies refuses to start, saying how to trust everyone', () => {
    expect(make({ proxyProtocol: 'v2' })).toThrow(TypeError);
    expect(make({ proxyProtocol: 'v2' })).toThrow(/option proxyProtocol "v2" needs option trustedProxies.*\['\*'\] trusts every peer/);
    expect(make({ multiListenSockets: [{ addr: '127.0.0.1', port: 0, proxyProtocol: 'v1' }] })).toThrow(
      /multiListenSockets\[0\]\.proxyProtocol "v1" needs option multiListenSockets\[0\]\.trustedProxies/,
    );
  });

  test.each([
    [{ proxyProtocol: 'v3' }, TypeError, /proxyProtocol must be 'off', 'v1', 'v2' or 'auto', got "v3"/],
    [{ proxyProtocol: 'v1', trustedProxies: ['*', '10.0.0.0/8'] }, TypeError, /'\*' \(trust every peer\) must be the only entry/],
    [{ proxyProtocol: 'v1', trustedProxies: [] }, TypeError, /trustedProxies is empty/],
    [{ proxyProtocol: 'v1', trustedProxies: ['10.0.0.0/33'] }, TypeError, /trustedProxies\[0\] must be an IP address or a CIDR block/],
    [{ proxyProtocol: 'v1', trustedProxies: ['*'], proxyHeaderTimeout: 0 }, RangeError, /proxyHeaderTimeout must be an integer from 1 to 86400000, got 0/],
    [{ proxyProtocol: 'v1', trustedProxies: ['*'], proxyHeaderMaxBytes: 70000 }, RangeError, /proxyHeaderMaxBytes must be an integer from 16 to 65551, got 70000/],
    [{ proxyProtocol: 'v1', trustedProxies: ['*'], proxyHeaderTimeout: '5s' }, TypeError, /proxyHeaderTimeout must be a number, got "5s"/],
  ])('%j is refused', (options, type, message) => {
    expect(make(options as WSocketServerOptions)).toThrow(type);
    expect(make(options as WSocketServerOptions)).toThrow(message);
  });

  test('an IcsHost binding reads headers when its host says so (the host names its balancers too)', async () => {
    const port = await freePort();
    const server = track(
      new TWSocketServer({
        clientClass: EchoClient,
        icsHosts: [{ hostNames: ['a.test'], bindIpAddr: '127.0.0.1', bindNonPort: port, proxyProtocol: 'v1', trustedProxies: ['127.0.0.0/8'] }],
      }),
    );
    await server.listen();
    const connected = once(server, 'clientConnect');
    await balancer(port, encodeV1(client('198.51.100.4', 4)));
    expect(((await connected) as [EchoClient])[0].peerAddr).toBe('198.51.100.4');
    expect(() => new TWSocketServer({ icsHosts: [{ hostNames: ['b.test'], bindNonPort: 7000, proxyProtocol: 'v2' }] })).toThrow(
      /icsHosts\[0\]\.proxyProtocol "v2" needs option icsHosts\[0\]\.trustedProxies/,
    );
  });

  test('a listener inherits the server\'s trustedProxies; proxyProtocol off on an item reads no header there', async () => {
    const server = await startServer({
      clientClass: EchoClient,
      trustedProxies: ['127.0.0.1'],
      multiListenSockets: [
        { addr: '127.0.0.1', port: 0, proxyProtocol: 'v1' },
        { addr: '127.0.0.1', port: 0 },
      ],
    });
    const [, viaProxy, direct] = server.listenStates.map((l) => l.bindPort);
    const proxied = once(server, 'clientConnect');
    await balancer(viaProxy, encodeV1(client('198.51.100.3', 3)));
    expect(((await proxied) as [EchoClient])[0].peerAddr).toBe('198.51.100.3');
    const plain = once(server, 'clientConnect');
    const peer = await balancer(direct, Buffer.from('no header here\r\n'));
    const [c] = (await plain) as [EchoClient];
    expect([c.peerAddr, c.proxyAddr, c.proxy]).toEqual(['127.0.0.1', '', undefined]);
    expect(await peer.nextLine()).toBe('echo no header here');
  });
});
