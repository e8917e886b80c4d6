import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import type { SslContextOptions, TSslContext } from '@ics-ts/ssl-context';
import { describe, ICS_ERR, icsError, icsSystemError } from '@ics-ts/wsocket';
import { TWSocketServer } from '@ics-ts/wsocket-server';
import type { DependencyContainer } from 'tsyringe';
import { DEFAULT_MAX_BUFFERED, checkBufferLimit } from '../input-buffer';
import { effectiveBacklog } from './backlog';
import { ArgumentError } from './errors';
import type { AirEvent, ServerSocketConnectEvent } from './events';
import { AirSocket } from './socket';

/** What AIR's ServerSocket cannot say: the engine's guarantees. All optional. */
export interface AirServerSocketOptions {
  /** Most connections at once; over it a connection is closed at once, without a connect event; 0 = no limit. Default 0. */
  maxClients?: number;
  /** Most received bytes each socket holds in bytesAvailable before it stops reading. Default 1 MiB. */
  maxBuffered?: number;
  /** Serve TLS (AIR has SecureSocket for clients only). Default false. */
  sslEnable?: boolean;
  /** TLS identity and settings, a TSslContext or its options (needed by sslEnable). */
  sslContext?: TSslContext | SslContextOptions;
  /** Milliseconds a TLS handshake may take; 0 = no limit. Default 10000. */
  sslHandshakeTimeout?: number;
  /** Where the engine resolves services (it makes a child). Default tsyringe's global container, read only. */
  container?: DependencyContainer;
}

export interface AirServerSocketEvents {
  /** A connection (ServerSocketConnectEvent.CONNECT); keep a reference to `event.socket`. */
  connect: [event: ServerSocketConnectEvent<AirSocket, AirServerSocket>];
  /** The listening socket was closed by something other than close() (Event.CLOSE). */
  close: [event: AirEvent<AirServerSocket>];
}

type Listener<K extends keyof AirServerSocketEvents> = (...args: AirServerSocketEvents[K]) => void;

const WHERE = 'AirServerSocket';

type State = 'new' | 'bound' | 'listening' | 'closed';

/**
 * flash.net.ServerSocket over TWSocketServer: bind(), listen(), a `connect`
 * event per connection with its Socket, close(). bind() checks its arguments
 * and reserves the address; the system binds in listen() (Node binds and
 * listens in one call), so "in use" and "not permitted" come from listen().
 */
export class AirServerSocket extends EventEmitter<AirServerSocketEvents> {
  private state: State = 'new';
  private address = '0.0.0.0';
  private port = 0;
  private engineServer: TWSocketServer<AirSocket> | undefined;
  private closingHere = false;
  private readonly options: AirServerSocketOptions;
  private readonly maxBuffered: number;

  /** ServerSocket works wherever Node runs. */
  static get isSupported(): boolean {
    return true;
  }

  constructor(options: AirServerSocketOptions = {}) {
    super();
    if (options === null || typeof options !== 'object') throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${WHERE}: options must be an object, got ${describe(options)}`);
    this.maxBuffered = checkBufferLimit(options.maxBuffered ?? DEFAULT_MAX_BUFFERED, WHERE, 'maxBuffered');
    this.options = options;
    // The engine's own checks (TLS identity, limits) run now, not at listen().
    this.makeEngine(0);
  }

  get bound(): boolean {
    return this.state === 'bound' || this.state === 'listening';
  }

  get listening(): boolean {
    return this.state === 'listening';
  }

  /** The address bound ('' before bind()). */
  get localAddress(): string {
    return this.bound ? this.address : '';
  }

  /** The port: as given to bind(), the real one once listening (the system's pick when 0 was asked). */
  get localPort(): number {
    if (this.state === 'listening') return this.engineServer!.bindPort;
    return this.bound ? this.port : 0;
  }

  /** The engine while listening (its events: bgException, tooBusy, error; its counters). */
  get engine(): TWSocketServer<AirSocket> | undefined {
    return this.engineServer;
  }

  /**
   * Binds to `localAddress`:`localPort` (0: the system picks the port when
   * listen() opens it). RangeError for a port out of 0..65535, ArgumentError
   * for an address that is not an IP literal, Error when already bound or closed.
   */
  bind(localPort = 0, localAddress = '0.0.0.0'): void {
    if (this.state === 'closed') throw icsError(Error, ICS_ERR.SOCKET_CLOSED, `${WHERE}: this ServerSocket was closed; closed sockets cannot be reopened (make a new ServerSocket)`);
    if (this.bound) throw icsError(Error, ICS_ERR.INVALID_STATE, `${WHERE}: already bound to ${this.address}:${this.localPort} (call close() before binding to a different socket)`);
    if (typeof localPort !== 'number' || !Number.isInteger(localPort) || localPort < 0 || localPort > 65535) {
      throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `${WHERE}: bind: localPort must be an integer in 0..65535, got ${describe(localPort)}`);
    }
    if (typeof localAddress !== 'string' || net.isIP(localAddress) === 0) {
      throw new ArgumentError(`${WHERE}: bind: localAddress must be an IPv4 or IPv6 address, got ${describe(localAddress)}`);
    }
    this.port = localPort;
    this.address = localAddress;
    this.state = 'bound';
  }

  /**
   * Listens; `connect` events follow. `backlog` 0 means the system maximum
   * (SOMAXCONN, read from /proc/sys/net/core/somaxconn), and a larger value is
   * cut down to it. Resolves once listening; rejects (RangeError for a negative
   * backlog; Error when not bound, or when the system refuses: address in use,
   * not permitted, not an address of this machine: `error.code` is the system's).
   * After a refusal the socket is unbound again, as AIR's failed bind() leaves it.
   */
  async listen(backlog = 0): Promise<void> {
    if (typeof backlog !== 'number' || !Number.isInteger(backlog) || backlog < 0) {
      throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `${WHERE}: listen: backlog must be an integer >= 0 (0 = the system maximum), got ${describe(backlog)}`);
    }
    if (this.state === 'listening') throw icsError(Error, ICS_ERR.ALREADY_LISTENING, `${WHERE}: listen: already listening on ${this.address}:${this.localPort}`);
    if (this.state !== 'bound') throw icsError(Error, ICS_ERR.INVALID_STATE, `${WHERE}: listen: the socket is ${this.state === 'closed' ? 'closed' : 'not bound (call bind() first)'}`);
    const engine = this.makeEngine(effectiveBacklog(backlog));
    this.engineServer = engine;
    this.state = 'listening';
    try {
      await engine.listen();
    } catch (err) {
      this.engineServer = undefined;
      if (this.state === 'listening') this.state = 'new';
      throw bindError(err as NodeJS.ErrnoException, this.address, this.port);
    }
  }

  /**
   * Stops listening. Sockets handed out by connect events stay open: the
   * application owns them. Dispatches no `close` event. Error when the socket
   * was never bound or is closed already; it cannot be bound again.
   */
  close(): void {
    if (!this.bound) throw icsError(Error, ICS_ERR.SOCKET_CLOSED, `${WHERE}: close: the socket is not open`);
    this.state = 'closed';
    const engine = this.engineServer;
    if (engine) {
      this.closingHere = true;
      void engine.close().finally(() => (this.closingHere = false));
    }
  }

  /** AS3 addEventListener: on(). */
  addEventListener<K extends keyof AirServerSocketEvents>(type: K, listener: Listener<K>): void {
    this.on(type, listener as never);
  }

  /** AS3 removeEventListener: off(). */
  removeEventListener<K extends keyof AirServerSocketEvents>(type: K, listener: Listener<K>): void {
    this.off(type, listener as never);
  }

  /** AS3 dispatchEvent: emits `event` under its type (the seed's advice: dispatch `close` yourself before close() if others rely on it). */
  dispatchEvent(event: AirEvent<AirServerSocket> & { type: keyof AirServerSocketEvents }): boolean {
    return (this as EventEmitter).emit(event.type, event);
  }

  /** AS3 hasEventListener. */
  hasEventListener(type: keyof AirServerSocketEvents): boolean {
    return this.listenerCount(type) > 0;
  }

  /** AS3 willTrigger: the same as hasEventListener (a ServerSocket is in no display list). */
  willTrigger(type: keyof AirServerSocketEvents): boolean {
    return this.hasEventListener(type);
  }

  private makeEngine(backlog: number): TWSocketServer<AirSocket> {
    const { maxClients, sslEnable, sslContext, sslHandshakeTimeout, container } = this.options;
    const engine = new TWSocketServer<AirSocket>({
      addr: this.address,
      port: this.port,
      ...(backlog > 0 && { listenBacklog: backlog }),
      clientClass: AirSocket,
      bannerTooBusy: '',
      ...(maxClients !== undefined && { maxClients }),
      ...(sslEnable !== undefined && { sslEnable }),
      ...(sslContext !== undefined && { sslContext }),
      ...(sslHandshakeTimeout !== undefined && { sslHandshakeTimeout }),
      ...(container !== undefined && { container }),
    });
    engine.on('clientCreate', (socket) => (socket.maxBuffered = this.maxBuffered));
    engine.on('clientConnect', (socket) => this.emit('connect', { type: 'connect', target: this, socket }));
    engine.on('changeState', (state) => {
      if (state !== 'closed' || this.closingHere || engine !== this.engineServer) return;
      // Closed by something else than close(): AIR's "the operating system closes this socket".
      this.state = 'closed';
      this.emit('close', { type: 'close', target: this });
    });
    return engine;
  }
}

const BIND_REASONS: Record<string, string> = {
  EADDRINUSE: 'the address and port are already bound by another object or process',
  EACCES: 'not permitted: ports below 1024 need privileges (root, or the CAP_NET_BIND_SERVICE capability on Linux)',
  EPERM: 'not permitted',
  EADDRNOTAVAIL: 'not a valid local address of this machine',
};

function bindError(err: NodeJS.ErrnoException, address: string, port: number): Error {
  const reason = (err.code && BIND_REASONS[err.code]) || err.message;
  return icsSystemError(ICS_ERR.LISTEN_FAILED, err.code, `${WHERE}: cannot bind ${address}:${port}: ${reason} (${err.code ?? 'error'})`, { cause: err });
}
