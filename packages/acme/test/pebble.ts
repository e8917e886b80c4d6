/**
 * Test helpers: Let's Encrypt's test CA (Debian's `pebble`) on loopback with validation on, a
 * tiny DNS server that maps the test names to 127.0.0.1 (Pebble's `-dnsserver`), free ports, and a
 * TLS server that serves a TSslContext. Everything waits on events; nothing sleeps.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { createDevCA, createDevCertificate } from '@ics-ts/ssl-context';
import type { TSslContext } from '@ics-ts/ssl-context';

export function tempDir(prefix = 'ics-acme-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A port free on 127.0.0.1 right now (for a program that needs its port in a config file). */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0];
}

/**
 * `count` different ports free on 127.0.0.1 right now, none of `exclude`: all held open together
 * while they are picked, so two calls in a row cannot hand out the same port twice.
 */
export async function freePorts(count: number, exclude: readonly number[] = []): Promise<number[]> {
  const held: net.Server[] = [];
  const ports: number[] = [];
  try {
    for (let tries = 0; ports.length < count && tries < count + 50; tries++) {
      const server = net.createServer().listen(0, '127.0.0.1');
      held.push(server);
      await once(server, 'listening');
      const { port } = server.address() as net.AddressInfo;
      if (!exclude.includes(port)) ports.push(port);
    }
  } finally {
    await Promise.all(held.map((server) => new Promise((resolve) => server.close(resolve))));
  }
  if (ports.length < count) throw new Error(`no ${count} free ports`);
  return ports;
}

// ---------------------------------------------------------------- DNS

export interface TestDns {
  port: number;
  /** Queries seen, `name/type`, for a test to check Pebble asked us. */
  queries: string[];
  close(): Promise<void>;
}

const TYPE_A = 1;

/**
 * Answers A queries for the given names with 127.0.0.1, other types of those names with no
 * answer (NODATA), anything else with NXDOMAIN. UDP only, one question per query, malformed
 * packets dropped.
 */
export async function startTestDns(names: string[]): Promise<TestDns> {
  const known = new Set(names.map((name) => name.toLowerCase()));
  const socket = dgram.createSocket('udp4');
  const queries: string[] = [];
  socket.on('message', (query, peer) => {
    if (query.length < 12 || query.length > 512 || query.readUInt16BE(4) !== 1) return;
    const labels: string[] = [];
    let p = 12;
    while (p < query.length && query[p] !== 0) {
      const length = query[p];
      if (length > 63 || p + 1 + length > query.length) return;
      labels.push(query.toString('latin1', p + 1, p + 1 + length));
      p += 1 + length;
    }
    if (p + 5 > query.length) return;
    const questionEnd = p + 5;
    const name = labels.join('.').toLowerCase();
    const type = query.readUInt16BE(p + 1);
    queries.push(`${name}/${type}`);
    const found = known.has(name);
    const answer = found && type === TYPE_A;
    const header = Buffer.alloc(12);
    header.writeUInt16BE(query.readUInt16BE(0), 0); // id
    header.writeUInt16BE(0x8180 | (found ? 0 : 3), 2); // response, recursion desired+available, NOERROR or NXDOMAIN
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answer ? 1 : 0, 6);
    const parts = [header, query.subarray(12, questionEnd)];
    if (answer) parts.push(Buffer.from([0xc0, 0x0c, 0, TYPE_A, 0, 1, 0, 0, 0, 0, 0, 4, 127, 0, 0, 1]));
    socket.send(Buffer.concat(parts), peer.port, peer.address);
  });
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  return {
    port: socket.address().port,
    queries,
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}

// ---------------------------------------------------------------- Pebble

export interface Pebble {
  /** The ACME directory URL. */
  directory: string;
  /** The CA that signed Pebble's own HTTPS certificate: the managers' caBundle. */
  caBundle: string;
  process: ChildProcess;
  /** Pebble's issuing root, fetched from its management endpoint (`/roots/0`). */
  root(): Promise<string>;
  stop(): Promise<void>;
  /** Everything Pebble printed, for a failing test's message. */
  output(): string;
}

/**
 * Starts Pebble with its own HTTPS certificate (the Debian package ships none of the test ones),
 * on free loopback ports, validating challenges for real on tlsPort and httpPort through the DNS
 * server on dnsPort. PEBBLE_VA_NOSLEEP skips Pebble's random 0-15 s wait before it validates;
 * PEBBLE_AUTHZREUSE=0 makes every order validate again (a renewal too).
 */
export async function startPebble(program: string, dir: string, ports: { tlsPort: number; httpPort: number; dnsPort: number }): Promise<Pebble> {
  const ca = await createDevCA('pebble test CA');
  const own = await createDevCertificate({ names: ['127.0.0.1', 'localhost'], ca });
  fs.writeFileSync(path.join(dir, 'pebble-cert.pem'), own.cert);
  fs.writeFileSync(path.join(dir, 'pebble-key.pem'), own.key);
  const [listenPort, managementPort] = await freePorts(2, [ports.tlsPort, ports.httpPort, ports.dnsPort]);
  const config = {
    pebble: {
      listenAddress: `127.0.0.1:${listenPort}`,
      managementListenAddress: `127.0.0.1:${managementPort}`,
      certificate: path.join(dir, 'pebble-cert.pem'),
      privateKey: path.join(dir, 'pebble-key.pem'),
      httpPort: ports.httpPort,
      tlsPort: ports.tlsPort,
      ocspResponderURL: '',
      externalAccountBindingRequired: false,
    },
  };
  const configFile = path.join(dir, 'pebble-config.json');
  fs.writeFileSync(configFile, JSON.stringify(config, null, 2));
  const env: NodeJS.ProcessEnv = { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_AUTHZREUSE: '0' };
  delete env.PEBBLE_VA_ALWAYS_VALID; // validation stays on
  const child = spawn(program, ['-config', configFile, '-dnsserver', `127.0.0.1:${ports.dnsPort}`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let printed = '';
  let ready: () => void = () => undefined;
  const started = new Promise<void>((resolve, reject) => {
    ready = resolve;
    child.once('exit', (code) => reject(new Error(`pebble exited (${code}) before it was ready:\n${printed}`)));
    child.once('error', reject);
  });
  const onOutput = (chunk: Buffer): void => {
    if (printed.length < 200_000) printed += chunk.toString('latin1');
    if (printed.includes('ACME directory available at')) ready();
  };
  child.stdout!.on('data', onOutput);
  child.stderr!.on('data', onOutput);
  await started;
  // Pebble prints its addresses just before its listeners open (each in its own goroutine): connect until they accept.
  await Promise.all([acceptsConnections(listenPort), acceptsConnections(managementPort)]);
  const caBundle = ca.cert;
  return {
    directory: `https://127.0.0.1:${listenPort}/dir`,
    caBundle,
    process: child,
    root: () => httpsGet(`https://127.0.0.1:${managementPort}/roots/0`, caBundle),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
    output: () => printed,
  };
}

/** Resolves once a TCP connection to 127.0.0.1:port succeeds; a refused attempt is tried again at once (at most 5000 times). */
export async function acceptsConnections(port: number): Promise<void> {
  for (let attempt = 0; attempt < 5000; attempt++) {
    const socket = net.connect(port, '127.0.0.1');
    const ok = await new Promise<boolean>((resolve) => {
      socket.once('connect', () => resolve(true));
      socket.once('error', () => resolve(false));
    });
    socket.destroy();
    if (ok) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`nothing accepted connections on 127.0.0.1:${port}`);
}

export async function httpsGet(url: string, ca: string): Promise<string> {
  const response = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
    https.get(url, { ca }, resolve).on('error', reject);
  });
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  if (response.statusCode !== 200) throw new Error(`GET ${url}: ${response.statusCode}`);
  return Buffer.concat(chunks).toString('latin1');
}

// ---------------------------------------------------------------- TLS

/** A TLS server on loopback that serves whatever the TSslContext holds now (its reloads included). */
export async function serveContext(context: TSslContext): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer((raw) => {
    const socket = new tls.TLSSocket(raw, { isServer: true, secureContext: context.secureContext });
    // The client closes first: OpenSSL 3 takes a TCP close without close_notify for an error.
    socket.on('secure', () => socket.write('hello\n'));
    socket.on('end', () => socket.end());
    socket.on('error', () => socket.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Connects with SNI and verifies the chain against `ca` and the name; resolves with the peer certificate. */
export async function verifiedPeer(port: number, servername: string, ca: string): Promise<tls.PeerCertificate> {
  const socket = tls.connect({ host: '127.0.0.1', port, servername, ca, ALPNProtocols: undefined });
  try {
    await once(socket, 'secureConnect');
    return socket.getPeerCertificate();
  } finally {
    socket.destroy();
  }
}
