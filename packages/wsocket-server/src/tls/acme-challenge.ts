import type * as net from 'node:net';
import * as tls from 'node:tls';
import { ACME_TLS_ALPN, MAX_CLIENT_HELLO_BYTES, parseClientHello } from '@ics-ts/acme';

/** What the TLS stage asks about tls-alpn-01 (the server's AutoCertificates). */
export interface AcmeChallengeSource {
  /** True while a challenge waits for the CA: only then are ClientHellos read first. */
  readonly tlsAlpnPending: boolean;
  challengeContextFor(serverName: string): tls.SecureContext | undefined;
}

/** Where a connection goes once its ClientHello is read: on to the handshake, or counted as answered or failed. */
export interface HelloOutcome {
  /** Not a challenge: the bytes read are back on the socket, the handshake starts as usual. */
  ordinaryHello(raw: net.Socket, state: HelloWait): void;
  /**
   * A CA's acme-tls/1 check is being served its challenge certificate (counted when chosen: the CA may close,
   * even reset, as soon as it has read it); the connection ends and never becomes a client.
   */
  challengeAnswered(state: HelloWait): void;
  /** The peer sent no ClientHello in time or closed: the connection is gone. */
  helloFailed(raw: net.Socket, state: HelloWait, reason: 'timeout' | 'closed'): void;
}

/** A connection waiting for its ClientHello: where it came from, and the bytes so far. */
export interface HelloWait {
  outcome: HelloOutcome;
  source: AcmeChallengeSource;
  listener: unknown;
  peerAddr: string;
  peerPort: number;
  /** ms left for the handshake when the wait began (0: the server's handshake timeout is off). */
  timeoutMs: number;
  bytes: Buffer | undefined;
}

const WAIT = Symbol('ics-ts.acmeHello');
type WaitingSocket = net.Socket & { [WAIT]?: HelloWait };
type ChallengeSocket = tls.TLSSocket;

/** Longest wait for a ClientHello when the server sets no handshake timeout. */
const HELLO_WAIT_MS = 10_000;

/**
 * RFC 8737 on the host's own TLS port: while a tls-alpn-01 challenge waits, a connection's
 * ClientHello is read before any TLS object exists (Node has no callback that sees the server name
 * and ALPN together in TLS 1.2 and 1.3 alike). ALPN acme-tls/1 with a name we have a challenge for
 * gets the challenge certificate and is closed after the handshake; anything else is put back on the
 * socket, unread, and goes on to the normal handshake and host selection. Bounded by
 * MAX_CLIENT_HELLO_BYTES and the handshake timeout. Shared listener functions: no closures.
 */
export function awaitClientHello(raw: net.Socket, wait: HelloWait): void {
  const socket = raw as WaitingSocket;
  socket[WAIT] = wait;
  socket.setTimeout(wait.timeoutMs > 0 ? wait.timeoutMs : HELLO_WAIT_MS, onHelloTimeout);
  socket.on('data', onHelloData);
  socket.on('close', onHelloClose);
  socket.on('error', onHelloError);
}

function release(socket: WaitingSocket): HelloWait | undefined {
  const wait = socket[WAIT];
  if (!wait) return undefined;
  socket[WAIT] = undefined;
  socket.setTimeout(0);
  socket.removeListener('data', onHelloData);
  socket.removeListener('close', onHelloClose);
  socket.removeListener('error', onHelloError);
  return wait;
}

function onHelloData(this: WaitingSocket, chunk: Buffer): void {
  const wait = this[WAIT];
  if (!wait) return;
  const bytes = wait.bytes ? Buffer.concat([wait.bytes, chunk]) : chunk;
  wait.bytes = bytes;
  const hello = parseClientHello(bytes);
  if (hello.kind === 'partial' && bytes.length <= MAX_CLIENT_HELLO_BYTES) return;
  release(this);
  this.pause();
  this.unshift(bytes); // a TLSSocket reads what is buffered on its socket first
  const context =
    hello.kind === 'hello' && hello.alpnProtocols.includes(ACME_TLS_ALPN) && hello.serverName !== ''
      ? wait.source.challengeContextFor(hello.serverName)
      : undefined;
  // Malformed or not a challenge: the normal handshake decides (and counts) what it is.
  if (!context) return wait.outcome.ordinaryHello(this, wait);
  const socket = new tls.TLSSocket(this, { isServer: true, secureContext: context, ALPNProtocols: [ACME_TLS_ALPN] }) as ChallengeSocket;
  socket.setTimeout(wait.timeoutMs > 0 ? wait.timeoutMs : HELLO_WAIT_MS, onChallengeTimeout);
  socket.once('secure', onChallengeSecure);
  socket.on('error', onChallengeError);
  wait.outcome.challengeAnswered(wait);
}

function onHelloTimeout(this: WaitingSocket): void {
  const wait = release(this);
  this.destroy();
  if (wait) wait.outcome.helloFailed(this, wait, 'timeout');
}

function onHelloClose(this: WaitingSocket): void {
  const wait = release(this);
  if (wait) wait.outcome.helloFailed(this, wait, 'closed');
}

function onHelloError(this: WaitingSocket): void {
  // 'close' follows and reports it.
}

function onChallengeSecure(this: ChallengeSocket): void {
  this.end();
}

function onChallengeTimeout(this: ChallengeSocket): void {
  this.destroy();
}

function onChallengeError(this: ChallengeSocket): void {
  // The CA may close as soon as it has the certificate.
  this.destroy();
}
