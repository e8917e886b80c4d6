import type * as net from 'node:net';
import * as tls from 'node:tls';
import { unmapIPv4, ICS_ERR, icsError, icsSystemError } from '@ics-ts/wsocket';
import type { TSslContext } from '@ics-ts/ssl-context';
import type { HostMatch, SniSelector } from '../hosts/host-table';
import type { Listener } from '../listen/listener';

/** A TLS handshake that did not complete. */
export interface HandshakeFailure {
  error: Error;
  /** What went wrong, as a counter name: see HANDSHAKE_FAILURE_REASONS. */
  reason: HandshakeFailureReason;
  peerAddr: string;
  peerPort: number;
  multiListenIndex: number;
}

/**
 * Why handshakes fail, one counter each: `timeout` (the deadline passed),
 * `closed` (the peer ended or reset the connection), `sni` (a server name
 * refused by sniUnknown/sniMissing), `clientCert` (a client certificate
 * refused), `version` (a TLS version the picked host does not accept),
 * `protocol` (anything OpenSSL refused: garbage, no shared cipher...).
 */
export const HANDSHAKE_FAILURE_REASONS = ['timeout', 'closed', 'sni', 'clientCert', 'version', 'protocol'] as const;
export type HandshakeFailureReason = (typeof HANDSHAKE_FAILURE_REASONS)[number];

/** Where a handshake's outcome goes: the next stage (done), or the failure count (failed). */
export interface HandshakeOutcome {
  /** peerAddr/peerPort: as read from the accepted socket when the connection arrived. */
  handshakeDone(socket: tls.TLSSocket, listener: Listener, host: HostMatch | undefined, peerAddr: string, peerPort: number): void;
  handshakeFailed(socket: tls.TLSSocket, failure: HandshakeFailure, peerAddr: string, listener: Listener): void;
}

interface Pending {
  outcome: HandshakeOutcome;
  listener: Listener;
  peerAddr: string;
  peerPort: number;
  sni: SniSelector | undefined;
  /** Date.now() by which the handshake must be done; 0 for no limit. */
  deadline: number;
  /** The host SNI picked (when the client sent a name). */
  host?: HostMatch;
}

const PENDING = Symbol('ics-ts.handshake');
type PendingSocket = tls.TLSSocket & { [PENDING]?: Pending };

/**
 * Runs the server side of a TLS handshake over an accepted socket: the
 * context's identity and settings, client-initiated renegotiation refused, a
 * deadline for peers that stall or dribble (garbage, half a ClientHello; the
 * stage's HandshakeSweep enforces it), and the client certificate check that
 * Node performs only inside tls.Server.
 * Reports exactly once: done or failed. Shared listener functions: no closures.
 */
export function startServerHandshake(
  raw: net.Socket,
  context: TSslContext,
  deadline: number,
  outcome: HandshakeOutcome,
  listener: Listener,
  peerAddr: string,
  peerPort: number,
  sni?: SniSelector,
): tls.TLSSocket {
  const socket: PendingSocket = new tls.TLSSocket(raw, {
    isServer: true,
    secureContext: context.secureContext,
    ...context.socketOptions(),
    SNICallback: sni ? onServerName : undefined,
  });
  socket[PENDING] = { outcome, listener, peerAddr, peerPort, sni, deadline };
  socket.on('secure', onSecure);
  socket.on('error', onError);
  socket.on('close', onClose);
  socket.on('end', onEnd);
  return socket;
}

/** Ends the handshakes among `sockets` whose deadline has passed (`now`: Date.now()). */
export function expireHandshakes(sockets: Iterable<tls.TLSSocket>, now: number): void {
  for (const socket of sockets) {
    const deadline = (socket as PendingSocket)[PENDING]?.deadline ?? 0;
    if (deadline > 0 && deadline <= now) timeOut(socket);
  }
}

/** Node calls it with the socket as `this`: the host for the name, or refuse the handshake. */
function onServerName(this: PendingSocket, serverName: string, done: (error: Error | null, context?: tls.SecureContext) => void): void {
  const pending = this[PENDING];
  const match = pending?.sni?.select(serverName);
  if (!pending || !match) return done(icsError(Error, ICS_ERR.TLS_SERVER_NAME, `unknown server name ${JSON.stringify(serverName)} (refused by sniUnknown)`));
  pending.host = match;
  done(null, match.host.sslContext?.secureContext);
}

/**
 * Takes the pending record off the socket (once). The handshake listeners stay:
 * without the record they do nothing, which costs less per connection than
 * removing them (and the error listener keeps late errors of a failed socket handled).
 */
function settle(socket: PendingSocket): Pending | undefined {
  const pending = socket[PENDING];
  if (!pending) return undefined;
  socket[PENDING] = undefined;
  return pending;
}

function fail(socket: PendingSocket, error: Error, reason: HandshakeFailureReason): void {
  const pending = settle(socket);
  if (!pending) return; // the handshake was over: not ours to end
  socket.destroy();
  pending.outcome.handshakeFailed(
    socket,
    { error, reason, peerAddr: unmapIPv4(pending.peerAddr), peerPort: pending.peerPort, multiListenIndex: pending.listener.index },
    pending.peerAddr,
    pending.listener,
  );
}

function onSecure(this: PendingSocket): void {
  if (!this[PENDING]) return;
  const verifyError = peerVerifyError(this);
  if (verifyError && rejectsUnauthorized(this)) {
    return fail(this, icsError(Error, ICS_ERR.TLS_CLIENT_CERTIFICATE, `client certificate refused: ${verifyError.message}`), 'clientCert');
  }
  const current = this[PENDING];
  let host = current?.host;
  if (current?.sni && !host) {
    // No server name was sent (no SNICallback call): the default host, unless refused.
    host = current.sni.select(undefined);
    if (!host) return fail(this, icsError(Error, ICS_ERR.TLS_SERVER_NAME, 'no server name sent (refused by sniMissing)'), 'sni');
  }
  const level = host?.host.sslContext?.profile;
  const protocol = this.getProtocol();
  if (level && protocol && !versionAllowed(protocol, level.minVersion, level.maxVersion)) {
    // OpenSSL keeps the first context's version range when SNI switches context: enforce the host's here.
    return fail(this, icsError(Error, ICS_ERR.TLS_PROTOCOL_REFUSED, `${protocol} refused by host ${host!.host.hostTag} (sslSrvSecurity ${level.level})`), 'version');
  }
  const pending = settle(this);
  if (!pending) return;
  this.disableRenegotiation();
  // A server TLSSocket made outside tls.Server reports later TLS errors (a refused
  // renegotiation, a corrupt record) only as '_tlsError': end the connection on them.
  this.on('_tlsError', destroyOnTlsError);
  pending.outcome.handshakeDone(this, pending.listener, host, pending.peerAddr, pending.peerPort);
}

/** TLS versions, oldest first (as Node names them). */
export const VERSION_ORDER = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

function versionAllowed(protocol: string, min: string, max: string): boolean {
  const at = VERSION_ORDER.indexOf(protocol);
  return at >= VERSION_ORDER.indexOf(min) && at <= VERSION_ORDER.indexOf(max);
}

function destroyOnTlsError(this: tls.TLSSocket, error: Error): void {
  this.destroy(error);
}

function onEnd(this: PendingSocket): void {
  fail(this, icsError(Error, ICS_ERR.TLS_HANDSHAKE_CLOSED, 'the peer closed the connection during the TLS handshake'), 'closed');
}

function onError(this: PendingSocket, error: Error): void {
  fail(this, error, errorReason(error));
}

function onClose(this: PendingSocket): void {
  fail(this, icsError(Error, ICS_ERR.TLS_HANDSHAKE_CLOSED, 'connection closed during the TLS handshake'), 'closed');
}

function timeOut(socket: PendingSocket): void {
  // Node's tls.Server names this failure ERR_TLS_HANDSHAKE_TIMEOUT: `code` keeps it, icsCode is the catalog's.
  fail(socket, icsSystemError(ICS_ERR.TLS_HANDSHAKE_TIMEOUT, 'ERR_TLS_HANDSHAKE_TIMEOUT', 'TLS handshake timed out'), 'timeout');
}

/** An error event's reason: a reset or a refused server name, else OpenSSL's refusal. */
function errorReason(error: Error): HandshakeFailureReason {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'closed';
  if (/unknown server name|SNI|servername/i.test(error.message)) return 'sni';
  return 'protocol';
}

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
