/**
 * TLS test helpers shared by the TLS and IcsHosts tests: a Node TLS peer that
 * collects the CRLF lines it receives, connecting one and getting the
 * server's client object for it, raw sockets a test makes itself, and
 * `openssl s_client` runs. Everything made here is cleaned up after each test
 * (sockets destroyed, peers destroyed, s_client children killed); servers go
 * through helpers.track().
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type * as net from 'node:net';
import * as tls from 'node:tls';
import { TWSocketClient, TWSocketServer } from '@ics-ts/wsocket-server';
import { LinePeer, connectPeer } from './helpers';

// ---------------------------------------------------------------- clean-up

const tlsPeers = new Set<TlsPeer>();
const children = new Set<ReturnType<typeof spawn>>();
/** Raw sockets a test made itself (plain ones under a TLS client, or TLS sockets). */
const sockets = new Set<net.Socket>();

afterEach(async () => {
  const closing: Promise<unknown>[] = [];
  for (const socket of sockets) {
    if (!socket.closed) {
      closing.push(once(socket, 'close'));
      socket.destroy();
    }
  }
  sockets.clear();
  for (const peer of tlsPeers) closing.push(peer.destroy());
  tlsPeers.clear();
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      closing.push(once(child, 'close'));
      child.kill('SIGKILL');
    }
  }
  children.clear();
  await Promise.all(closing);
});

/** Registers a socket the test made itself, destroyed after the test if still open. */
export function trackSocket<S extends net.Socket>(socket: S): S {
  sockets.add(socket);
  return socket;
}

// ---------------------------------------------------------------- Node TLS peer

/** A Node TLS client that records the CRLF lines it receives. */
export class TlsPeer extends LinePeer<tls.TLSSocket, void> {
  sawEnd = false;
  secured = false;
  readonly closed: Promise<void>;
  /** The first TLS session (ticket) the server sent. */
  readonly session: Promise<Buffer>;

  private constructor(socket: tls.TLSSocket) {
    super(socket, tlsPeers, 'closed');
    socket.on('secureConnect', () => (this.secured = true));
    socket.on('end', () => (this.sawEnd = true));
    this.session = new Promise((resolve) => socket.once('session', resolve));
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.markClosed();
        resolve();
      });
    });
  }

  /**
   * Starts a connection to 127.0.0.1:port (servername 'localhost' unless
   * `options` says otherwise; '' sends no SNI) and returns at once, without
   * waiting for the handshake: for peers the server may refuse.
   */
  static open(port: number, options: tls.ConnectionOptions = {}): TlsPeer {
    return new TlsPeer(tls.connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false, ...options }));
  }

  /** Connects like open(); resolves once the handshake is done, rejects if it fails. */
  static connect(port: number, options: tls.ConnectionOptions = {}): Promise<TlsPeer> {
    return new Promise((resolve, reject) => {
      const peer = TlsPeer.open(port, options);
      const socket = peer.socket;
      const onError = (err: Error) => reject(err);
      socket.once('error', onError);
      socket.once('secureConnect', () => {
        socket.removeListener('error', onError);
        resolve(peer);
      });
    });
  }

  /**
   * Connects like open() and waits for the end, whatever it is: whether the
   * handshake completed on our side, what came, the error if any. For refused
   * connections.
   */
  static async attempt(
    port: number,
    options: tls.ConnectionOptions = {},
  ): Promise<{ secure: boolean; received: string; error: NodeJS.ErrnoException | undefined }> {
    const peer = TlsPeer.open(port, options);
    await peer.closed;
    tlsPeers.delete(peer);
    return { secure: peer.secured, received: peer.received, error: peer.error };
  }

  get localPort(): number {
    return this.socket.localPort ?? 0;
  }

  /** The certificate the server sent. */
  get certificate(): tls.PeerCertificate {
    return this.socket.getPeerCertificate();
  }

  /** Its SHA-256 fingerprint, as this client saw it. */
  get fingerprint(): string {
    return this.certificate.fingerprint256;
  }

  /** The same, named for the tests that compare it with several identities. */
  get serverFingerprint(): string {
    return this.fingerprint;
  }
}

/**
 * Connects a TLS peer to `port` (TlsPeer.connect) and returns it with the
 * server's client object for it (its clientConnect). One at a time.
 */
export function connectTls<C extends TWSocketClient>(
  server: TWSocketServer<C>,
  port: number,
  options: tls.ConnectionOptions = {},
): Promise<{ peer: TlsPeer; client: C }> {
  return connectPeer(server, () => TlsPeer.connect(port, options));
}

// ---------------------------------------------------------------- openssl s_client

/** How an s_client run talks: when the first line came, what to send then, when the reply came. */
export interface SClientDialog {
  /** Whether `stdout` holds the line the server sends first. */
  firstLineCame(stdout: string): boolean;
  /** A line to send once it came (s_client adds CRLF with -crlf). */
  send?: string;
  /** Whether `stdout` holds the reply to `send`. */
  replyCame(stdout: string): boolean;
}

/**
 * `openssl s_client ...args` with stdin piped: waits for the first line from
 * the server, optionally sends `dialog.send` and waits for the reply, then
 * closes stdin so s_client hangs up. A handshake failure ends it by itself; a
 * kill timer bounds it.
 */
export async function runSClient(args: string[], dialog: SClientDialog): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn('openssl', ['s_client', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);
  const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  let stdout = '';
  let stderr = '';
  let stage: 'first' | 'reply' | 'done' = 'first';
  child.stdin.on('error', () => undefined); // s_client may be gone already
  child.stderr.setEncoding('latin1').on('data', (d: string) => (stderr += d));
  child.stdout.setEncoding('latin1').on('data', (d: string) => {
    stdout += d;
    if (stage === 'first' && dialog.firstLineCame(stdout)) {
      if (dialog.send !== undefined) {
        stage = 'reply';
        child.stdin.write(`${dialog.send}\n`);
      } else {
        stage = 'done';
        child.stdin.end();
      }
    }
    if (stage === 'reply' && dialog.replyCame(stdout)) {
      stage = 'done';
      child.stdin.end();
    }
  });
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(killer);
  children.delete(child);
  return { code, stdout, stderr };
}
