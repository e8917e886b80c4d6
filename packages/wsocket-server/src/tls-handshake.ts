import type * as net from 'node:net';
import * as tls from 'node:tls';
import type { TSslContext } from '@ics-ts/ssl-context';
import type { Listener } from './listener';

/** A TLS handshake that did not complete. */
export interface HandshakeFailure {
  error: Error;
  peerAddr: string;
  peerPort: number;
  multiListenIndex: number;
}

/** What the handshake reports to (the server). */
export interface HandshakeOwner {
  handshakeDone(socket: tls.TLSSocket, listener: Listener, tooBusy: boolean): void;
  handshakeFailed(failure: HandshakeFailure, tooBusy: boolean): void;
}

interface Pending {
  owner: HandshakeOwner;
  listener: Listener;
  tooBusy: boolean;
  peerAddr: string;
  peerPort: number;
}

const PENDING = Symbol('ics-ts.handshake');
type PendingSocket = tls.TLSSocket & { [PENDING]?: Pending };

/**
 * Runs the server side of a TLS handshake over an accepted socket: the
 * context's identity and settings, client-initiated renegotiation refused, a
 * timeout for peers that stall (garbage, half a ClientHello), and the client
 * certificate check that Node performs only inside tls.Server.
 * Reports exactly once: done or failed. Shared listener functions: no closures.
 */
export function startServerHandshake(
  raw: net.Socket,
  context: TSslContext,
  timeoutMs: number,
  owner: HandshakeOwner,
  listener: Listener,
  tooBusy: boolean,
): void {
  const socket: PendingSocket = new tls.TLSSocket(raw, {
    isServer: true,
    secureContext: context.secureContext,
    ...context.socketOptions(),
  });
  socket[PENDING] = { owner, listener, tooBusy, peerAddr: raw.remoteAddress ?? '', peerPort: raw.remotePort ?? 0 };
  socket.on('secure', onSecure);
  socket.on('error', onError);
  socket.on('close', onClose);
  socket.on('timeout', onTimeout);
  if (timeoutMs > 0) socket.setTimeout(timeoutMs);
}

/** Takes the pending record off the socket (once) and the handshake listeners with it. */
function settle(socket: PendingSocket): Pending | undefined {
  const pending = socket[PENDING];
  if (!pending) return undefined;
  socket[PENDING] = undefined;
  socket.removeListener('secure', onSecure);
  socket.removeListener('error', onError);
  socket.removeListener('close', onClose);
  socket.removeListener('timeout', onTimeout);
  socket.setTimeout(0);
  return pending;
}

function fail(socket: PendingSocket, error: Error): void {
  const pending = settle(socket);
  socket.on('error', ignore); // late errors of a socket we gave up on
  socket.destroy();
  if (!pending) return;
  pending.owner.handshakeFailed(
    { error, peerAddr: pending.peerAddr, peerPort: pending.peerPort, multiListenIndex: pending.listener.index },
    pending.tooBusy,
  );
}

function onSecure(this: PendingSocket): void {
  const verifyError = peerVerifyError(this);
  if (verifyError && rejectsUnauthorized(this)) {
    return fail(this, new Error(`client certificate refused: ${verifyError.message}`));
  }
  const pending = settle(this);
  if (!pending) return;
  this.disableRenegotiation();
  pending.owner.handshakeDone(this, pending.listener, pending.tooBusy);
}

function onError(this: PendingSocket, error: Error): void {
  fail(this, error);
}

function onClose(this: PendingSocket): void {
  fail(this, new Error('connection closed during the TLS handshake'));
}

function onTimeout(this: PendingSocket): void {
  const error: NodeJS.ErrnoException = new Error('TLS handshake timed out');
  error.code = 'ERR_TLS_HANDSHAKE_TIMEOUT';
  fail(this, error);
}

function ignore(): void {}

interface NativeTls {
  verifyError?(): Error | null;
}

/** The client certificate's verification result, where one was asked for. */
function peerVerifyError(socket: tls.TLSSocket): Error | null {
  const options = socket as unknown as { _requestCert?: boolean; _handle?: NativeTls };
  if (!options._requestCert) return null;
  const error = options._handle?.verifyError?.() ?? null;
  const authorized = error === null;
  (socket as { authorized: boolean }).authorized = authorized;
  if (error) (socket as { authorizationError: Error }).authorizationError = error;
  return error;
}

function rejectsUnauthorized(socket: tls.TLSSocket): boolean {
  return (socket as unknown as { _rejectUnauthorized?: boolean })._rejectUnauthorized === true;
}
