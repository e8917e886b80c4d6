import { EventEmitter } from 'node:events';
import type * as net from 'node:net';
import type * as tls from 'node:tls';
import type { TSslContext } from '@ics-ts/ssl-context';
import { describe } from '@ics-ts/wsocket';
import { container as globalContainer, DependencyContainer } from 'tsyringe';
import { ClientClassRef, ClientClassRegistry, ClientConstructor, clientClassRegistry, isClientClass } from './client-registry';
import { ConnectionInfo } from './connection-info';
import { ConnectionAcceptor, Listener, ListenerSpec, ListenerStatus } from './listener';
import { MultiListenItem, listenerSpecFromItem } from './multi-listen-options';
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
  resolveSslContext,
} from './server-options';
import { HandshakeFailure, HandshakeOwner, startServerHandshake } from './tls-handshake';
import { ClientOwner, TWSocketClient } from './wsocket-client';

export type ServerState = 'closed' | 'listening';

/** A listener that could not be opened by multiListenEx. */
export interface ListenFailure {
  index: number;
  url: string;
  error: Error;
}

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
  /** A TLS handshake failed (garbage, timeout, refused client certificate...); the connection is closed. */
  sslHandshakeError: [failure: HandshakeFailure];
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
  implements ConnectionAcceptor, ClientOwner, HandshakeOwner
{
  readonly addr: string;
  /** The port as configured, resolved to a number (ICS PortNum); 0 = system-chosen. */
  readonly port: number;
  readonly socketFamily: SocketFamily;
  readonly ipv6Only: boolean;
  readonly listenBacklog: number;
  readonly sslEnable: boolean;
  /** The server's TLS context: addr/port's when sslEnable, the default of TLS listeners. */
  readonly sslContext: TSslContext | undefined;
  /** Connections turned away with bannerTooBusy since the server was made. */
  tooBusyCount = 0;
  /** TLS handshakes that failed since the server was made. */
  sslHandshakeErrors = 0;

  private bannerText: string;
  private bannerTooBusyText: string;
  private lineEndText: string;
  private maxClientsValue: number;
  private tooBusyCloseTimeoutMs: number;
  private sslHandshakeTimeoutMs: number;
  /** Admitted TLS connections still in their handshake: they count against maxClients. */
  private handshaking = 0;
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
  /** The main listener, then multiListenSockets in order (index -1, 0, 1...). */
  private readonly listenerList: Listener[];
  /** addListenSocket calls, one at a time (each takes the next index). */
  private addQueue: Promise<void> = Promise.resolve();
  /** The listener addListenSocket is opening, not yet in listenerList. */
  private adding: Listener | undefined;
  /** close() calls so far: an add asked for before a close is dropped. */
  private closeCount = 0;

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
    this.sslHandshakeTimeoutMs = checkCount(
      options.sslHandshakeTimeout ?? SERVER_DEFAULTS.sslHandshakeTimeout,
      WHERE,
      'sslHandshakeTimeout',
    );
    this.sslEnable = checkBoolean(options.sslEnable ?? SERVER_DEFAULTS.sslEnable, WHERE, 'sslEnable');
    this.sslContext = resolveSslContext(options.sslContext, WHERE, 'sslContext');
    if (this.sslEnable && !this.sslContext) throw new TypeError(`${WHERE}: option sslEnable needs option sslContext`);
    this.registry = checkRegistry(options.registry ?? clientClassRegistry);
    this.cls = this.checkClientClass(options.clientClass ?? (TWSocketClient as unknown as ClientConstructor<C>));
    const items = options.multiListenSockets ?? [];
    if (!Array.isArray(items)) {
      throw new TypeError(`${WHERE}: option multiListenSockets must be an array, got ${describe(items)}`);
    }
    const itemSpecs = items.map((item, index) => this.itemSpec(item, index));
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
        sslEnable: this.sslEnable,
        sslContext: this.sslEnable ? this.sslContext : undefined,
      },
      this,
    );
    this.listenerList = [this.mainListener, ...itemSpecs.map((spec) => new Listener(spec, this))];
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

  /** Every listener: the main one (index -1), then multiListenSockets in order. */
  get listenSockets(): readonly Listener[] {
    return this.listenerList;
  }

  /**
   * Opens every listener, all or nothing (ICS MultiListen): on the first
   * failure the ones already opened are closed again and the error names the
   * listener (address, port, system code: EADDRINUSE, EACCES...).
   */
  async listen(): Promise<void> {
    const open = this.listenerList.find((l) => l.state === 'listening');
    if (open) throw new Error(`${WHERE}: already listening on ${open.url}`);
    await this.guardListen(async () => {
      const opened: Listener[] = [];
      try {
        for (const listener of this.listenerList) {
          await listener.open();
          opened.push(listener);
        }
      } catch (error) {
        for (const listener of opened) listener.close();
        throw error;
      }
    });
    this.setState('listening');
  }

  /** ICS MultiListen: the same as listen(). */
  multiListen(): Promise<void> {
    return this.listen();
  }

  /**
   * Opens every listener that can be opened (ICS MultiListenEx) and returns the
   * failures, one per listener that could not listen; an empty list is success.
   */
  async multiListenEx(): Promise<ListenFailure[]> {
    const failures: ListenFailure[] = [];
    await this.guardListen(async () => {
      for (const listener of this.listenerList) {
        if (listener.state === 'listening') continue;
        try {
          await listener.open();
        } catch (error) {
          failures.push({ index: listener.index, url: listener.url, error: error as Error });
        }
      }
    });
    if (this.listenAny) this.setState('listening');
    return failures;
  }

  /** Every listener is listening (ICS ListenAllOK). */
  get listenAllOk(): boolean {
    return this.listenerList.every((l) => l.state === 'listening');
  }

  /** At least one listener is listening (ICS ListenAny). */
  get listenAny(): boolean {
    return this.listenerList.some((l) => l.state === 'listening');
  }

  /** Each listener's address, ports, TLS, state and last error (ICS ListenStates). */
  get listenStates(): ListenerStatus[] {
    return this.listenerList.map((l) => l.status);
  }

  /** listenStates as lines a person reads at a glance. */
  listenStatesText(): string {
    return this.listenerList
      .map((l) => {
        const s = l.status;
        const name = s.index < 0 ? 'main' : `#${s.index}`;
        const port = s.bindPort && s.bindPort !== s.port ? `${s.port} (bound ${s.bindPort})` : String(s.bindPort || s.port);
        return `${name.padEnd(5)} ${(s.tls ? 'tls' : 'tcp').padEnd(4)}${s.addr} port ${port}: ${s.state}${s.lastError ? ` (${s.lastError})` : ''}`;
      })
      .join('\n');
  }

  /** Stops every listener (ICS MultiClose); connected clients stay connected. */
  async close(): Promise<void> {
    for (const listener of this.listenerList) listener.close();
    this.closeCount++;
    this.adding?.close();
    this.setState('closed');
  }

  /** Stops one listener (-1 the main one); its clients stay connected. */
  closeListenSocket(index: number): void {
    this.listenerAt(index).close();
    if (!this.listenAny) this.setState('closed');
  }

  /** (Re)opens one listener (-1 the main one). */
  async openListenSocket(index: number): Promise<void> {
    await this.listenerAt(index).open();
    this.setState('listening');
  }

  /**
   * Adds a listener at run time (validated like a multiListenSockets item) and
   * opens it; it joins listenSockets once it listens (on failure nothing is
   * added). Calls run one after the other, so each gets the next index.
   */
  addListenSocket(item: MultiListenItem<C>): Promise<Listener> {
    const closes = this.closeCount;
    const add = async (): Promise<Listener> => {
      const listener = new Listener(this.itemSpec(item, this.listenerList.length - 1), this);
      // A close() since this call: the listener is not wanted any more.
      const aborted = () => new Error(`${WHERE}: adding ${listener.url} aborted: the server was closed meanwhile`);
      if (this.closeCount !== closes) throw aborted();
      this.adding = listener; // close() meanwhile closes it
      try {
        await listener.open();
      } finally {
        this.adding = undefined;
      }
      if (this.closeCount !== closes) {
        listener.close();
        throw aborted();
      }
      this.listenerList.push(listener);
      this.setState('listening');
      return listener;
    };
    const added = this.addQueue.then(add);
    this.addQueue = added.then(ignore, ignore);
    return added;
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

  /** @internal Admission first, before any TLS work or object: then TLS, then the client. */
  acceptConnection(socket: net.Socket, listener: Listener): void {
    const max = this.maxClientsValue;
    const tooBusy = max > 0 && this.clientSet.size + this.handshaking >= max;
    const context = listener.spec.sslContext;
    if (context) {
      if (!tooBusy) this.handshaking++;
      startServerHandshake(socket, context, this.sslHandshakeTimeoutMs, this, listener, tooBusy);
    } else if (tooBusy) {
      this.rejectTooBusy(socket, listener);
    } else {
      this.admit(socket, listener);
    }
  }

  /** @internal */
  handshakeDone(socket: tls.TLSSocket, listener: Listener, tooBusy: boolean): void {
    if (tooBusy) return this.rejectTooBusy(socket, listener);
    this.handshaking--;
    this.admit(socket, listener);
  }

  /** @internal */
  handshakeFailed(failure: HandshakeFailure, tooBusy: boolean): void {
    if (!tooBusy) this.handshaking--;
    this.sslHandshakeErrors++;
    if (this.listenerCount('sslHandshakeError') > 0) this.emitGuarded('sslHandshakeError', failure);
  }

  private admit(socket: net.Socket, listener: Listener): void {
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
      client = connection.resolve((listener.spec.clientClass as ClientConstructor<C> | undefined) ?? this.cls);
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

    if (listener.spec.sslEnable) void client.tls; // read the TLS facts while the socket is open
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
  private emitGuarded<K extends 'clientCreate' | 'clientConnect' | 'clientDisconnect' | 'tooBusy' | 'sslHandshakeError'>(
    event: K,
    ...args: WSocketServerEvents<C>[K]
  ): boolean {
    try {
      (this.emit as (event: K, ...args: WSocketServerEvents<C>[K]) => boolean)(event, ...args);
      return true;
    } catch (error) {
      const client = event === 'tooBusy' || event === 'sslHandshakeError' ? undefined : (args[0] as C);
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

  private checkClientClass(ref: ClientClassRef<C>, option = 'clientClass'): ClientConstructor<C> {
    let cls: ClientConstructor<C>;
    try {
      cls = this.registry.resolve(ref, option);
    } catch (error) {
      throw new TypeError(`${WHERE}: ${(error as Error).message}`, { cause: error });
    }
    if (!isClientClass(cls)) {
      throw new TypeError(`${WHERE}: option ${option}: ${cls.name || 'the class'} does not extend TWSocketClient`);
    }
    return cls;
  }

  private itemSpec(item: unknown, index: number): ListenerSpec {
    return listenerSpecFromItem(
      item,
      index,
      {
        listenBacklog: this.listenBacklog,
        sslContext: this.sslContext,
        resolveClientClass: (ref, option) => this.checkClientClass(ref as ClientClassRef<C>, option),
      },
      WHERE,
    );
  }

  private listenerAt(index: number): Listener {
    const listener = this.listenerList[index + 1];
    if (!Number.isInteger(index) || !listener) {
      throw new RangeError(`${WHERE}: no listener ${index} (-1 is the main one, 0..${this.listenerList.length - 2} the others)`);
    }
    return listener;
  }

  /** One listen at a time: a second concurrent call would open sockets twice. */
  private async guardListen(work: () => Promise<void>): Promise<void> {
    if (this.listening) throw new Error(`${WHERE}: listen() is already under way`);
    this.listening = true;
    try {
      await work();
    } finally {
      this.listening = false;
    }
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
