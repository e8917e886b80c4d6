import { TWSocket } from '@ics-ts/wsocket';
import { ConnectionInfo } from './connection-info';
import type { IcsHost } from '../hosts/ics-host';
import { TlsFacts, readTlsFacts } from '../tls/tls-facts';

/** What a client needs of the server that owns it. */
export interface ClientOwner {
  /** @internal */
  clientClosed(client: TWSocketClient, error: Error | undefined): void;
  /** @internal */
  reportBgException(error: unknown, client: TWSocketClient): void;
}

/**
 * TWSocketClient: the per-connection object a TWSocketServer creates through
 * dependency injection. Subclass it, set line options in the constructor
 * (`super({ lineMode: true })`), and override `onLine`/`onData`,
 * `onSessionConnected`, `onSessionClosed`, or `startConnection`.
 */
export class TWSocketClient extends TWSocket {
  /** The server that accepted this connection; set before `clientCreate`. */
  server: ClientOwner | undefined;
  /** Sent (with lineEnd) by `startConnection`; the server's banner unless changed in clientCreate/clientConnect. */
  banner = '';
  /** The icsHosts entry serving this connection, with its names, bindings and TLS context. */
  icsHost: IcsHost | undefined;

  /** What the server knew at accept; one object, shared with ConnectionInfo injection. */
  private connection: ConnectionInfo = NOT_CONNECTED;
  private tlsFacts: TlsFacts | undefined | null = null;

  /** @internal The server hands over the connection's facts before clientCreate. */
  setConnection(info: ConnectionInfo): void {
    this.connection = info;
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

  /** That host's hostTag ('' without icsHosts). */
  get hostTag(): string {
    return this.connection.hostTag;
  }

  /** The server name that picked the host ('*.example.com' for a wildcard match), '' for the default host. */
  get matchedName(): string {
    return this.connection.matchedName;
  }

  /** @internal The server reads the facts while the handshake is fresh. */
  setTlsFacts(facts: TlsFacts | undefined): void {
    this.tlsFacts = facts;
  }

  /**
   * TLS facts (protocol, cipher, SNI name, ALPN, client certificate) when the
   * connection came through a TLS listener; undefined on a plain one. Read
   * once and kept, so they stay readable after close.
   */
  get tls(): TlsFacts | undefined {
    if (this.tlsFacts === null) {
      const socket = this.rawSocket;
      if (!socket) return undefined;
      this.tlsFacts = readTlsFacts(socket);
    }
    return this.tlsFacts;
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

  protected override handleBgException(error: unknown): void {
    const server = this.server;
    if (!server) return super.handleBgException(error);
    this.abort();
    server.reportBgException(error, this);
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
      // Whatever happened, the server must hear of it, or the client would stay in its list.
      this.server?.clientClosed(this, this.lastError);
    }
  }
}

/** The facts of a client no server has taken (yet). */
const NOT_CONNECTED = Object.freeze(new ConnectionInfo(0, '', 0, '', 0, -1));
