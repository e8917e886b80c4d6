import { IpCounts } from '../admission/ip-counts';
import type { ServerEvents } from '../events';
import type { TWSocketServer } from '../server';
import { INFO, TWSocketClient } from './wsocket-client';

/**
 * The connected clients in connection order: a Set (O(1) add and remove at
 * any churn), an array snapshot built on demand, the count per address for
 * maxClientsPerIp. A client reports its own end here (through the key the
 * factory set on it); the list fires clientDisconnect and lets it go.
 */
export class ClientList<C extends TWSocketClient> {
  private readonly set = new Set<C>();
  private snapshot: C[] | undefined;
  private readonly waiters = new Map<C, () => void>();
  /** Clients per address (an IPv6 /64 as one). */
  readonly perIp = new IpCounts();
  /** The most clients at once since the server was made. */
  peak = 0;
  /** Clients admitted since the server was made. */
  admitted = 0;

  constructor(
    /** The server clients belong to (client.server). */
    readonly server: TWSocketServer<C>,
    readonly events: ServerEvents<C>,
  ) {}

  get size(): number {
    return this.set.size;
  }

  get all(): readonly C[] {
    return (this.snapshot ??= [...this.set]);
  }

  has(thing: unknown): thing is C {
    return this.set.has(thing as C);
  }

  add(client: C): void {
    this.set.add(client);
    this.snapshot = undefined;
    this.perIp.add(client[INFO].peerAddrRaw);
    this.admitted++;
    if (this.set.size > this.peak) this.peak = this.set.size;
    client[INFO].tally?.clientIn();
  }

  /** @internal The client's session is over: clientDisconnect, then it leaves the list (once). */
  closed(client: C, error: Error | undefined): void {
    if (!this.set.has(client)) return;
    this.events.emit('clientDisconnect', client, error);
    this.set.delete(client);
    this.snapshot = undefined;
    this.perIp.remove(client[INFO].peerAddrRaw);
    client[INFO].tally?.clientOut(client.bytesReceived, client.bytesSent, client.lastError);
    const waiter = this.waiters.get(client);
    if (waiter) {
      this.waiters.delete(client);
      waiter();
    }
  }

  /** Resolves once the client has left the list. */
  whenGone(client: C): Promise<void> {
    if (!this.set.has(client)) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.waiters.get(client);
      this.waiters.set(client, previous ? () => (previous(), resolve()) : resolve);
    });
  }
}
