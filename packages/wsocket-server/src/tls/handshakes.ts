import type * as net from 'node:net';
import type * as tls from 'node:tls';
import { IpCounts } from '../admission/ip-counts';
import type { Refuser } from '../admission/refuser';
import type { TWSocketClient } from '../clients/wsocket-client';
import type { ServerEvents } from '../events';
import type { HostMatch } from '../hosts/host-table';
import type { Listener } from '../listen/listener';
import type { ServerSettings } from '../options/server-settings';
import { AcmeChallengeSource, HelloOutcome, HelloWait, awaitClientHello } from './acme-challenge';
import { HandshakeSweep } from './handshake-sweep';
import { HANDSHAKE_FAILURE_REASONS, HandshakeFailure, HandshakeFailureReason, HandshakeOutcome, startServerHandshake } from './handshake';

/** The stage after TLS: where a completed handshake goes (client slots). */
export interface SecureConnectionSink {
  admit(socket: net.Socket, listener: Listener, peerAddr: string, peerPort: number, host: HostMatch | undefined): void;
}

/**
 * The TLS stage: handshakes in progress have their own caps (maxHandshakes,
 * maxHandshakesPerIp) checked before any TLS work, and a deadline; they hold
 * no client slot, so silent peers cannot keep real clients out. A completed
 * handshake goes on to the client slots; a failed one is counted by reason.
 */
export class TlsHandshakes implements HandshakeOutcome, HelloOutcome {
  /** Handshakes in progress (ended by shutdown). */
  readonly pending = new Set<tls.TLSSocket>();
  private readonly sweep = new HandshakeSweep(this.pending);
  private readonly perIp = new IpCounts();
  /** Handshakes completed since the server was made. */
  done = 0;
  /** Handshakes that failed, by reason. */
  readonly failures = Object.fromEntries(HANDSHAKE_FAILURE_REASONS.map((r) => [r, 0])) as Record<HandshakeFailureReason, number>;
  failed = 0;
  /** tls-alpn-01 checks answered with a challenge certificate (certAutoOrder hosts). */
  acmeChallengesAnswered = 0;
  /** The certAutoOrder hosts' challenges, when the server has such hosts. */
  acme: AcmeChallengeSource | undefined;
  /** Connections whose ClientHello is being read (they count against maxHandshakes). */
  private helloWaits = 0;

  constructor(
    private readonly settings: ServerSettings,
    private readonly refuser: Refuser,
    private readonly events: ServerEvents<TWSocketClient>,
    private readonly next: SecureConnectionSink,
  ) {}

  start(socket: net.Socket, listener: Listener, peerAddr: string, peerPort: number): void {
    const { maxHandshakes, maxHandshakesPerIp, sslHandshakeTimeout } = this.settings;
    if (maxHandshakes > 0 && this.pending.size + this.helloWaits >= maxHandshakes) {
      return this.refuser.refuse(socket, 'maxHandshakes', listener, peerAddr, peerPort, `${maxHandshakes} TLS handshakes in progress`);
    }
    if (maxHandshakesPerIp > 0 && this.perIp.get(peerAddr) >= maxHandshakesPerIp) {
      return this.refuser.refuse(socket, 'maxHandshakesPerIp', listener, peerAddr, peerPort, `${maxHandshakesPerIp} TLS handshakes in progress from this address`);
    }
    this.perIp.add(peerAddr);
    if (this.acme?.tlsAlpnPending) {
      // A CA may be checking a tls-alpn-01 challenge: its ClientHello decides before any host is picked.
      const wait: HelloWait = { outcome: this, source: this.acme, listener, peerAddr, peerPort, timeoutMs: sslHandshakeTimeout, bytes: undefined };
      this.helloWaits++;
      return awaitClientHello(socket, wait);
    }
    this.handshake(socket, listener, peerAddr, peerPort, sslHandshakeTimeout);
  }

  private handshake(socket: net.Socket, listener: Listener, peerAddr: string, peerPort: number, timeoutMs: number): void {
    const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : 0;
    this.pending.add(startServerHandshake(socket, listener.tlsContext()!, deadline, this, listener, peerAddr, peerPort, listener.hosts?.sni));
    if (timeoutMs > 0) this.sweep.ensure(timeoutMs);
  }

  /** @internal The ClientHello was not a CA's check: the usual handshake. */
  ordinaryHello(raw: net.Socket, wait: HelloWait): void {
    this.helloWaits--;
    this.handshake(raw, wait.listener as Listener, wait.peerAddr, wait.peerPort, wait.timeoutMs);
  }

  /** @internal */
  challengeAnswered(wait: HelloWait): void {
    this.helloWaits--;
    this.perIp.remove(wait.peerAddr);
    this.acmeChallengesAnswered++;
  }

  /** @internal No ClientHello came: counted as a failed handshake. */
  helloFailed(_raw: net.Socket, wait: HelloWait, reason: 'timeout' | 'closed'): void {
    this.helloWaits--;
    this.perIp.remove(wait.peerAddr);
    this.failed++;
    this.failures[reason]++;
  }

  /** @internal */
  handshakeDone(socket: tls.TLSSocket, listener: Listener, host: HostMatch | undefined, peerAddr: string, peerPort: number): void {
    this.pending.delete(socket);
    this.perIp.remove(peerAddr);
    this.done++;
    listener.tally.handshakesDone++;
    this.next.admit(socket, listener, peerAddr, peerPort, host);
  }

  /** @internal */
  handshakeFailed(socket: tls.TLSSocket, failure: HandshakeFailure, peerAddr: string, listener: Listener): void {
    this.pending.delete(socket);
    this.perIp.remove(peerAddr);
    this.failed++;
    this.failures[failure.reason]++;
    listener.tally.handshakesFailed[failure.reason]++;
    if (this.events.wanted('sslHandshakeError')) this.events.emit('sslHandshakeError', failure);
  }

  /** Ends every handshake in progress (shutdown): they never become clients now. */
  destroyAll(): void {
    for (const socket of [...this.pending]) socket.destroy();
  }
}
