import { EventEmitter } from 'node:events';
import type * as net from 'node:net';
import { describe } from '@ics-ts/wsocket';
import { container as globalContainer, DependencyContainer } from 'tsyringe';
import { ClientClassRef, ClientClassRegistry, ClientConstructor, clientClassRegistry, isClientClass } from './client-registry';
import { ConnectionInfo } from './connection-info';
import { ConnectionAcceptor, Listener } from './listener';
import {
  SERVER_DEFAULTS,
  SocketFamily,
  WSocketServerOptions,
  checkBacklog,
  checkBoolean,
  checkCount,
  checkKnownKeys,
  checkString,
  resolveAddress,
  resolvePort,
} from './server-options';
import { ClientOwner, TWSocketClient } from './wsocket-client';

export type ServerState = 'closed' | 'listening';

/** A connection turned away because maxClients was reached. */
export interface TooBusyInfo {
  peerAddr: string;
  peerPort: number;
  multiListenIndex: number;
}

export interface WSocketServerEvents<C extends TWSocketClient> {
  /** A client object exists (constructor done), its socket is not attached yet. */
  clientCreate: [client: C];
  /** The socket is attached; the banner follows this event. */
  clientConnect: [client: C];
  /** The client's session is over; it leaves the list right after this event. */
  clientDisconnect: [client: C, error: Error | undefined];
  changeState: [state: ServerState, previous: ServerState];
  /** A listener failed after it started (accept errors such as EMFILE). */
  error: [error: Error];
  /** An exception escaped client code or an event handler; `client` (if any) was aborted. */
  bgException: [error: unknown, client: C | undefined];
  /** A connection over maxClients got bannerTooBusy and is being closed. */
  tooBusy: [info: TooBusyInfo];
}

const WHERE = 'TWSocketServer';

/**
 * TWSocketServer: listens, creates one client class instance per connection
 * (resolved through tsyringe in a child container made for that connection),
 * keeps the client list, greets with the banner, turns away connections over
 * maxClients with bannerTooBusy.
 */
export class TWSocketServer<C extends TWSocketClient = TWSocketClient>
  extends EventEmitter<WSocketServerEvents<C>>
  implements ConnectionAcceptor, ClientOwner
{
  readonly addr: string;
  /** The port as configured, resolved to a number (ICS PortNum); 0 = system-chosen. */
  readonly port: number;
  readonly socketFamily: SocketFamily;
  readonly ipv6Only: boolean;
  readonly listenBacklog: number;
  /** Connections turned away with bannerTooBusy since the server was made. */
  tooBusyCount = 0;

  private bannerText: string;
  private bannerTooBusyText: string;
  private lineEndText: string;
  private maxClientsValue: number;
  private tooBusyCloseTimeoutMs: number;
  private cls: ClientConstructor<C>;
  private readonly registry: ClientClassRegistry;
  private readonly serverContainer: DependencyContainer;
  private readonly clientSet = new Set<C>();
  private clientListCache: C[] | undefined;
  private readonly disconnectWaiters = new Map<C, () => void>();
  /** Connections turned away (bannerTooBusy sent), until they are closed. */
  private readonly tooBusySockets = new Set<net.Socket>();
  private lastCliId = 0;
  private currentState: ServerState = 'closed';
  /** A listen() call is under way. */
  private listening = false;
  private readonly mainListener: Listener;

  constructor(options: WSocketServerOptions<C> = {}) {
    super();
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`${WHERE}: options must be an object`);
    }
    checkKnownKeys(options, WHERE);
    this.addr = options.addr ?? SERVER_DEFAULTS.addr;
    this.socketFamily = resolveAddress(this.addr, options.socketFamily, WHERE);
    this.port = resolvePort(options.port ?? SERVER_DEFAULTS.port, WHERE);
    this.ipv6Only = checkBoolean(options.ipv6Only ?? SERVER_DEFAULTS.ipv6Only, WHERE, 'ipv6Only');
    this.listenBacklog = checkBacklog(options.listenBacklog ?? SERVER_DEFAULTS.listenBacklog, WHERE);
    this.bannerText = checkString(options.banner ?? SERVER_DEFAULTS.banner, WHERE, 'banner');
    this.bannerTooBusyText = checkString(options.bannerTooBusy ?? SERVER_DEFAULTS.bannerTooBusy, WHERE, 'bannerTooBusy');
    this.lineEndText = checkString(options.lineEnd ?? SERVER_DEFAULTS.lineEnd, WHERE, 'lineEnd');
    this.maxClientsValue = checkCount(options.maxClients ?? SERVER_DEFAULTS.maxClients, WHERE, 'maxClients');
    this.tooBusyCloseTimeoutMs = checkCount(
      options.tooBusyCloseTimeout ?? SERVER_DEFAULTS.tooBusyCloseTimeout,
      WHERE,
      'tooBusyCloseTimeout',
    );
    this.registry = checkRegistry(options.registry ?? clientClassRegistry);
    this.cls = this.checkClientClass(options.clientClass ?? (TWSocketClient as unknown as ClientConstructor<C>));
    // Our own child: registrations here never reach the global container.
    this.serverContainer = checkContainer(options.container ?? globalContainer).createChildContainer();
    this.serverContainer.register(TWSocketServer, { useValue: this });
    this.mainListener = new Listener(
      {
        index: -1,
        addr: this.addr,
        port: this.port,
        socketFamily: this.socketFamily,
        ipv6Only: this.ipv6Only,
        listenBacklog: this.listenBacklog,
      },
      this,
    );
  }

  // ---- settings that may change at run time (new connections only) ----

  get banner(): string {
    return this.bannerText;
  }

  set banner(value: string) {
    this.bannerText = checkString(value, WHERE, 'banner');
  }

  get bannerTooBusy(): string {
    return this.bannerTooBusyText;
  }

  set bannerTooBusy(value: string) {
    this.bannerTooBusyText = checkString(value, WHERE, 'bannerTooBusy');
  }

  get lineEnd(): string {
    return this.lineEndText;
  }

  set lineEnd(value: string) {
    this.lineEndText = checkString(value, WHERE, 'lineEnd');
  }

  get maxClients(): number {
    return this.maxClientsValue;
  }

  /** Lowering it below clientCount turns away new connections only; nobody connected is dropped. */
  set maxClients(value: number) {
    this.maxClientsValue = checkCount(value, WHERE, 'maxClients');
  }

  get clientClass(): ClientConstructor<C> {
    return this.cls;
  }

  set clientClass(ref: ClientClassRef<C>) {
    this.cls = this.checkClientClass(ref);
  }

  // ---- state ---------------------------------------------------------------

  get state(): ServerState {
    return this.currentState;
  }

  /** The port actually bound once listening (ICS BindPort): the real one when 0 was asked. */
  get bindPort(): number {
    return this.mainListener.bindPort;
  }

  /** The main listener (addr/port). */
  get listener(): Listener {
    return this.mainListener;
  }

  /** Starts listening on addr/port; rejects with an error naming both (EADDRINUSE, EACCES...). */
  async listen(): Promise<void> {
    if (this.mainListener.state === 'listening') {
      throw new Error(`${WHERE}: already listening on ${this.mainListener.url}`);
    }
    if (this.listening) throw new Error(`${WHERE}: listen() on ${this.mainListener.url} is already under way`);
    this.listening = true;
    try {
      await this.mainListener.open();
    } finally {
      this.listening = false;
    }
    this.setState('listening');
  }

  /** Stops listening (ICS Close); connected clients stay connected. */
  async close(): Promise<void> {
    this.mainListener.close();
    this.setState('closed');
  }

  /**
   * Stops listening and ends every client: gracefully first (pending sends are
   * flushed), then aborts those still open after `timeoutMs`.
   */
  async shutdown(timeoutMs = 5000): Promise<void> {
    await this.close();
    const all = this.clients.map((client) => this.whenGone(client));
    // Connections turned away as too busy are already closing: wait for them too.
    for (const socket of this.tooBusySockets) all.push(whenClosed(socket));
    for (const client of this.clients) client.close();
    if (all.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([Promise.all(all), timedOut]);
    clearTimeout(timer);
    const stragglers = [...this.tooBusySockets].map(whenClosed);
    for (const socket of this.tooBusySockets) socket.destroy();
    await Promise.all([this.disconnectAll(), ...stragglers]);
  }

  // ---- the client list -------------------------------------------------------

  /** Connected clients in connection order (a snapshot; indexes shift as clients come and go). */
  get clients(): readonly C[] {
    return (this.clientListCache ??= [...this.clientSet]);
  }

  get clientCount(): number {
    return this.clientSet.size;
  }

  /** ICS Client[i]: undefined when out of range. */
  client(index: number): C | undefined {
    return this.clients[index];
  }

  isClient(thing: unknown): thing is C {
    return this.clientSet.has(thing as C);
  }

  /** Aborts a client; resolves once clientDisconnect has fired and it left the list. */
  disconnect(client: C): Promise<void> {
    if (!this.clientSet.has(client)) return Promise.resolve();
    const gone = this.whenGone(client);
    client.abort();
    return gone;
  }

  async disconnectAll(): Promise<void> {
    await Promise.all(this.clients.map((client) => this.disconnect(client)));
  }

  // ---- ConnectionAcceptor ------------------------------------------------------

  /** @internal */
  acceptConnection(socket: net.Socket, listener: Listener): void {
    if (this.maxClientsValue > 0 && this.clientSet.size >= this.maxClientsValue) {
      this.rejectTooBusy(socket, listener);
      return;
    }
    const cliId = ++this.lastCliId;
    const info = new ConnectionInfo(
      cliId,
      socket.remoteAddress ?? '',
      socket.remotePort ?? 0,
      socket.localAddress ?? '',
      socket.localPort ?? 0,
      listener.index,
    );
    let client: C;
    try {
      const connection = this.serverContainer.createChildContainer();
      connection.register(ConnectionInfo, { useValue: info });
      client = connection.resolve(this.cls);
    } catch (error) {
      socket.destroy();
      this.reportBgException(error, undefined);
      return;
    }
    client.server = this;
    client.cliId = cliId;
    client.multiListenIndex = listener.index;
    client.banner = this.bannerText;
    this.clientSet.add(client);
    this.clientListCache = undefined;

    const created = this.emitGuarded('clientCreate', client);
    try {
      // Runs client code too (onSessionConnected, changeState listeners).
      client.attach(socket);
    } catch (error) {
      if (!client.rawSocket) socket.destroy(); // never attached: nobody else will close it
      client.abort();
      this.reportBgException(error, client);
      if (!client.rawSocket) this.clientClosed(client, undefined);
      return;
    }
    if (!created) return client.abort();
    // onSessionConnected may have failed (the client was aborted and reported):
    // no clientConnect for a client that is already going away.
    if (client.state !== 'connected') return;
    if (!this.emitGuarded('clientConnect', client)) return client.abort();
    if (client.state !== 'connected') return;
    try {
      client.startConnection();
    } catch (error) {
      client.abort();
      this.reportBgException(error, client);
    }
  }

  /** @internal */
  listenerError(listener: Listener, error: Error): void {
    const named = new Error(`listener ${listener.url}: ${error.message}`, { cause: error });
    (named as NodeJS.ErrnoException).code = (error as NodeJS.ErrnoException).code;
    if (this.listenerCount('error') > 0) this.emit('error', named);
    else process.emitWarning(named.message, 'TWSocketServerWarning');
  }

  // ---- ClientOwner ---------------------------------------------------------------

  /** @internal */
  clientClosed(client: TWSocketClient, error: Error | undefined): void {
    const own = client as C;
    if (!this.clientSet.has(own)) return;
    this.emitGuarded('clientDisconnect', own, error);
    this.clientSet.delete(own);
    this.clientListCache = undefined;
    const waiter = this.disconnectWaiters.get(own);
    if (waiter) {
      this.disconnectWaiters.delete(own);
      waiter();
    }
  }

  /** @internal */
  reportBgException(error: unknown, client: TWSocketClient | undefined): void {
    try {
      if (this.emit('bgException', error, client as C | undefined)) return;
    } catch (handlerError) {
      error = handlerError;
    }
    const text = error instanceof Error ? error.stack ?? error.message : String(error);
    process.emitWarning(`unhandled exception in client code${client ? ` (client ${client.cliId})` : ''}: ${text}`, 'TWSocketServerWarning');
  }

  // ---- internals ---------------------------------------------------------------------

  private rejectTooBusy(socket: net.Socket, listener: Listener): void {
    this.tooBusyCount++;
    this.tooBusySockets.add(socket);
    socket.once('close', () => this.tooBusySockets.delete(socket));
    socket.on('error', ignore);
    socket.on('timeout', destroySocket);
    socket.setTimeout(this.tooBusyCloseTimeoutMs);
    socket.resume(); // read and drop what the peer sends, so closing sends FIN, not RST
    if (this.bannerTooBusyText.length > 0) socket.end(this.bannerTooBusyText + this.lineEndText);
    else socket.end();
    if (this.listenerCount('tooBusy') > 0) {
      this.emitGuarded('tooBusy', {
        peerAddr: socket.remoteAddress ?? '',
        peerPort: socket.remotePort ?? 0,
        multiListenIndex: listener.index,
      });
    }
  }

  private whenGone(client: C): Promise<void> {
    if (!this.clientSet.has(client)) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.disconnectWaiters.get(client);
      this.disconnectWaiters.set(client, previous ? () => (previous(), resolve()) : resolve);
    });
  }

  /** Emits; an exception from a handler goes to bgException (false is returned). */
  private emitGuarded<K extends 'clientCreate' | 'clientConnect' | 'clientDisconnect' | 'tooBusy'>(
    event: K,
    ...args: WSocketServerEvents<C>[K]
  ): boolean {
    try {
      (this.emit as (event: K, ...args: WSocketServerEvents<C>[K]) => boolean)(event, ...args);
      return true;
    } catch (error) {
      const client = event === 'tooBusy' ? undefined : (args[0] as C);
      this.reportBgException(error, client);
      return false;
    }
  }

  private setState(state: ServerState): void {
    const previous = this.currentState;
    if (previous === state) return;
    this.currentState = state;
    try {
      this.emit('changeState', state, previous);
    } catch (error) {
      this.reportBgException(error, undefined);
    }
  }

  private checkClientClass(ref: ClientClassRef<C>): ClientConstructor<C> {
    const cls = this.registry.resolve(ref);
    if (!isClientClass(cls)) {
      throw new TypeError(`${WHERE}: option clientClass: ${cls.name || 'the class'} does not extend TWSocketClient`);
    }
    return cls;
  }
}

function checkRegistry(registry: unknown): ClientClassRegistry {
  // Duck-typed, like the container: a second copy of this package has its own class.
  const candidate = registry as Partial<ClientClassRegistry> | null;
  if (typeof candidate !== 'object' || candidate === null || typeof candidate.resolve !== 'function') {
    throw new TypeError(`${WHERE}: option registry must be a ClientClassRegistry, got ${describe(registry)}`);
  }
  return candidate as ClientClassRegistry;
}

function checkContainer(parent: unknown): DependencyContainer {
  const candidate = parent as Partial<DependencyContainer> | null;
  if (typeof candidate !== 'object' || candidate === null || typeof candidate.createChildContainer !== 'function') {
    throw new TypeError(`${WHERE}: option container must be a tsyringe DependencyContainer, got ${describe(parent)}`);
  }
  return candidate as DependencyContainer;
}

function ignore(): void {}

function whenClosed(socket: net.Socket): Promise<void> {
  if (socket.closed) return Promise.resolve();
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

function destroySocket(this: net.Socket): void {
  this.destroy();
}
