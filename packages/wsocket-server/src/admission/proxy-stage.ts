import type * as net from 'node:net';
import { unmapIPv4 } from '@ics-ts/wsocket';
import type { TWSocketClient } from '../clients/wsocket-client';
import type { ServerEvents } from '../events';
import type { Listener } from '../listen/listener';
import { ProxyHeaderDecoder } from './proxy-decoder';
import { markProxied } from './proxy-facts';
import type { ProxyHeader, ProxyProtocolMode, ProxyRefusal } from './proxy-header';
import { PROXY_REFUSALS } from './proxy-header';
import { isTrustedProxy, ProxyPolicy } from './proxy-policy';
import type { Refuser } from './refuser';

/** Why a header did not come through: the decoder's refusals, or its deadline. */
export const PROXY_FAILURE_REASONS = [...PROXY_REFUSALS, 'timeout'] as const;
export type ProxyFailureReason = ProxyRefusal | 'timeout';

/** Where a connection goes once its header is read: the admission policies, with the client's address. */
export interface ProxiedSink {
  admitPeer(socket: net.Socket, listener: Listener, peerAddr: string, peerPort: number): void;
}

interface Pending {
  stage: ProxyHeaders;
  decoder: ProxyHeaderDecoder;
  listener: Listener;
  /** Date.now() by which the whole header must be in. */
  deadline: number;
  /** The balancer, as the system reported it. */
  proxyAddr: string;
  proxyPort: number;
}

const PENDING = Symbol('ics-ts.proxyHeader');
type PendingSocket = net.Socket & { [PENDING]?: Pending };

/** The shortest and longest pause between two deadline sweeps. */
const SWEEP_MIN_MS = 10;
const SWEEP_MAX_MS = 1000;

/**
 * The PROXY header stage, first on listeners with proxyProtocol: refuses a
 * peer that is not a trusted balancer, then reads the header with its own
 * deadline (one sweep timer for all pending headers, none per socket) and the
 * decoder's byte bound, then hands the connection on with the client's
 * address, so allow/deny, the accept filter, per-address limits and the TLS
 * handshake all see the client. The bytes after the header (a TLS ClientHello,
 * a first line) are put back on the socket (`unshift`) for whoever reads next.
 *
 * A header that is malformed, truncated, oversized, of the wrong version, with
 * a bad checksum or late closes the connection at once, counted by reason
 * (refusal `proxyHeader`). A v2 LOCAL header (the balancer's health check)
 * is answered with a clean close and counted, never made a client; v1
 * UNKNOWN and v2 AF_UNSPEC become clients with the balancer's address, as the
 * spec says.
 */
export class ProxyHeaders {
  /** Connections whose header is not complete yet. */
  readonly pending = new Set<net.Socket>();
  /** Headers refused, by reason. */
  readonly failures = Object.fromEntries(PROXY_FAILURE_REASONS.map((r) => [r, 0])) as Record<ProxyFailureReason, number>;
  /** Headers read (LOCAL ones included). */
  decoded = 0;
  /** v2 LOCAL headers: the balancer's health checks, closed cleanly. */
  healthChecks = 0;
  private timer: NodeJS.Timeout | undefined;
  private everyMs = 0;

  constructor(
    private readonly refuser: Refuser,
    private readonly events: ServerEvents<TWSocketClient>,
    private readonly next: ProxiedSink,
  ) {}

  start(socket: net.Socket, listener: Listener, policy: ProxyPolicy, proxyAddr: string, proxyPort: number): void {
    if (proxyAddr === '') {
      // No peer address: the connection was reset before it was taken from the
      // accept queue (HAProxy's connect-only health checks close that way).
      this.failures.truncated++;
      return this.refuser.refuse(socket, 'proxyHeader', listener, proxyAddr, proxyPort, 'PROXY header: truncated (reset before it was accepted)');
    }
    if (!isTrustedProxy(policy, proxyAddr)) {
      return this.refuser.refuse(socket, 'proxyUntrusted', listener, proxyAddr, proxyPort, 'not in trustedProxies');
    }
    (socket as PendingSocket)[PENDING] = {
      stage: this,
      decoder: new ProxyHeaderDecoder(policy.mode as ProxyProtocolMode, policy.maxBytes),
      listener,
      deadline: Date.now() + policy.timeoutMs,
      proxyAddr,
      proxyPort,
    };
    this.pending.add(socket);
    socket.on('data', onHeaderData);
    socket.on('end', onHeaderEnd);
    socket.on('error', onHeaderError);
    socket.on('close', onHeaderClose);
    this.ensureSweep(policy.timeoutMs);
  }

  /** Ends every connection still waiting for its header (shutdown); not counted as failures. */
  destroyAll(): void {
    for (const socket of [...this.pending]) {
      this.settle(socket as PendingSocket);
      socket.destroy();
    }
  }

  /** @internal */
  received(socket: PendingSocket, pending: Pending, chunk: Buffer): void {
    const result = pending.decoder.push(chunk);
    if (result.status === 'more') return;
    this.settle(socket);
    if (result.status === 'error') this.fail(socket, pending, result.reason);
    else this.done(socket, pending, result.header, result.rest);
  }

  /** @internal The peer ended, reset or closed before the header was complete. */
  ended(socket: PendingSocket): void {
    const pending = this.settle(socket);
    if (pending) this.fail(socket, pending, 'truncated');
  }

  /** @internal Ends the headers past their deadline; stops when none is pending. */
  sweep(): void {
    const now = Date.now();
    for (const socket of this.pending) {
      const pending = (socket as PendingSocket)[PENDING];
      if (pending && pending.deadline <= now) {
        this.settle(socket as PendingSocket);
        this.fail(socket, pending, 'timeout');
      }
    }
    if (this.pending.size === 0) this.stopSweep();
  }

  private done(socket: net.Socket, pending: Pending, header: ProxyHeader, rest: Buffer): void {
    this.decoded++;
    if (header.command === 'local') {
      this.healthChecks++;
      socket.resume(); // whatever else comes is dropped
      socket.destroySoon();
      if (this.events.wanted('proxyHealthCheck')) {
        const check = { proxyAddr: unmapIPv4(pending.proxyAddr), proxyPort: pending.proxyPort, multiListenIndex: pending.listener.index };
        this.events.emit('proxyHealthCheck', check);
      }
      return;
    }
    markProxied(socket, { proxyAddrRaw: pending.proxyAddr, proxyPort: pending.proxyPort, header });
    const client = header.endpoints;
    const relayed = client !== undefined && client.family !== 'unix';
    const peerAddr = relayed ? client.sourceAddress : pending.proxyAddr;
    const peerPort = relayed ? client.sourcePort : pending.proxyPort;
    if (rest.length === 0) return this.next.admitPeer(socket, pending.listener, peerAddr, peerPort);
    // The first application bytes go back on the socket, paused so that no one
    // loses them before the next reader is there: the TLS socket reads what is
    // buffered when it starts; a plain client's socket is resumed once attached.
    socket.pause();
    socket.unshift(rest);
    this.next.admitPeer(socket, pending.listener, peerAddr, peerPort);
    if (!pending.listener.spec.sslEnable && !socket.destroyed) socket.resume();
  }

  private fail(socket: net.Socket, pending: Pending, reason: ProxyFailureReason): void {
    this.failures[reason]++;
    this.refuser.refuse(socket, 'proxyHeader', pending.listener, pending.proxyAddr, pending.proxyPort, `PROXY header: ${reason}`);
  }

  /** Takes the pending record off (once) and stops listening for header bytes. */
  private settle(socket: PendingSocket): Pending | undefined {
    const pending = socket[PENDING];
    if (!pending) return undefined;
    socket[PENDING] = undefined;
    this.pending.delete(socket);
    socket.removeListener('data', onHeaderData);
    socket.removeListener('end', onHeaderEnd);
    // 'error' and 'close' stay, inert without the record (removing costs more;
    // the error listener keeps a late reset of a refused socket handled).
    return pending;
  }

  private ensureSweep(timeoutMs: number): void {
    const every = Math.min(SWEEP_MAX_MS, Math.max(SWEEP_MIN_MS, Math.floor(timeoutMs / 4)));
    if (this.timer && every >= this.everyMs) return;
    this.stopSweep();
    this.everyMs = every;
    this.timer = setInterval(sweepNow, every, this);
    this.timer.unref();
  }

  private stopSweep(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.everyMs = 0;
  }
}

function onHeaderData(this: PendingSocket, chunk: Buffer): void {
  const pending = this[PENDING];
  if (pending) pending.stage.received(this, pending, chunk);
}

function onHeaderEnd(this: PendingSocket): void {
  this[PENDING]?.stage.ended(this);
}

function onHeaderError(this: PendingSocket): void {
  this[PENDING]?.stage.ended(this);
}

function onHeaderClose(this: PendingSocket): void {
  this[PENDING]?.stage.ended(this);
}

function sweepNow(stage: ProxyHeaders): void {
  stage.sweep();
}
