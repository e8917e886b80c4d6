import type * as net from 'node:net';
import type { ClientList } from '../clients/client-list';
import type { TWSocketClient } from '../clients/wsocket-client';
import type { HostMatch } from '../hosts/host-table';
import type { Listener } from '../listen/listener';
import type { ServerSettings } from '../options/server-settings';
import type { SecureConnectionSink } from '../tls/handshakes';
import type { TooBusy } from './too-busy';

/**
 * Where a connection that got its slot goes: the ClientStarter, or (with a
 * shared ServiceBus) the service-wide slot stage, which then calls the starter.
 */
export interface SlotHolderSink {
  start(socket: net.Socket, listener: Listener, peerAddr: string, peerPort: number, host: HostMatch | undefined): void;
}

/**
 * The client slots: maxClients for the server, maxClientsPerIp for one
 * address (an IPv6 /64 as one). A connection (a TLS one once its handshake
 * is done) takes a slot if one is free, else it is told it is too busy.
 * These are this server's own limits; with a shared bus, `next` is the
 * service-wide stage, which asks the bus for the service's slot after them.
 */
export class ClientSlots<C extends TWSocketClient> implements SecureConnectionSink {
  constructor(
    private readonly settings: ServerSettings<C>,
    private readonly list: ClientList<C>,
    private readonly tooBusy: TooBusy,
    private readonly next: SlotHolderSink,
  ) {}

  admit(socket: net.Socket, listener: Listener, peerAddr: string, peerPort: number, host: HostMatch | undefined): void {
    if (!this.rejectedLocally(socket, listener, peerAddr, peerPort)) this.next.start(socket, listener, peerAddr, peerPort, host);
  }

  /**
   * This server's own limits: true when the connection was turned away. Run
   * by admit(), and again for a connection that waited for a bus that did not
   * answer (other connections may have become clients meanwhile).
   */
  rejectedLocally(socket: net.Socket, listener: Listener, peerAddr: string, peerPort: number): boolean {
    const { maxClients } = this.settings;
    if (maxClients > 0 && this.list.size >= maxClients) {
      this.tooBusy.reject(socket, listener, peerAddr, peerPort, 'maxClients', this.settings.bannerTooBusy);
      return true;
    }
    const perIp = listener.policy.maxClientsPerIp;
    if (perIp > 0 && this.list.perIp.get(peerAddr) >= perIp) {
      this.tooBusy.reject(socket, listener, peerAddr, peerPort, 'perIp', this.settings.bannerTooBusyPerIp ?? this.settings.bannerTooBusy);
      return true;
    }
    return false;
  }
}
