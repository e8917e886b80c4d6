/**
 * Test helpers for @ics-ts/ssl-context: temp dirs, openssl-made fixtures, a
 * loopback TLS echo server that serves a TSslContext, Node and `openssl
 * s_client` clients. Everything waits on events; nothing sleeps.
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import type { TSslContext } from '@ics-ts/ssl-context';

// ---------------------------------------------------------------- files

export interface TempDir {
  dir: string;
  /** Absolute path of a name in the dir. */
  file(name: string): string;
  /** Writes a file and returns its path. */
  write(name: string, data: string | Buffer): string;
  read(name: string): string;
  remove(): void;
}

export function tempDir(prefix = 'ssl-context-'): TempDir {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return {
    dir,
    file: (name) => path.join(dir, name),
    write(name, data) {
      const target = path.join(dir, name);
      fs.writeFileSync(target, data);
      return target;
    },
    read: (name) => fs.readFileSync(path.join(dir, name), 'latin1'),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** Runs the openssl CLI in `cwd`; throws with its stderr on failure. */
export function openssl(cwd: string, args: string[]): string {
  try {
    return execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'latin1' });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr ?? e.message}`);
  }
}

const OPENSSL_CNF = `
[req]
distinguished_name = dn
prompt = no
[dn]
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[v3_inter]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[v3_leaf]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
`;

/** A new EC private key file (PKCS#8 PEM). */
export function ecKey(tmp: TempDir, name: string, curve = 'P-256'): string {
  openssl(tmp.dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${curve}`, '-out', name]);
  return tmp.file(name);
}

/** A self-signed leaf made by openssl (for curves the dev certificates do not make). */
export function opensslSelfSigned(tmp: TempDir, base: string, curve = 'P-256', cn = 'localhost'): { cert: string; key: string } {
  const cnf = tmp.write('openssl.cnf', OPENSSL_CNF);
  const key = ecKey(tmp, `${base}.key`, curve);
  openssl(tmp.dir, [
    'req', '-config', cnf, '-x509', '-new', '-key', key, '-subj', `/CN=${cn}`, '-days', '365',
    '-sha384', '-extensions', 'v3_leaf', '-out', `${base}.pem`,
  ]);
  return { cert: tmp.file(`${base}.pem`), key };
}

/** Root CA -> intermediate CA -> leaf (localhost, 127.0.0.1), all ECDSA P-256, made with the openssl CLI. */
export interface Pki {
  rootCert: string;
  rootKey: string;
  interCert: string;
  interKey: string;
  leafCert: string;
  leafKey: string;
}

export function makePki(tmp: TempDir, prefix = ''): Pki {
  const cnf = tmp.write('openssl.cnf', OPENSSL_CNF);
  const n = (name: string): string => `${prefix}${name}`;
  const rootKey = ecKey(tmp, n('root.key'));
  openssl(tmp.dir, [
    'req', '-config', cnf, '-x509', '-new', '-key', rootKey, '-subj', '/CN=Test Root CA', '-days', '365', '-sha256',
    '-extensions', 'v3_ca', '-out', n('root.pem'),
  ]);
  const interKey = ecKey(tmp, n('inter.key'));
  openssl(tmp.dir, ['req', '-config', cnf, '-new', '-key', interKey, '-subj', '/CN=Test Intermediate CA', '-out', n('inter.csr')]);
  openssl(tmp.dir, [
    'x509', '-req', '-in', n('inter.csr'), '-CA', n('root.pem'), '-CAkey', rootKey, '-set_serial', '2', '-days', '365',
    '-sha256', '-extfile', cnf, '-extensions', 'v3_inter', '-out', n('inter.pem'),
  ]);
  const leafKey = ecKey(tmp, n('leaf.key'));
  openssl(tmp.dir, ['req', '-config', cnf, '-new', '-key', leafKey, '-subj', '/CN=localhost', '-out', n('leaf.csr')]);
  openssl(tmp.dir, [
    'x509', '-req', '-in', n('leaf.csr'), '-CA', n('inter.pem'), '-CAkey', interKey, '-set_serial', '3', '-days', '365',
    '-sha256', '-extfile', cnf, '-extensions', 'v3_leaf', '-out', n('leaf.pem'),
  ]);
  return {
    rootCert: tmp.file(n('root.pem')),
    rootKey,
    interCert: tmp.file(n('inter.pem')),
    interKey,
    leafCert: tmp.file(n('leaf.pem')),
    leafKey,
  };
}

// ---------------------------------------------------------------- server

/** A queue of events of one kind: take() gets the next one, whether it came before or after the call. */
export class Queue<T> {
  private items: T[] = [];
  private waiters: ((item: T) => void)[] = [];
  readonly all: T[] = [];

  push(item: T): void {
    this.all.push(item);
    const waiter = this.waiters.shift();
    if (waiter) waiter(item);
    else this.items.push(item);
  }

  take(): Promise<T> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve(item);
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

export interface TestServer {
  port: number;
  /** Server-side TLS sockets whose handshake completed (and passed the peer check). */
  secured: Queue<tls.TLSSocket>;
  /** Server-side TLS errors (handshake refused, peer refused...). */
  errors: Queue<Error>;
  close(): Promise<void>;
}

/**
 * A loopback TLS echo server serving `ctx` the way a server built on
 * TSslContext does: each raw connection gets a TLSSocket with the context's
 * current secureContext (so a reload applies to the next connection) and its
 * socketOptions(). Like tls.Server, a client certificate that fails
 * verification is refused when the context asks for 'require'.
 */
export async function startServer(ctx: TSslContext): Promise<TestServer> {
  const raws = new Set<net.Socket>();
  const secured = new Queue<tls.TLSSocket>();
  const errors = new Queue<Error>();
  const server = net.createServer((raw) => {
    raws.add(raw);
    raw.on('close', () => raws.delete(raw));
    const options = ctx.socketOptions();
    const socket = new tls.TLSSocket(raw, { isServer: true, secureContext: ctx.secureContext, ...options });
    socket.on('error', (err) => errors.push(err));
    socket.on('secure', () => {
      if (options.requestCert) {
        const verifyError = (socket as unknown as { _handle: { verifyError(): Error | null } })._handle.verifyError();
        if (verifyError && options.rejectUnauthorized) {
          errors.push(verifyError);
          socket.destroy();
          return;
        }
      }
      secured.push(socket);
    });
    socket.on('data', (data) => socket.write(data));
    socket.on('end', () => socket.end());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    secured,
    errors,
    async close() {
      const closed = once(server, 'close');
      server.close();
      for (const raw of raws) raw.destroy();
      await closed;
    },
  };
}

// ---------------------------------------------------------------- clients

export type ClientResult =
  | { ok: true; socket: tls.TLSSocket; protocol: string | null; cipher: string; alpn: string | false | null; fingerprint256: string }
  | { ok: false; error: Error };

/** A Node TLS client; resolves once the handshake is done (or failed). Close the socket yourself when ok. */
export function tryConnect(port: number, options: tls.ConnectionOptions = {}): Promise<ClientResult> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options });
    const onError = (error: Error): void => {
      socket.destroy();
      resolve({ ok: false, error });
    };
    socket.once('error', onError);
    socket.once('secureConnect', () => {
      socket.off('error', onError);
      resolve({
        ok: true,
        socket,
        protocol: socket.getProtocol(),
        cipher: socket.getCipher().name,
        alpn: socket.alpnProtocol,
        fingerprint256: socket.getPeerCertificate().fingerprint256,
      });
    });
  });
}

export async function connect(port: number, options: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
  const result = await tryConnect(port, options);
  if (!result.ok) throw result.error;
  return result.socket;
}

/** Writes `text` and resolves with what the echo server sends back; rejects if the socket fails or closes first. */
export function echo(socket: tls.TLSSocket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let received = '';
    const cleanup = (): void => {
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      received += chunk.toString('latin1');
      if (received.length >= text.length) {
        cleanup();
        resolve(received);
      }
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const onClose = (): void => {
      cleanup();
      reject(new Error(`socket closed before the echo (got ${JSON.stringify(received)})`));
    };
    socket.on('data', onData);
    socket.once('error', onError);
    socket.once('close', onClose);
    socket.write(text);
  });
}

/** Ends a client socket and waits until it is closed. */
export async function closeSocket(socket: tls.TLSSocket): Promise<void> {
  if (socket.destroyed) return;
  const closed = once(socket, 'close');
  socket.destroy();
  await closed;
}

export interface SClientResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** 'TLSv1.2'... from -brief's "Protocol version:" line, when the handshake completed. */
  protocol?: string;
  /** From -brief's "Ciphersuite:" line, or the "Cipher is" line. */
  cipher?: string;
  ok: boolean;
}

/**
 * `openssl s_client -connect 127.0.0.1:PORT ...args` with stdin closed, so
 * it hangs up right after the handshake. ok = exit code 0 and a cipher
 * negotiated.
 */
export async function sClient(port: number, args: string[]): Promise<SClientResult> {
  const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('latin1').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('latin1').on('data', (d: string) => (stderr += d));
  const [code] = (await once(child, 'close')) as [number | null];
  const all = `${stdout}\n${stderr}`;
  const protocol = /Protocol version: (\S+)/.exec(all)?.[1] ?? /^\s*Protocol\s*: (\S+)/m.exec(all)?.[1];
  let cipher = /Ciphersuite: (\S+)/.exec(all)?.[1] ?? /Cipher is (\S+)/.exec(all)?.[1];
  if (cipher === '(NONE)') cipher = undefined;
  return { code, stdout, stderr, protocol, cipher, ok: code === 0 && cipher !== undefined };
}
