import type * as net from 'node:net';
import { unmapIPv4 } from '@ics-ts/wsocket';
import type { ClientList } from '../clients/client-list';
import type { TWSocketClient } from '../clients/wsocket-client';
import type { ServerEvents } from '../events';
import type { Listener } from '../listen/listener';
import type { ServerSettings } from '../options/server-settings';
import type { TlsHandshakes } from '../tls/handshakes';
import type { ClientSlots } from './client-slots';
import { ProxiedSink, ProxyHeaders } from './proxy-stage';
import type { Refuser } from './refuser';
import type { TooBusy } from './too-busy';

/**
 * The first stage, run for every accepted socket before anything is
 * allocated for it, cheapest check first: the hard cap on sockets held
 * (maxConnections), the deny and allow lists, the accept filter. A socket
 * refused here is destroyed with no byte sent. What passes goes to the TLS
 * handshake (TLS listeners) or straight to the client slots. On a listener
 * with proxyProtocol, a trusted balancer's connection first goes through the
 * PROXY header stage, and comes back (admitPeer) with the client's address.
 */
export class AdmissionGate<C extends TWSocketClient> implements ProxiedSink {
  /** Connections the listeners accepted. */
  accepted = 0;
  /** Connections whose PROXY header is being read. */
  readonly proxyHeaders: ProxyHeaders;

  constructor(
    private readonly settings: ServerSettings<C>,
    private readonly refuser: Refuser,
    private readonly events: ServerEvents<C>,
    private readonly clients: ClientList<C>,
    private readonly tooBusy: TooBusy,
    private readonly handshakes: TlsHandshakes,
    private readonly slots: ClientSlots<C>,
  ) {
    this.proxyHeaders = new ProxyHeaders(refuser, events as unknown as ServerEvents<TWSocketClient>, this);
  }

  /** Every socket the server holds now: clients, handshakes in progress, busy peers being turned away. */
  get held(): number {
    return this.clients.size + this.handshakes.pending.size + this.tooBusy.sockets.size + this.proxyHeaders.pending.size;
  }

  accept(socket: net.Socket, listener: Listener): void {
    this.accepted++;
    listener.accepted++;
    const peerAddr = socket.remoteAddress ?? '';
    const peerPort = socket.remotePort ?? 0;
    const max = this.settings.maxConnections;
    if (max > 0 && this.held >= max) {
      return this.refuser.refuse(socket, 'maxConnections', listener, peerAddr, peerPort, `maxConnections ${max}`);
    }
    const proxy = listener.policy.proxy;
    if (proxy !== undefined && proxy.mode !== 'off') return this.proxyHeaders.start(socket, listener, proxy, peerAddr, peerPort);
    this.admitPeer(socket, listener, peerAddr, peerPort);
  }

  /** The policies, on the peer's address: the connection's own, or the client's from its PROXY header. */
  admitPeer(socket: net.Socket, listener: Listener, peerAddr: string, peerPort: number): void {
    const policy = listener.policy;
    if (policy.deny?.has(peerAddr)) return this.refuser.refuse(socket, 'deny', listener, peerAddr, peerPort, 'in the deny list');
    if (policy.allow && !policy.allow.has(peerAddr)) {
      return this.refuser.refuse(socket, 'notAllowed', listener, peerAddr, peerPort, 'not in the allow list');
    }
    if (policy.acceptFilter) {
      const refusal = this.filter(listener, peerAddr, peerPort);
      if (refusal !== undefined) return this.refuser.refuse(socket, 'filter', listener, peerAddr, peerPort, refusal);
    }
    if (listener.spec.sslEnable) this.handshakes.start(socket, listener, peerAddr, peerPort);
    else this.slots.admit(socket, listener, peerAddr, peerPort, undefined);
  }

  /** The filter's refusal text, or undefined when it admits. A filter that throws refuses. */
  private filter(listener: Listener, peerAddr: string, peerPort: number): string | undefined {
    try {
      const verdict = listener.policy.acceptFilter!({
        peerAddr: unmapIPv4(peerAddr),
        peerPort,
        multiListenIndex: listener.index,
        tls: listener.spec.sslEnable,
      });
      if (verdict === false) return 'refused by the accept filter';
      if (typeof verdict === 'string') return verdict;
      return undefined;
    } catch (error) {
      this.events.bgException(error, undefined);
      return 'the accept filter threw';
    }
  }
}
