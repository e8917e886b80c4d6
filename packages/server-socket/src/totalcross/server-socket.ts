import * as net from 'node:net';
import type { SslContextOptions, TSslContext } from '@ics-ts/ssl-context';
import { MAX_TIMER_MS, describe, ICS_ERR, icsError, type IcsErrorCode } from '@ics-ts/wsocket';
import { TWSocketServer } from '@ics-ts/wsocket-server';
import type { DependencyContainer } from 'tsyringe';
import { checkBufferLimit } from '../input-buffer';
import { IOException, SERVER_SOCKET_CLOSED } from './io-exception';
import { TOTALCROSS_MAX_BUFFERED, TotalCrossSocket } from './socket';

/** What TotalCross's constructors cannot say: the engine's guarantees, given as a fifth argument. */
export interface TotalCrossServerSocketOptions {
  /** Most connections at once (accepted or waiting for accept()); over it a connection is closed at once; 0 = no limit. Default 0. */
  maxClients?: number;
  /** Most received bytes each socket holds for readBytes() before it stops reading. Default 64 KiB. */
  maxBuffered?: number;
  /** Serve TLS. Default false. */
  sslEnable?: boolean;
  /** TLS identity and settings, a TSslContext or its options (needed by sslEnable). */
  sslContext?: TSslContext | SslContextOptions;
  /** Milliseconds a TLS handshake may take; 0 = no limit. Default 10000. */
  sslHandshakeTimeout?: number;
  /** Where the engine resolves services (it makes a child). Default tsyringe's global container, read only. */
  container?: DependencyContainer;
}

interface Waiter {
  resolve: (socket: TotalCrossSocket | null) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

const WHERE = 'TotalCrossServerSocket';

/**
 * TotalCross's ServerSocket over TWSocketServer. Construction starts
 * listening; `ready` (or the static `open()`) tells when it listens or why it
 * could not. `accept()` gives the next connection, or null once `timeout` ms
 * passed without one (0: it waits for ever). Connections nobody has accepted
 * yet wait in a queue of at most `backlog`; past it they are closed at once
 * and counted in `refusedCount`.
 */
export class TotalCrossServerSocket implements AsyncIterable<TotalCrossSocket> {
  /** Connections that may wait for accept() (and the system's listen backlog), as TotalCross. */
  static readonly DEFAULT_BACKLOG = 100;
  /** Milliseconds accept() waits before it returns null, as TotalCross. */
  static readonly DEFAULT_SOTIMEOUT = 10000;
  /** A timeout of 0: accept() waits for ever. */
  static readonly WAIT_FOREVER = 0;

  /** Resolves once listening; rejects with an IOException (its `code` the system's) when it cannot listen. */
  readonly ready: Promise<void>;
  readonly timeout: number;
  readonly backlog: number;
  /** Connections closed because the accept queue was full. */
  refusedCount = 0;
  private readonly engineServer: TWSocketServer<TotalCrossSocket>;
  private readonly requestedPort: number;
  private readonly host: string;
  private readonly queue = new Set<TotalCrossSocket>();
  private readonly waiters: Waiter[] = [];
  private closed = false;
  private listenError: IOException | undefined;

  /** Listens on `port` (0: the system picks one) and resolves once it does. */
  static async open(
    port: number,
    timeout?: number,
    backlogOrAddr?: number | string | null,
    addr?: string | null,
    options?: TotalCrossServerSocketOptions,
  ): Promise<TotalCrossServerSocket> {
    const server = new TotalCrossServerSocket(port, timeout, backlogOrAddr, addr, options);
    await server.ready;
    return server;
  }

  constructor(port: number);
  constructor(port: number, timeout: number);
  constructor(port: number, timeout: number, addr: string | null);
  constructor(port: number, timeout: number, backlog: number, addr: string | null, options?: TotalCrossServerSocketOptions);
  constructor(
    port: number,
    timeout?: number,
    backlogOrAddr?: number | string | null,
    addr?: string | null,
    options?: TotalCrossServerSocketOptions,
  );
  constructor(
    port: number,
    timeout: number = TotalCrossServerSocket.DEFAULT_SOTIMEOUT,
    backlogOrAddr: number | string | null = TotalCrossServerSocket.DEFAULT_BACKLOG,
    addrGiven?: string | null,
    options: TotalCrossServerSocketOptions = {},
  ) {
    let backlog: number;
    let addr: string | null | undefined = addrGiven;
    if (typeof backlogOrAddr === 'number') backlog = backlogOrAddr;
    else {
      if (addrGiven !== undefined) {
        throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${WHERE}: with four arguments the third is the backlog, a number, got ${describe(backlogOrAddr)}`);
      }
      backlog = TotalCrossServerSocket.DEFAULT_BACKLOG;
      addr = backlogOrAddr;
    }
    addr ??= null;
    this.requestedPort = checkArgument('port', port, 0, 65535);
    this.timeout = checkArgument('timeout', timeout, 0, MAX_TIMER_MS);
    this.backlog = checkArgument('backlog', backlog, 1, 2 ** 31 - 1);
    if (addr !== null && (typeof addr !== 'string' || net.isIP(addr) === 0)) {
      throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${WHERE}: argument 'addr' must be an IP address literal or null, got ${describe(addr)}`);
    }
    if (options === null || typeof options !== 'object') throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${WHERE}: options must be an object, got ${describe(options)}`);
    const maxBuffered = checkBufferLimit(options.maxBuffered ?? TOTALCROSS_MAX_BUFFERED, WHERE, 'maxBuffered');
    this.host = addr ?? '0.0.0.0';
    this.engineServer = new TWSocketServer<TotalCrossSocket>({
      addr: this.host,
      port: this.requestedPort,
      listenBacklog: this.backlog,
      clientClass: TotalCrossSocket,
      bannerTooBusy: '',
      ...(options.maxClients !== undefined && { maxClients: options.maxClients }),
      ...(options.sslEnable !== undefined && { sslEnable: options.sslEnable }),
      ...(options.sslContext !== undefined && { sslContext: options.sslContext }),
      ...(options.sslHandshakeTimeout !== undefined && { sslHandshakeTimeout: options.sslHandshakeTimeout }),
      ...(options.container !== undefined && { container: options.container }),
    });
    this.engine.on('clientCreate', (socket) => (socket.maxBuffered = maxBuffered));
    this.engine.on('clientConnect', (socket) => this.arrived(socket));
    this.engine.on('clientDisconnect', (socket) => this.queue.delete(socket));
    // Exceptions in socket code: the socket is aborted, the server carries on (a process warning, nobody listens here).
    this.ready = this.engine.listen().catch((error: NodeJS.ErrnoException) => {
      this.closed = true;
      const failure = new IOException(`${WHERE}: ${error.message}`, { cause: error });
      failure.icsCode = (error as { icsCode?: IcsErrorCode }).icsCode ?? ICS_ERR.LISTEN_FAILED;
      failure.code = error.code ?? failure.icsCode;
      this.listenError = failure;
      throw failure;
    });
    this.ready.catch(ignore); // surfaces through ready, open() and accept(), never as an unhandled rejection
  }

  /** The engine, for its events (bgException, tooBusy, clientConnect) and counters. */
  get engine(): TWSocketServer<TotalCrossSocket> {
    return this.engineServer;
  }

  /** The address listened on: the addr given, '0.0.0.0' without one. */
  getHost(): string {
    return this.host;
  }

  /** The port listened on: the bound one once ready (the system's pick when 0 was asked), the one given before. */
  getLocalPort(): number {
    return this.engine.state === 'listening' || this.engine.bindPort > 0 ? this.engine.bindPort : this.requestedPort;
  }

  /** Connections waiting for accept() now. */
  get pending(): number {
    return this.queue.size;
  }

  /**
   * The next connection, or null when `timeout` ms pass without one (0: waits
   * for ever). Rejects with an IOException once closed, or when listening failed.
   */
  async accept(): Promise<TotalCrossSocket | null> {
    if (!this.closed) await this.ready;
    if (this.closed) throw this.listenError ?? new IOException(`${WHERE}: ${SERVER_SOCKET_CLOSED}`);
    for (const socket of this.queue) {
      this.queue.delete(socket);
      return socket;
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, timer: undefined };
      if (this.timeout > 0) waiter.timer = setTimeout(acceptTimedOut, this.timeout, this, waiter);
      this.waiters.push(waiter);
    });
  }

  /** `for await (const socket of server)`: every connection until the server socket is closed. */
  async *[Symbol.asyncIterator](): AsyncIterator<TotalCrossSocket> {
    for (;;) {
      let socket: TotalCrossSocket | null;
      try {
        socket = await this.accept();
      } catch (error) {
        if (this.closed && error instanceof IOException && !this.listenError) return;
        throw error;
      }
      if (socket) yield socket;
    }
  }

  /**
   * Stops listening. Connections waiting for accept() are closed; sockets
   * accepted and still open are closed too, and their reads and writes throw
   * IOException from now on ("close any sockets associated to this server
   * socket before closing it"). A waiting accept() rejects. Throws IOException
   * when already closed.
   */
  async close(): Promise<void> {
    if (this.closed) throw new IOException(`${WHERE}: ${SERVER_SOCKET_CLOSED}`);
    this.closed = true;
    await this.ready.catch(ignore);
    await this.engine.close();
    for (const waiter of this.waiters.splice(0)) {
      if (waiter.timer) clearTimeout(waiter.timer);
      waiter.reject(new IOException(`${WHERE}: ${SERVER_SOCKET_CLOSED}`));
    }
    const queued = [...this.queue];
    this.queue.clear();
    for (const socket of queued) socket.abort();
    for (const socket of this.engine.clients) socket.serverSocketClosed();
    await this.engine.disconnectAll();
  }

  /** @internal */
  timedOut(waiter: Waiter): void {
    const index = this.waiters.indexOf(waiter);
    if (index < 0) return;
    this.waiters.splice(index, 1);
    waiter.resolve(null);
  }

  private arrived(socket: TotalCrossSocket): void {
    const waiter = this.waiters.shift();
    if (waiter) {
      if (waiter.timer) clearTimeout(waiter.timer);
      waiter.resolve(socket);
      return;
    }
    if (this.queue.size >= this.backlog) {
      // Nobody accepts fast enough: a bounded queue, and the newcomer is the one turned away.
      this.refusedCount++;
      socket.abort();
      return;
    }
    this.queue.add(socket);
  }
}

function acceptTimedOut(server: TotalCrossServerSocket, waiter: Waiter): void {
  server.timedOut(waiter);
}

function ignore(): void {}

/** TotalCross's IllegalArgumentException as a RangeError (a TypeError for a non-number), the value named. */
function checkArgument(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number') throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${WHERE}: argument '${name}' must be a number, got ${describe(value)}`);
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = name === 'port' ? '0..65535' : name === 'backlog' ? 'a positive integer' : 'an integer >= 0 (0 = wait for ever)';
    throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `${WHERE}: invalid value for argument '${name}': ${value} (${range})`);
  }
  return value;
}
