import { EventEmitter } from 'node:events';
import type { TSslContext, SslContextOptions } from '@ics-ts/ssl-context';
import { describe, ICS_ERR, icsError, icsSystemError } from '@ics-ts/wsocket';
import { TWSocketServer } from '@ics-ts/wsocket-server';
import { container as globalContainer, DependencyContainer } from 'tsyringe';
import { DEFAULT_MAX_BUFFERED, checkBufferLimit } from '../input-buffer';
import { XojoErrorCode, xojoErrorCode } from './error-codes';
import { resolveNetworkInterface } from './network-interface';
import { XojoTCPSocket } from './tcp-socket';

/** Options of XojoServerSocket; every one is also a property that may be set before listen(). */
export interface XojoServerSocketOptions {
  /** Port to listen on, 0..65535; 0 = the system picks one (read it back from `port`). Default 0. */
  port?: number;
  /** An interface name (`lo`, `eth0`) or an IP address; '' or undefined = every interface. Default every interface. */
  networkInterface?: string;
  /** Ready sockets kept in the pool, made by addSocket, 0..10000. Default 2 (Xojo's). */
  minimumSocketsAvailable?: number;
  /** Most connections at once; over it a connection is refused (closed at once, counted); 0 = no limit. Default 10 (Xojo's). */
  maximumSocketsConnected?: number;
  /** Makes a socket for the pool (Xojo's AddSocket event). Default: a plain XojoTCPSocket. */
  addSocket?: () => XojoTCPSocket;
  /** Most received bytes each socket holds for readAll() before it stops reading. Default 1 MiB. */
  maxBuffered?: number;
  /** Serve TLS (Xojo's SSLSocket on the server side). Default false. */
  sslEnable?: boolean;
  /** TLS identity and settings, a TSslContext or its options (needed by sslEnable). */
  sslContext?: TSslContext | SslContextOptions;
  /** Milliseconds a TLS handshake may take; 0 = no limit. Default 10000 (TWSocketServer's). */
  sslHandshakeTimeout?: number;
  /** Where the engine resolves services (a child is made for this server). Default tsyringe's global container, read only. */
  container?: DependencyContainer;
}

export interface XojoServerSocketEvents {
  /** Listening failed, or the listener failed while running (Xojo Error): a Xojo error number and the error. */
  error: [errorCode: number, error: Error];
  /** An exception escaped a socket's or addSocket's code; that socket (if any) was aborted, the server goes on. */
  bgException: [error: unknown, socket: XojoTCPSocket | undefined];
}

export const XOJO_DEFAULTS = {
  port: 0,
  minimumSocketsAvailable: 2,
  maximumSocketsConnected: 10,
  maxBuffered: DEFAULT_MAX_BUFFERED,
} as const;

/** The pool never holds more than this many sockets, whatever minimumSocketsAvailable asks. */
export const MAX_POOL = 10000;

const WHERE = 'XojoServerSocket';

/**
 * Xojo's ServerSocket over TWSocketServer: listens on one port and hands each
 * connection to a ready socket from a pool that addSocket fills. Connections
 * over maximumSocketsConnected are refused (see docs/server-socket-xojo.md).
 */
export class XojoServerSocket extends EventEmitter<XojoServerSocketEvents> {
  private portValue: number;
  private interfaceValue: string | undefined;
  private address: string;
  private minimum: number;
  private maximum: number;
  private readonly factory: (() => XojoTCPSocket) | undefined;
  private readonly maxBufferedBytes: number;
  private readonly tls: Pick<XojoServerSocketOptions, 'sslEnable' | 'sslContext' | 'sslHandshakeTimeout'>;
  private readonly scope: DependencyContainer;
  private readonly pool: XojoTCPSocket[] = [];
  private replenishPending = false;
  private current: TWSocketServer<XojoTCPSocket> | undefined;
  /** Engines stopped with stopListening() whose connections are still open. */
  private readonly draining = new Set<TWSocketServer<XojoTCPSocket>>();
  private refused = 0;

  constructor(options: XojoServerSocketOptions = {}) {
    super();
    if (options === null || typeof options !== 'object') throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${WHERE}: options must be an object, got ${describe(options)}`);
    this.portValue = checkPort(options.port ?? XOJO_DEFAULTS.port);
    this.interfaceValue = options.networkInterface;
    this.address = resolveNetworkInterface(options.networkInterface, WHERE);
    this.minimum = checkPoolSize(options.minimumSocketsAvailable ?? XOJO_DEFAULTS.minimumSocketsAvailable);
    this.maximum = checkMaximum(options.maximumSocketsConnected ?? XOJO_DEFAULTS.maximumSocketsConnected);
    if (options.addSocket !== undefined && typeof options.addSocket !== 'function') {
      throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${WHERE}: option addSocket must be a function returning an XojoTCPSocket, got ${describe(options.addSocket)}`);
    }
    this.factory = options.addSocket;
    this.maxBufferedBytes = checkBufferLimit(options.maxBuffered ?? XOJO_DEFAULTS.maxBuffered, WHERE, 'maxBuffered');
    this.tls = { sslEnable: options.sslEnable, sslContext: options.sslContext, sslHandshakeTimeout: options.sslHandshakeTimeout };
    // The engine resolves its client class here: the pool answers, not `new`.
    this.scope = (options.container ?? globalContainer).createChildContainer();
    this.scope.register(XojoTCPSocket, { useFactory: () => this.takeSocket() });
    // Checked now (TLS identity, timeouts), not at the first listen().
    this.makeEngine();
  }

  // ---- properties ----------------------------------------------------------------

  /** The port: as set before listen(), the bound one while listening (the real one when 0 was asked). */
  get port(): number {
    return this.current ? this.current.bindPort : this.portValue;
  }

  set port(value: number) {
    this.checkNotListening('port');
    this.portValue = checkPort(value);
  }

  /** The interface name or address as set ('' = every interface). */
  get networkInterface(): string {
    return this.interfaceValue ?? '';
  }

  set networkInterface(value: string) {
    this.checkNotListening('networkInterface');
    this.address = resolveNetworkInterface(value, WHERE);
    this.interfaceValue = value;
  }

  /** The address listened on: the interface's address, or 0.0.0.0 for every interface. */
  get localAddress(): string {
    return this.address;
  }

  get isListening(): boolean {
    return this.current?.state === 'listening';
  }

  /** The engine doing the work (Xojo Handle: Node gives no public handle of a listening socket). */
  get handle(): TWSocketServer<XojoTCPSocket> | undefined {
    return this.current;
  }

  get minimumSocketsAvailable(): number {
    return this.minimum;
  }

  /** Raising it while listening fills the pool (addSocket fires); lowering it drops spare pooled sockets. */
  set minimumSocketsAvailable(value: number) {
    this.minimum = checkPoolSize(value);
    if (this.pool.length > this.minimum) this.pool.length = this.minimum;
    else if (this.isListening) this.scheduleReplenish();
  }

  get maximumSocketsConnected(): number {
    return this.maximum;
  }

  /** Takes effect for the next connection; nobody connected is dropped. */
  set maximumSocketsConnected(value: number) {
    this.maximum = checkMaximum(value);
    if (this.current) this.current.maxClients = this.maximum;
  }

  /** Ready sockets in the pool now. */
  get socketsAvailable(): number {
    return this.pool.length;
  }

  /** Connections refused because maximumSocketsConnected was reached. */
  get refusedCount(): number {
    return this.refused + (this.current?.tooBusyCount ?? 0);
  }

  // ---- methods --------------------------------------------------------------------

  /** The sockets connected now (Xojo ActiveConnections), also those of a listen stopped since. */
  activeConnections(): XojoTCPSocket[] {
    const sockets: XojoTCPSocket[] = [];
    for (const engine of this.draining) sockets.push(...engine.clients);
    if (this.current) sockets.push(...this.current.clients);
    return sockets;
  }

  /**
   * Fills the pool (addSocket) and listens. Resolves true once listening. On
   * failure it emits `error` with the Xojo error number and resolves false, as
   * Xojo reports it through its Error event; with no `error` listener it rejects.
   */
  async listen(): Promise<boolean> {
    if (this.current) {
      return this.failed(XojoErrorCode.invalidStateError, icsError(Error, ICS_ERR.ALREADY_LISTENING, `${WHERE}: already listening on port ${this.port}`));
    }
    const engine = this.makeEngine();
    this.current = engine;
    try {
      this.fillPool();
      await engine.listen();
      return true;
    } catch (error) {
      // A stopListening() and a new listen() meanwhile own the facade now: leave them be.
      if (this.current === engine) {
        this.current = undefined;
        this.pool.length = 0;
      }
      return this.failed(xojoErrorCode(error as Error), this.listenError(error as NodeJS.ErrnoException));
    }
  }

  /** Stops listening and empties the pool; connected sockets stay connected. */
  stopListening(): void {
    const engine = this.current;
    if (!engine) return;
    this.current = undefined;
    this.pool.length = 0;
    this.refused += engine.tooBusyCount;
    void engine.close();
    if (engine.clientCount > 0) this.draining.add(engine);
  }

  /**
   * Makes a socket for the pool (Xojo's AddSocket event): the addSocket option,
   * else a plain XojoTCPSocket. Override it in a subclass as Xojo code does.
   */
  protected addSocket(): XojoTCPSocket {
    return this.factory ? this.factory() : new XojoTCPSocket();
  }

  // ---- the pool --------------------------------------------------------------------

  /** The engine asks for the client object of a new connection: the pool's first, or a new one. */
  private takeSocket(): XojoTCPSocket {
    const socket = this.pool.shift() ?? this.makeSocket();
    this.scheduleReplenish();
    return socket;
  }

  private makeSocket(): XojoTCPSocket {
    const socket = this.addSocket();
    if (!(socket instanceof XojoTCPSocket)) {
      throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${WHERE}: addSocket must return an XojoTCPSocket, got ${describe(socket)}`);
    }
    if (socket.rawSocket !== undefined || socket.cliId !== 0 || this.pool.includes(socket)) {
      throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${WHERE}: addSocket returned a socket that is already in use (return a new one each time)`);
    }
    socket.maxBuffered = this.maxBufferedBytes;
    return socket;
  }

  private fillPool(): void {
    while (this.pool.length < this.minimum) this.pool.push(this.makeSocket());
  }

  private scheduleReplenish(): void {
    if (this.replenishPending) return;
    this.replenishPending = true;
    setImmediate(replenishLater, this);
  }

  /** @internal */
  replenish(): void {
    this.replenishPending = false;
    if (!this.isListening) return;
    try {
      this.fillPool();
    } catch (error) {
      this.reportBgException(error, undefined);
    }
  }

  // ---- the engine ------------------------------------------------------------------

  private makeEngine(): TWSocketServer<XojoTCPSocket> {
    const engine = new TWSocketServer<XojoTCPSocket>({
      addr: this.address,
      port: this.portValue,
      maxClients: this.maximum,
      // Xojo refuses silently: no text goes to a peer that speaks a protocol we do not know.
      bannerTooBusy: '',
      clientClass: XojoTCPSocket,
      container: this.scope,
      ...(this.tls.sslEnable !== undefined && { sslEnable: this.tls.sslEnable }),
      ...(this.tls.sslContext !== undefined && { sslContext: this.tls.sslContext }),
      ...(this.tls.sslHandshakeTimeout !== undefined && { sslHandshakeTimeout: this.tls.sslHandshakeTimeout }),
    });
    engine.on('bgException', (error, socket) => this.reportBgException(error, socket));
    engine.on('error', (error) => this.failed(xojoErrorCode(error), error).catch(warn));
    engine.on('clientDisconnect', () => {
      if (engine !== this.current && engine.clientCount <= 1) this.draining.delete(engine);
    });
    return engine;
  }

  private listenError(error: NodeJS.ErrnoException): Error {
    if (error.code !== 'EACCES' && error.code !== 'EPERM') return error;
    const port = this.portValue;
    const why =
      port < 1024
        ? `port ${port} is below 1024: binding it needs privileges (root, or the CAP_NET_BIND_SERVICE capability on Linux)`
        : `permission denied on port ${port}`;
    return icsSystemError(ICS_ERR.LISTEN_FAILED, error.code, `${WHERE}: cannot listen: ${why} (${error.code})`, { cause: error });
  }

  /** Emits `error` (resolves false) or, with nobody listening, rejects. */
  private async failed(errorCode: number, error: Error): Promise<boolean> {
    (error as Error & { errorNumber?: number }).errorNumber = errorCode;
    if (this.listenerCount('error') === 0) throw error;
    try {
      this.emit('error', errorCode, error);
    } catch (handlerError) {
      this.reportBgException(handlerError, undefined);
    }
    return false;
  }

  private reportBgException(error: unknown, socket: XojoTCPSocket | undefined): void {
    try {
      if (this.emit('bgException', error, socket)) return;
    } catch (handlerError) {
      error = handlerError;
    }
    warn(error);
  }

  private checkNotListening(option: string): void {
    if (this.current) throw icsError(Error, ICS_ERR.INVALID_STATE, `${WHERE}: ${option} cannot change while listening (call stopListening() first)`);
  }
}

function replenishLater(server: XojoServerSocket): void {
  server.replenish();
}

function warn(error: unknown): void {
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.emitWarning(`${WHERE}: ${text}`, 'XojoServerSocketWarning');
}

function checkPort(value: unknown): number {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 65535) {
    throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `${WHERE}: option port must be an integer in 0..65535, got ${describe(value)}`);
  }
  return value as number;
}

function checkPoolSize(value: unknown): number {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > MAX_POOL) {
    throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `${WHERE}: option minimumSocketsAvailable must be an integer in 0..${MAX_POOL}, got ${describe(value)}`);
  }
  return value as number;
}

function checkMaximum(value: unknown): number {
  if (!Number.isInteger(value) || (value as number) < 0) {
    throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `${WHERE}: option maximumSocketsConnected must be an integer >= 0 (0 = no limit), got ${describe(value)}`);
  }
  return value as number;
}
