import type * as net from 'node:net';
import { proxiedOf } from '../admission/proxy-facts';
import type { ServerEvents } from '../events';
import type { HostMatch } from '../hosts/host-table';
import type { IcsHost } from '../hosts/ics-host';
import type { Listener } from '../listen/listener';
import type { ServerSettings } from '../options/server-settings';
import { readTlsFacts } from '../tls/tls-facts';
import type { ClientFactory } from './client-factory';
import type { ClientList } from './client-list';
import type { ClientConstructor } from './client-registry';
import { ConnectionInfo } from './connection-info';
import { ADOPT, TWSocketClient } from './wsocket-client';

/**
 * The last stage: an admitted connection becomes a client. Its facts are read
 * once (they stay readable after close), the client class is resolved, the
 * client gets list, facts and banner in one call, joins the list, then the ICS
 * sequence runs: clientCreate, socket attached (state connected),
 * clientConnect, the banner (startConnection). Client code that throws aborts
 * that client only (bgException).
 */
export class ClientStarter<C extends TWSocketClient> {
  private lastCliId = 0;

  constructor(
    private readonly settings: ServerSettings<C>,
    private readonly factory: ClientFactory,
    private readonly list: ClientList<C>,
    private readonly events: ServerEvents<C>,
  ) {}

  start(socket: net.Socket, listener: Listener, peerAddr: string, peerPort: number, match: HostMatch | undefined): void {
    // On a plain binding the host is the first bound there; on TLS, SNI's pick.
    const host = (match?.host ?? listener.hosts?.hosts[0]) as IcsHost<C> | undefined;
    const info = new ConnectionInfo(
      ++this.lastCliId,
      peerAddr,
      peerPort,
      listener.localAddrOf(socket),
      listener.localPortOf(socket),
      listener.index,
      host?.index ?? -1,
      host?.hostTag ?? '',
      match?.matchedName ?? '',
      host,
      // Read while the handshake is fresh.
      listener.spec.sslEnable ? readTlsFacts(socket) : undefined,
      proxiedOf(socket),
      listener.tally,
    );
    const cls = host?.clientClass ?? (listener.spec.clientClass as ClientConstructor<C> | undefined) ?? this.settings.clientClass;
    let client: C;
    try {
      client = this.factory.create(cls, info);
    } catch (error) {
      socket.destroy();
      this.events.bgException(error, undefined);
      return;
    }
    client[ADOPT](this.list as unknown as ClientList<TWSocketClient>, info, host?.banner ?? this.settings.banner);
    this.list.add(client);

    const created = this.events.emit('clientCreate', client);
    try {
      // Runs client code too (onSessionConnected, changeState listeners).
      client.attach(socket, info, listener.spec.clientDefaults);
    } catch (error) {
      if (!client.rawSocket) socket.destroy(); // never attached: nobody else will close it
      client.abort();
      this.events.bgException(error, client);
      if (!client.rawSocket) this.list.closed(client, undefined);
      return;
    }
    if (!created) return client.abort();
    // onSessionConnected may have failed (the client was aborted and reported):
    // no clientConnect for a client that is already going away.
    if (client.state !== 'connected') return;
    if (!this.events.emit('clientConnect', client)) return client.abort();
    if (client.state !== 'connected') return;
    try {
      client.startConnection();
    } catch (error) {
      client.abort();
      this.events.bgException(error, client);
    }
  }
}
