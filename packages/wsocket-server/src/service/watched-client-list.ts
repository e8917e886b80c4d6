import { ClientList } from '../clients/client-list';
import type { TWSocketClient } from '../clients/wsocket-client';

/** What a service stage learns of the client list: who joined (shared-bus servers only), who left. */
export interface ClientWatcher<C extends TWSocketClient> {
  clientAdded(client: C): void;
  clientLeft(client: C): void;
}

/**
 * The client list that tells the service stages when a client leaves it
 * (rooms drop the member, the slot stage gives its slot back), once per
 * client, after clientDisconnect. A watcher that throws is reported
 * (bgException) and the others still run.
 */
export class WatchedClientList<C extends TWSocketClient> extends ClientList<C> {
  protected readonly watchers: ClientWatcher<C>[] = [];

  watch(watcher: ClientWatcher<C>): void {
    this.watchers.push(watcher);
  }

  override closed(client: C, error: Error | undefined): void {
    if (!this.has(client)) return;
    super.closed(client, error);
    for (let i = 0; i < this.watchers.length; i++) {
      try {
        this.watchers[i].clientLeft(client);
      } catch (watcherError) {
        this.events.bgException(watcherError, undefined);
      }
    }
  }
}

/**
 * With a shared bus, the slot stage must also know which client a connection
 * became (the client holds the slot): this list tells the watchers of each
 * client added too. Kept apart so that a server with the LocalBus does no
 * added work per accept.
 */
export class SlotClientList<C extends TWSocketClient> extends WatchedClientList<C> {
  override add(client: C): void {
    super.add(client);
    for (let i = 0; i < this.watchers.length; i++) this.watchers[i].clientAdded(client);
  }
}
