import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import { MAX_TIMER_MS } from '@ics-ts/wsocket';
import { checkPositive, closeServer, listenOn } from './responder-listener';
import * as tls from 'node:tls';
import { ACME_TLS_ALPN } from './challenges';
import { MAX_CLIENT_HELLO_BYTES, parseClientHello } from './client-hello';

/** Finds the acme-tls/1 context for a server name: `manager.challengeContextFor`, or several managers'. */
export type TlsAlpnChallengeLookup = (serverName: string) => tls.SecureContext | undefined;

export interface TlsAlpnResponderOptions {
  /** Time for a peer to send its ClientHello and finish the handshake, in ms. Default 10000. */
  timeoutMs?: number;
  /** Connections at once; more are closed at accept. Default 64. */
  maxConnections?: number;
}

/** Why a connection got no challenge certificate: each is counted. */
export type TlsAlpnRefusal = 'notTls' | 'noAcmeAlpn' | 'noChallenge' | 'timeout';

export interface TlsAlpnResponderEvents {
  /** A CA's check (ALPN acme-tls/1, a name with a pending challenge) is being served the challenge certificate. */
  answered: [serverName: string];
  /** A connection was closed without one. */
  refused: [reason: TlsAlpnRefusal, detail: string];
}

const OWNER = Symbol('TlsAlpnResponder');
const HELLO = Symbol('clientHelloBytes');
const NAME = Symbol('serverName');
type RawSocket = net.Socket & { [OWNER]: TlsAlpnResponder; [HELLO]: Buffer[] | undefined };
type ChallengeSocket = tls.TLSSocket & { [OWNER]: TlsAlpnResponder; [NAME]: string };

/**
 * A TLS port that answers only tls-alpn-01 checks: a connection offering ALPN acme-tls/1 for a
 * name with a pending challenge gets that name's acmeIdentifier certificate, then the connection
 * ends; anything else is closed and counted. For a port no TLS server of ours listens on; a
 * TWSocketServer answers on its own TLS listeners, before it picks a host (see docs/hosts.md).
 */
export class TlsAlpnResponder extends EventEmitter<TlsAlpnResponderEvents> {
  readonly server: net.Server;
  readonly timeoutMs: number;
  /** answered: connections served the challenge certificate (counted when chosen, before the handshake ends). */
  readonly counters = { answered: 0, notTls: 0, noAcmeAlpn: 0, noChallenge: 0, timeout: 0 };

  constructor(readonly lookup: TlsAlpnChallengeLookup, options: TlsAlpnResponderOptions = {}) {
    super();
    this.timeoutMs = checkPositive(options.timeoutMs ?? 10_000, 'TlsAlpnResponder', 'timeoutMs', MAX_TIMER_MS);
    this.server = net.createServer({ pauseOnConnect: false }, onConnection);
    this.server.maxConnections = checkPositive(options.maxConnections ?? 64, 'TlsAlpnResponder', 'maxConnections');
    (this.server as net.Server & { [OWNER]: TlsAlpnResponder })[OWNER] = this;
  }

  /** Listens on a port (0 picks one) and an address; resolves with the port. */
  listen(port: number, host = '127.0.0.1'): Promise<number> {
    return listenOn(this.server, port, host);
  }

  close(): Promise<void> {
    return closeServer(this.server);
  }

  /** @internal */
  refuse(socket: net.Socket, reason: TlsAlpnRefusal, detail: string): void {
    this.counters[reason]++;
    socket.destroy();
    if (this.listenerCount('refused') > 0) this.emit('refused', reason, detail);
  }

  /** @internal The ClientHello is complete: answer with the challenge certificate, or refuse. */
  hello(accepted: net.Socket, bytes: Buffer): void {
    const raw = accepted as RawSocket;
    const result = parseClientHello(bytes);
    if (result.kind === 'partial') return;
    raw.removeListener('data', onHelloData);
    raw[HELLO] = undefined;
    if (result.kind === 'invalid') return this.refuse(raw, 'notTls', result.reason);
    if (!result.alpnProtocols.includes(ACME_TLS_ALPN)) return this.refuse(raw, 'noAcmeAlpn', result.alpnProtocols.join(',') || 'no ALPN');
    const context = result.serverName ? this.lookup(result.serverName) : undefined;
    if (!context) return this.refuse(raw, 'noChallenge', result.serverName || 'no server name');
    raw.setTimeout(0);
    raw.pause();
    raw.unshift(bytes); // TLSSocket feeds itself the bytes already read from the socket first
    const socket = new tls.TLSSocket(raw, { isServer: true, secureContext: context, ALPNProtocols: [ACME_TLS_ALPN] }) as ChallengeSocket;
    socket[OWNER] = this;
    socket[NAME] = result.serverName;
    socket.setTimeout(this.timeoutMs, onChallengeTimeout);
    socket.once('secure', onChallengeSecure);
    socket.on('error', onChallengeError);
    // Counted now: the CA may close (even reset) as soon as it has read the certificate, before our handshake ends.
    this.counters.answered++;
    if (this.listenerCount('answered') > 0) this.emit('answered', result.serverName);
  }
}


function onConnection(this: net.Server & { [OWNER]: TlsAlpnResponder }, socket: net.Socket): void {
  const raw = socket as RawSocket;
  const responder = this[OWNER];
  raw[OWNER] = responder;
  raw[HELLO] = [];
  raw.setTimeout(responder.timeoutMs, onTimeout);
  raw.on('data', onHelloData);
  raw.on('error', onRawError);
}

function onHelloData(this: RawSocket, chunk: Buffer): void {
  const parts = this[HELLO];
  if (!parts) return;
  parts.push(chunk);
  const bytes = parts.length === 1 ? chunk : Buffer.concat(parts);
  if (parts.length > 1) parts.splice(0, parts.length, bytes);
  if (bytes.length > MAX_CLIENT_HELLO_BYTES) return this[OWNER].refuse(this, 'notTls', `no ClientHello in ${MAX_CLIENT_HELLO_BYTES} bytes`);
  this[OWNER].hello(this, bytes);
}

function onTimeout(this: RawSocket): void {
  this[OWNER].refuse(this, 'timeout', `no handshake within ${this[OWNER].timeoutMs} ms`);
}

function onRawError(): void {
  // The socket is destroyed with its error; the TLS socket (if any) reports the failure.
}

function onChallengeTimeout(this: ChallengeSocket): void {
  this.destroy();
}

function onChallengeSecure(this: ChallengeSocket): void {
  this.end();
}

function onChallengeError(this: ChallengeSocket): void {
  // The CA closes the connection once it has read the certificate: an error then is expected.
  this.destroy();
}
