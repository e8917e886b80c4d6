import { once } from 'node:events';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { createDevCA, createDevCertificate, DevIdentity } from '@ics-ts/ssl-context';
import { describeWithPrograms } from '../../../test-support/outside-program';
import { TWSocketClient, TWSocketServer, WSocketServerOptions } from '@ics-ts/wsocket-server';
import { ProxyHeaderDecoder } from '../src/admission/proxy-decoder';
import type { ProxyHeader, ProxyRefusal } from '../src/admission/proxy-header';
import { RunningHaproxy, startHaproxy, HaproxyOptions } from '../../../test-support/haproxy';
import { EchoClient, startServer } from './helpers';

/** What the backend saw on one connection: the decoded header and the application bytes after it. */
interface Seen {
  header?: ProxyHeader;
  refused?: ProxyRefusal;
  app: Buffer;
}

/**
 * A small real TCP backend: decodes the PROXY header of each connection with
 * the decoder, gathers the bytes after it up to a LF, answers "ok <address>\n".
 * Connections without application bytes (health checks) are recorded when the
 * peer ends or closes (HAProxy's check mostly sends its FIN before the reset:
 * with allowHalfOpen, the FIN alone closes nothing).
 */
class Backend {
  readonly server = net.createServer({ allowHalfOpen: true }, (socket) => this.serve(socket));
  readonly seen: Seen[] = [];
  private readonly sockets = new Set<net.Socket>();
  private waiters: Array<(seen: Seen) => void> = [];

  async listen(): Promise<number> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return (this.server.address() as net.AddressInfo).port;
  }

  next(): Promise<Seen> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private record(seen: Seen): void {
    this.seen.push(seen);
    const waiter = this.waiters.shift();
    if (waiter) waiter(seen);
  }

  private serve(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    const decoder = new ProxyHeaderDecoder('auto');
    const seen: Seen = { app: Buffer.alloc(0) };
    let recorded = false;
    const finish = () => {
      if (recorded) return;
      recorded = true;
      this.record(seen);
    };
    socket.on('data', (chunk: Buffer) => {
      if (!seen.header && !seen.refused) {
        const result = decoder.push(chunk);
        if (result.status === 'more') return;
        if (result.status === 'error') {
          seen.refused = result.reason;
          socket.destroy();
          finish();
          return;
        }
        seen.header = result.header;
        chunk = result.rest;
      }
      seen.app = Buffer.concat([seen.app, chunk]);
      if (seen.app.includes(0x0a)) {
        socket.end(`ok ${seen.header?.endpoints?.sourceAddress}\n`);
        finish();
      }
    });
    socket.on('error', () => {});
    socket.on('end', () => {
      finish();
      socket.end();
    });
    socket.on('close', finish);
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.server.close();
    return once(this.server, 'close').then(() => undefined);
  }
}

/** Connects from 127.0.0.9 (a distinct loopback source) through HAProxy, sends a line, reads the answer. */
async function clientLine(
  port: number,
  line: string,
  tlsOptions?: tls.ConnectionOptions & { onSecure?: (socket: tls.TLSSocket) => void },
): Promise<{ answer: string; localPort: number }> {
  const raw = net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.9' });
  await once(raw, 'connect');
  const localPort = raw.localPort!;
  let socket: net.Socket = raw;
  if (tlsOptions) {
    const secure = tls.connect({ socket: raw, ...tlsOptions });
    await once(secure, 'secureConnect');
    tlsOptions.onSecure?.(secure);
    socket = secure;
  }
  socket.write(line);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  await once(socket, 'end');
  socket.destroy();
  return { answer: Buffer.concat(chunks).toString('utf8'), localPort };
}

describeWithPrograms({ haproxy: 'haproxy' }, 'PROXY headers sent by a real HAProxy', ({ haproxy }) => {
  let backend: Backend;
  let backendPort: number;
  let running: RunningHaproxy | undefined;
  let dir: string;
  let serverPem: string;
  let caPem: string;
  let caPemText: string;
  let clientIdentity: DevIdentity;

  beforeAll(async () => {
    backend = new Backend();
    backendPort = await backend.listen();
    dir = mkdtempSync(join(tmpdir(), 'ics-proxy-certs-'));
    const ca = await createDevCA('ics-ts PROXY test CA');
    const server = await createDevCertificate({ names: ['sni.example'], ca });
    clientIdentity = await createDevCertificate({ names: ['client.example'], ca });
    serverPem = join(dir, 'server.pem');
    caPem = join(dir, 'ca.pem');
    writeFileSync(serverPem, server.cert + server.key);
    writeFileSync(caPem, ca.cert);
    caPemText = ca.cert;
  });

  afterEach(async () => {
    await running?.stop();
    running = undefined;
  });

  afterAll(async () => {
    await backend.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function through(options: Omit<HaproxyOptions, 'haproxy' | 'backendPort'>): Promise<RunningHaproxy> {
    running = await startHaproxy({ haproxy, backendPort, ...options });
    return running;
  }

  test('send-proxy (v1): the real address and port, then its bytes intact', async () => {
    const { port } = await through({ send: 'send-proxy' });
    const seen = backend.next();
    const { answer, localPort } = await clientLine(port, 'hello\r\n');
    expect(await seen).toEqual({
      header: {
        version: 1,
        command: 'proxy',
        endpoints: { family: 'ipv4', transport: 'stream', sourceAddress: '127.0.0.9', sourcePort: localPort, destinationAddress: '127.0.0.1', destinationPort: port },
        tlvs: {},
        byteLength: `PROXY TCP4 127.0.0.9 127.0.0.1 ${localPort} ${port}\r\n`.length,
      },
      app: Buffer.from('hello\r\n'),
    });
    expect(answer).toBe('ok 127.0.0.9\n');
  });

  test('send-proxy-v2: the same facts in binary, no TLVs by default', async () => {
    const { port } = await through({ send: 'send-proxy-v2' });
    const seen = backend.next();
    const { localPort } = await clientLine(port, 'hello\r\n');
    expect(await seen).toEqual({
      header: {
        version: 2,
        command: 'proxy',
        endpoints: { family: 'ipv4', transport: 'stream', sourceAddress: '127.0.0.9', sourcePort: localPort, destinationAddress: '127.0.0.1', destinationPort: port },
        tlvs: {},
        byteLength: 28,
      },
      app: Buffer.from('hello\r\n'),
    });
  });

  test('send-proxy-v2-ssl-cn behind a TLS frontend: the SSL TLVs, SNI, ALPN, unique id and a verified CRC32C', async () => {
    const { port } = await through({
      send: 'send-proxy-v2-ssl-cn',
      tlsPem: serverPem,
      clientCa: caPem,
      alpn: 'h2,http/1.1',
      v2Options: 'authority,crc32c,unique-id,ssl-cipher,cert-sig,cert-key',
    });
    const seen = backend.next();
    let negotiated = { protocol: '', cipher: '' };
    const { localPort } = await clientLine(port, 'hello over TLS\n', {
      servername: 'sni.example',
      ALPNProtocols: ['h2'],
      ca: caPemText,
      cert: clientIdentity.cert,
      key: clientIdentity.key,
      onSecure: (socket) => (negotiated = { protocol: socket.getProtocol()!, cipher: socket.getCipher().name }),
    });
    const { header, app } = await seen;
    expect(app).toEqual(Buffer.from('hello over TLS\n'));
    expect(header!.endpoints).toMatchObject({ sourceAddress: '127.0.0.9', sourcePort: localPort });
    const { tlvs } = header!;
    expect(tlvs.authority).toBe('sni.example');
    expect(tlvs.alpn).toBe('h2');
    expect(typeof tlvs.crc32c).toBe('number'); // present, and verified by the decoder (else: bad-checksum)
    // unique-id-format %{+X}o%ci:%cp_...: the client's address and port in hex.
    expect(tlvs.uniqueId!.toString('latin1')).toContain(`7F000009:${localPort.toString(16).toUpperCase().padStart(4, '0')}_`);
    expect(tlvs.ssl).toEqual({
      clientSsl: true,
      clientCertConnection: true,
      clientCertSession: true,
      verify: 0,
      version: negotiated.protocol,
      commonName: 'client.example',
      cipher: negotiated.cipher,
      signatureAlgorithm: 'ecdsa-with-SHA256',
      keyAlgorithm: 'EC256',
    });
  });

  test('health checks with send-proxy-v2 arrive as LOCAL: no client endpoints, nothing after the header', async () => {
    await through({ send: 'send-proxy-v2', checkIntervalMs: 100 });
    expect(await backend.next()).toEqual({ header: { version: 2, command: 'local', endpoints: undefined, tlvs: {}, byteLength: 16 }, app: Buffer.alloc(0) });
  });
});

/**
 * TWSocketServer behind a real HAProxy in TCP mode: the client's address
 * (127.0.0.9) reaches the client class, plain and TLS (ics-ts terminates TLS,
 * HAProxy only relays), an untrusted balancer is refused, health checks do
 * not become clients.
 */
describeWithPrograms({ haproxy: 'haproxy' }, 'TWSocketServer behind a real HAProxy', ({ haproxy }) => {
  let running: RunningHaproxy | undefined;
  let identity: DevIdentity;

  beforeAll(async () => {
    identity = await createDevCertificate({ names: ['app.example'] });
  });

  afterEach(async () => {
    await running?.stop();
    running = undefined;
  });

  async function serverBehind(send: HaproxyOptions['send'], options: WSocketServerOptions<EchoClient>, checkIntervalMs?: number) {
    const server = await startServer<EchoClient>({ clientClass: EchoClient, trustedProxies: ['127.0.0.1'], ...options });
    // Checks that wait for the server: a connect-only check is mostly reset before the server reads its header
    // (counted as truncated, see docs/load-balancer.md), and on a loaded machine 20 s might not bring two that are not.
    running = await startHaproxy({ haproxy, backendPort: server.bindPort, send, checkIntervalMs, checkWaitsForServer: true });
    return { server, port: running.port };
  }

  /** From 127.0.0.9 through HAProxy (TLS when `tlsOptions`): sends a line, reads the first line back, closes. */
  async function echoThrough(port: number, tlsOptions?: tls.ConnectionOptions): Promise<{ answer: string; localPort: number }> {
    const raw = net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.9' });
    await once(raw, 'connect');
    const localPort = raw.localPort!;
    const socket: net.Socket = tlsOptions ? tls.connect({ socket: raw, ...tlsOptions }) : raw;
    if (tlsOptions) await once(socket, 'secureConnect');
    socket.write('hi there\r\n');
    let answer = '';
    socket.setEncoding('utf8');
    await new Promise<void>((resolve) => {
      socket.on('data', (text: string) => {
        answer += text;
        if (answer.includes('\n')) resolve();
      });
      socket.on('close', () => resolve());
    });
    socket.destroy();
    return { answer, localPort };
  }

  test.each([
    ['send-proxy', 'v1'],
    ['send-proxy-v2', 'v2'],
    ['send-proxy-v2', 'auto'],
  ] as const)('%s to a %s listener: the client class sees 127.0.0.9 and its port; HAProxy is proxyAddr', async (send, mode) => {
    const { server, port } = await serverBehind(send, { proxyProtocol: mode });
    const connected = once(server, 'clientConnect') as Promise<[EchoClient]>;
    const answer = echoThrough(port);
    const [client] = await connected;
    const { localPort } = await answer;
    expect(client.peerAddr).toBe('127.0.0.9');
    expect(client.peerPort).toBe(localPort);
    expect(client.proxyAddr).toBe('127.0.0.1');
    expect(client.proxy!.header.version).toBe(send === 'send-proxy' ? 1 : 2);
    expect((await answer).answer).toBe('echo hi there\r\n');
  });

  test('TLS terminated by ics-ts behind HAProxy in TCP mode, with SNI: the handshake, the server name and the client address', async () => {
    const { server, port } = await serverBehind('send-proxy-v2', {
      proxyProtocol: 'v2',
      sslEnable: true,
      sslContext: { sslCert: identity.cert, sslKey: identity.key },
    });
    const connected = once(server, 'clientConnect') as Promise<[EchoClient]>;
    const answer = echoThrough(port, { servername: 'app.example', ca: identity.cert });
    const [client] = await connected;
    expect(client.tls!.serverName).toBe('app.example');
    expect(client.peerAddr).toBe('127.0.0.9');
    expect((await answer).answer).toBe('echo hi there\r\n');
  });

  test('HAProxy not in trustedProxies: its connection is refused, no client made', async () => {
    const { server, port } = await serverBehind('send-proxy-v2', { proxyProtocol: 'v2', trustedProxies: ['10.0.0.0/8'] });
    const refused = once(server, 'refused');
    const { answer } = await echoThrough(port);
    expect(answer).toBe('');
    expect((await refused)[0]).toMatchObject({ reason: 'proxyUntrusted', peerAddr: '127.0.0.1' });
    expect(server.clientCount).toBe(0);
  });

  test('health checks (LOCAL) are answered with a close and never become clients', async () => {
    const { server } = await serverBehind('send-proxy-v2', { proxyProtocol: 'v2' }, 50);
    let connects = 0;
    server.on('clientConnect', () => connects++);
    const [first] = await once(server, 'proxyHealthCheck');
    expect(first).toEqual({ proxyAddr: '127.0.0.1', proxyPort: expect.any(Number), multiListenIndex: -1 });
    await once(server, 'proxyHealthCheck');
    expect(server.proxyHeaders.healthChecks).toBeGreaterThanOrEqual(2);
    expect(connects).toBe(0);
    expect(server.clientCount).toBe(0);
    // Checks that reset before their header was read count as truncated (see docs/load-balancer.md); nothing else fails.
    const { truncated, ...others } = server.proxyHeaders.failures;
    expect(Object.values(others).every((n) => n === 0)).toBe(true);
    expect(server.refusals.proxyHeader).toBe(truncated);
  });
});
