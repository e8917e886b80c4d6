import { TWSocket, ICS_ERR, icsError } from '@ics-ts/wsocket';
import type { ProxiedConnection } from '../admission/proxy-facts';
import type { IcsHost } from '../hosts/ics-host';
import type { TWSocketServer } from '../server';
import { TlsFacts, readTlsFacts } from '../tls/tls-facts';
import type { ClientList } from './client-list';
import { ConnectionInfo } from './connection-info';

/** @internal The server hands a new client its list, facts and banner in one call through this key. */
export const ADOPT = Symbol('ics-ts.adopt');
/** @internal The client's ConnectionInfo, for the server's stages. */
export const INFO = Symbol('ics-ts.info');

/**
 * TWSocketClient: the per-connection object a TWSocketServer creates through
 * dependency injection. Subclass it, set line options in the constructor
 * (`super({ lineMode: true })`), and override `onLine`/`onData`,
 * `onSessionConnected`, `onSessionClosed`, or `startConnection`.
 */
export class TWSocketClient extends TWSocket {
  /** Sent (with lineEnd) by `startConnection`; the server's banner unless changed in clientCreate/clientConnect. */
  banner = '';

  /** The list this client belongs to (and through it the server); undefined until the server takes it. */
  private list: ClientList<TWSocketClient> | undefined;
  /** What the server knew at accept; one object, shared with ConnectionInfo injection. */
  private connection: ConnectionInfo = NOT_CONNECTED;
  private ownTlsFacts: TlsFacts | undefined | null = null;

  /** @internal Everything the server knows of the connection, in one call, before clientCreate. */
  [ADOPT](list: ClientList<TWSocketClient>, info: ConnectionInfo, banner: string): void {
    this.list = list;
    this.connection = info;
    this.banner = banner;
  }

  /** @internal */
  get [INFO](): ConnectionInfo {
    return this.connection;
  }

  /**
   * The server that accepted this connection (set before `clientCreate`). In
   * the constructor it is not set yet: inject `TWSocketServer` there instead.
   */
  get server(): TWSocketServer {
    const list = this.list;
    if (!list) {
      throw icsError(Error, ICS_ERR.NOT_IN_CLIENT_CREATION,
        'TWSocketClient.server: no server has taken this client yet (in the constructor, inject TWSocketServer instead)',
      );
    }
    return list.server;
  }

  /** Sequential id on its server (ICS CliId), unique for the life of the server; 0 before the server took it. */
  get cliId(): number {
    return this.connection.cliId;
  }

  /** The listener that accepted this connection: -1 the main one, else its multiListenSockets index. */
  get multiListenIndex(): number {
    return this.connection.multiListenIndex;
  }

  /** The icsHosts entry serving this connection (ICS IcsHostIdx; -1 without icsHosts). */
  get icsHostIdx(): number {
    return this.connection.icsHostIdx;
  }

  /** The icsHosts entry serving this connection, with its names, bindings and TLS context. */
  get icsHost(): IcsHost | undefined {
    return this.connection.icsHost;
  }

  /** That host's hostTag ('' without icsHosts). */
  get hostTag(): string {
    return this.connection.hostTag;
  }

  /** The server name that picked the host ('*.example.com' for a wildcard match), '' for the default host. */
  get matchedName(): string {
    return this.connection.matchedName;
  }

  /**
   * TLS facts (protocol, cipher, SNI name, ALPN, client certificate) when the
   * connection came through a TLS listener; undefined on a plain one. Read
   * once and kept, so they stay readable after close.
   */
  get tls(): TlsFacts | undefined {
    if (this.list) return this.connection.tls;
    if (this.ownTlsFacts === null) {
      const socket = this.rawSocket;
      if (!socket) return undefined;
      this.ownTlsFacts = readTlsFacts(socket);
    }
    return this.ownTlsFacts;
  }

  /**
   * The load balancer and its PROXY header (version, the client's and the
   * balancer's endpoints, the v2 TLVs) when the listener reads one; peerAddr
   * is then the client's address from the header.
   */
  get proxy(): ProxiedConnection | undefined {
    return this.connection.proxy;
  }

  /** The load balancer's address ('' when the connection came without a PROXY header). */
  get proxyAddr(): string {
    return this.connection.proxyAddr;
  }

  get proxyPort(): number {
    return this.connection.proxyPort;
  }

  /** The connection is TLS (its listener had sslEnable). */
  get sslEnabled(): boolean {
    return this.tls !== undefined;
  }

  /**
   * Greets the peer; the server calls it after `clientConnect`. Override it for
   * a richer greeting.
   */
  startConnection(): void {
    if (this.banner.length > 0) this.sendLine(this.banner);
  }

  /**
   * The server is shutting down (`server.shutdown()`): tell the peer. By
   * default the notice line, if the shutdown has one (a chat announces it, a
   * line protocol sends its 421-style line). The connection is closed
   * gracefully right after.
   */
  protected onShutdown(notice: string | undefined): void {
    if (notice !== undefined && notice.length > 0) this.sendLine(notice);
  }

  /**
   * @internal The server's shutdown: onShutdown, then a graceful close that
   * still answers the lines already read (closeGracefully: held input is
   * processed, replies flushed, FIN, the peer's further bytes read and dropped).
   */
  beginShutdown(notice: string | undefined): void {
    try {
      this.onShutdown(notice);
    } catch (error) {
      this.handleBgException(error);
      return;
    }
    this.closeGracefully();
  }

  protected override handleBgException(error: unknown): void {
    const list = this.list;
    if (!list) return super.handleBgException(error);
    this.abort();
    list.events.bgException(error, this);
  }

  /** @internal */
  override handleSocketClose(hadError: boolean): void {
    try {
      super.handleSocketClose(hadError);
    } catch (error) {
      // Client code that TWSocket did not guard threw: report it like any client
      // exception rather than let it escape into Node's socket 'close' event
      // as an uncaught exception.
      this.handleBgException(error);
    } finally {
      // Whatever happened, the list must hear of it, or the client would stay in it.
      this.list?.closed(this, this.lastError);
    }
  }
}

/** The facts of a client no server has taken (yet). */
const NOT_CONNECTED = Object.freeze(new ConnectionInfo(0, '', 0, '', 0, -1));
