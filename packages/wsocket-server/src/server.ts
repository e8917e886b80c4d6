import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import type * as tls from 'node:tls';
import { SSL_SRV_SECURITY_LEVELS, TSslContext, securityProfile } from '@ics-ts/ssl-context';
import { describe, unmapIPv4 } from '@ics-ts/wsocket';
import { container as globalContainer, DependencyContainer } from 'tsyringe';
import { ClientClassRef, ClientClassRegistry, ClientConstructor, clientClassRegistry, isClientClass } from './clients/client-registry';
import { ConnectionInfo } from './clients/connection-info';
import { ConnectionAcceptor, Listener, ListenerSpec, ListenerStatus } from './listen/listener';
import { MultiListenItem, listenerSpecFromItem } from './options/multi-listen-options';
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
  LISTENER_KEYS,
  checkSniPolicy,
} from './options/server-options';
import { HandshakeSweep } from './tls/handshake-sweep';
import { HandshakeFailure, HandshakeOwner, VERSION_ORDER, startServerHandshake } from './tls/handshake';
import { HostBinding, HostMatch, SniPolicy, SniSelector, bindingKey, buildBindings } from './hosts/host-table';
import { HostsValidation, reportHosts } from './hosts/host-report';
import { IcsHost, IcsHostOptions } from './hosts/ics-host';
import { readTlsFacts } from './tls/tls-facts';
import { ClientOwner, TWSocketClient } from './clients/wsocket-client';

export type ServerState = 'closed' | 'listening';

/** What recheckSslCerts() found. */
export interface CertRecheck {
  /** Hosts whose certificate changed and was swapped in. */
  reloaded: string[];
  /** Hosts whose changed files could not be loaded: they keep their last good certificate. */
  failed: { hostTag: string; error: Error }[];
}

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
  /** recheckSslCerts() (or its timer) swapped in a certificate or failed to. */
  sslCertRecheck: [result: CertRecheck];
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
  readonly sniUnknown: SniPolicy;
  readonly sniMissing: SniPolicy;
  private hostList: IcsHost<C>[] = [];
  private readonly recheckIntervalMs: number;
  private recheckTimer: NodeJS.Timeout | undefined;
  /** TLS connections in their handshake (too busy ones too), ended by shutdown(). */
  private readonly handshakeSockets = new Set<tls.TLSSocket>();
  private readonly handshakeSweep = new HandshakeSweep(this.handshakeSockets);

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
  /** See WSocketServerOptions.connectionContainer. */
  readonly connectionContainer: boolean;
  /** The connection whose client class is being resolved (synchronously), for ConnectionInfo injection. */
  private admitting: ConnectionInfo | undefined;
  private readonly clientSet = new Set<C>();
  private clientListCache: C[] | undefined;
  private readonly disconnectWaiters = new Map<C, () => void>();
  /** @internal Connections turned away (bannerTooBusy sent), until they are closed (shutdown waits for them). */
  readonly tooBusySockets = new Set<net.Socket>();
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
    this.sniUnknown = checkSniPolicy(options.sniUnknown ?? 'default', WHERE, 'sniUnknown');
    this.sniMissing = checkSniPolicy(options.sniMissing ?? 'default', WHERE, 'sniMissing');
    this.recheckIntervalMs = checkCount(options.sslCertRecheckInterval ?? 0, WHERE, 'sslCertRecheckInterval');
    const items = options.multiListenSockets ?? [];
    if (!Array.isArray(items)) {
      throw new TypeError(`${WHERE}: option multiListenSockets must be an array, got ${describe(items)}`);
    }
    const itemSpecs = items.map((item, index) => this.itemSpec(item, index));
    let bindings: HostBinding[] = [];
    if (options.icsHosts !== undefined) {
      if (!Array.isArray(options.icsHosts)) {
        throw new TypeError(`${WHERE}: option icsHosts must be an array of hosts, got ${describe(options.icsHosts)}`);
      }
      if (options.icsHosts.length > 0) {
        const clash = LISTENER_KEYS.find((key) => options[key] !== undefined);
        if (clash) {
          throw new TypeError(`${WHERE}: option ${clash} cannot be given with icsHosts: the listeners come from the host table`);
        }
        this.hostList = this.makeHosts(options.icsHosts);
        bindings = buildBindings(this.hostList, WHERE);
        if (bindings.length === 0) throw new TypeError(`${WHERE}: option icsHosts: no enabled host binds a port`);
        this.addr = bindings[0].addr;
        this.port = bindings[0].port;
        this.socketFamily = net.isIPv6(this.addr) ? 'ipv6' : 'ipv4';
      }
    }
    // Our own child: registrations here never reach the global container.
    this.serverContainer = checkContainer(options.container ?? globalContainer).createChildContainer();
    this.serverContainer.register(TWSocketServer, { useValue: this });
    this.connectionContainer =
      options.connectionContainer === undefined ? false : checkBoolean(options.connectionContainer, WHERE, 'connectionContainer');
    // Without a container per connection, ConnectionInfo is the connection being admitted.
    this.serverContainer.register(ConnectionInfo, { useFactory: () => this.admittedInfo() });
    if (bindings.length > 0) {
      this.listenerList = bindings.map((binding, i) => this.bindingListener(binding, i - 1));
      this.mainListener = this.listenerList[0];
      return;
    }
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
          if (listener.retired) continue;
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
        if (listener.state === 'listening' || listener.retired) continue;
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
    return this.listenerList.every((l) => l.state === 'listening' || l.retired);
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
    const listener = this.listenerAt(index);
    if (listener.retired) throw new Error(`${WHERE}: listener ${index} (${listener.url}) serves no host any more`);
    await listener.open();
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
    // Connections still in their TLS handshake never become clients now.
    for (const socket of [...this.handshakeSockets]) socket.destroy();
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

  // ---- IcsHosts -----------------------------------------------------------------

  /** The host table (validated), in table order; empty without icsHosts. */
  get icsHosts(): readonly IcsHost<C>[] {
    return this.hostList;
  }

  /**
   * ICS ValidateHosts: the host table as a person reads it: names, bindings,
   * certificate names and days left, and problems (a name the certificate does
   * not cover, expiry, a name already taken on the same listener).
   */
  validateHosts(): HostsValidation {
    return reportHosts(this.hostList, buildBindings(this.hostList, WHERE));
  }

  /**
   * ICS RecheckSslCerts: re-reads every TLS host's certificate files and swaps
   * changed ones in; open connections keep theirs. A file that fails to load
   * keeps the last good certificate and is reported.
   */
  recheckSslCerts(): CertRecheck {
    const result: CertRecheck = { reloaded: [], failed: [] };
    for (const host of this.hostList) {
      const outcome = host.sslContext?.reload();
      if (outcome?.changed) result.reloaded.push(host.hostTag);
      else if (outcome?.error) result.failed.push({ hostTag: host.hostTag, error: outcome.error });
    }
    // A listener's widened copy of its default host's context reads the same files: keep it in step
    // (its outcome is the default host's, already reported).
    for (const listener of this.listenerList) listener.hosts?.handshakeContext?.reload();
    if (result.reloaded.length + result.failed.length > 0 && this.listenerCount('sslCertRecheck') > 0) {
      try {
        this.emit('sslCertRecheck', result);
      } catch (error) {
        this.reportBgException(error, undefined);
      }
    }
    return result;
  }

  /**
   * Replaces the host table at run time: hosts added, changed, disabled or
   * removed. The new table is validated first (nothing changes on an error);
   * listeners whose binding stays keep running with the new hosts, new bindings
   * are opened when the server is listening, bindings no longer used are closed.
   * No client is disconnected.
   */
  async setIcsHosts(table: IcsHostOptions<C>[]): Promise<void> {
    if (!Array.isArray(table)) throw new TypeError(`${WHERE}: icsHosts must be an array of hosts, got ${describe(table)}`);
    if (this.hostList.length === 0) throw new Error(`${WHERE}: setIcsHosts needs a server made with icsHosts`);
    const hosts = this.makeHosts(table);
    const bindings = buildBindings(hosts, WHERE);
    if (bindings.length === 0) throw new TypeError(`${WHERE}: icsHosts: no enabled host binds a port`);
    const byKey = new Map(this.listenerList.filter((l) => l.hosts).map((l) => [l.hosts!.key, l]));
    const opening: Listener[] = [];
    for (const binding of bindings) {
      const existing = byKey.get(binding.key);
      byKey.delete(binding.key);
      if (existing) {
        existing.hosts = this.listenerHosts(binding);
        if (existing.state !== 'listening' && this.currentState === 'listening') opening.push(existing);
        continue;
      }
      const listener = this.bindingListener(binding, this.listenerList.length - 1);
      this.listenerList.push(listener);
      if (this.currentState === 'listening') opening.push(listener);
    }
    for (const unused of byKey.values()) {
      unused.close();
      unused.hosts = { ...unused.hosts!, hosts: [], sni: unused.hosts!.sni && new SniSelector([], this.sniUnknown, this.sniMissing) };
    }
    this.hostList = hosts;
    await Promise.all(opening.map((listener) => listener.open()));
  }

  /** Adds a host (see setIcsHosts). */
  async addIcsHost(host: IcsHostOptions<C>): Promise<void> {
    return this.setIcsHosts([...this.currentTable(), host]);
  }

  /** Removes the host with this hostTag (see setIcsHosts). */
  async removeIcsHost(hostTag: string): Promise<void> {
    this.hostByTag(hostTag);
    return this.setIcsHosts(this.currentTable().filter((h) => h.hostTag !== hostTag));
  }

  /** Enables or disables the host with this hostTag (see setIcsHosts). */
  async setIcsHostEnabled(hostTag: string, enabled: boolean): Promise<void> {
    this.hostByTag(hostTag);
    return this.setIcsHosts(this.currentTable().map((h) => (h.hostTag === hostTag ? { ...h, hostEnabled: enabled } : h)));
  }

  /**
   * The table as options, each host's tag pinned: a default tag (host<index>)
   * would otherwise follow the index and rename hosts when one is removed.
   */
  private currentTable(): IcsHostOptions<C>[] {
    return this.hostList.map((h) => ({ ...(h.options as IcsHostOptions<C>), hostTag: h.hostTag }));
  }

  private hostByTag(hostTag: string): IcsHost<C> {
    const host = this.hostList.find((h) => h.hostTag === hostTag);
    if (!host) throw new RangeError(`${WHERE}: no host with hostTag ${JSON.stringify(hostTag)} (${this.hostList.map((h) => h.hostTag).join(', ')})`);
    return host;
  }

  private makeHosts(table: IcsHostOptions<C>[]): IcsHost<C>[] {
    const hosts = table.map((options, index) => new IcsHost<C>(options, index, (ref, option) => this.checkClientClass(ref, option), WHERE));
    const tags = new Set<string>();
    for (const host of hosts) {
      if (tags.has(host.hostTag)) throw new TypeError(`${WHERE}: option icsHosts[${host.index}]: hostTag ${JSON.stringify(host.hostTag)} is used twice`);
      tags.add(host.hostTag);
    }
    return hosts;
  }

  private listenerHosts(binding: HostBinding): NonNullable<Listener['hosts']> {
    if (!binding.tls) return { key: binding.key, hosts: binding.hosts, sni: undefined };
    const sni = new SniSelector(binding.hosts, this.sniUnknown, this.sniMissing);
    return { key: binding.key, hosts: binding.hosts, sni, handshakeContext: widenedContext(binding.hosts) };
  }

  private bindingListener(binding: HostBinding, index: number): Listener {
    const listener = new Listener(
      {
        index,
        addr: binding.addr,
        port: binding.port,
        socketFamily: net.isIPv6(binding.addr) ? 'ipv6' : 'ipv4',
        ipv6Only: false,
        listenBacklog: this.listenBacklog,
        sslEnable: binding.tls,
      },
      this,
    );
    listener.hosts = this.listenerHosts(binding);
    return listener;
  }

  private startRecheckTimer(): void {
    if (this.recheckIntervalMs === 0 || this.recheckTimer || this.hostList.length === 0) return;
    this.recheckTimer = setInterval(recheckLater, this.recheckIntervalMs, this);
    this.recheckTimer.unref();
  }

  private stopRecheckTimer(): void {
    if (this.recheckTimer) clearInterval(this.recheckTimer);
    this.recheckTimer = undefined;
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
    const context = listener.tlsContext();
    if (context) {
      if (!tooBusy) this.handshaking++;
      const sni = listener.hosts?.sni;
      const timeout = this.sslHandshakeTimeoutMs;
      const deadline = timeout > 0 ? Date.now() + timeout : 0;
      this.handshakeSockets.add(startServerHandshake(socket, context, deadline, this, listener, tooBusy, sni));
      if (timeout > 0) this.handshakeSweep.ensure(timeout);
    } else if (tooBusy) {
      this.rejectTooBusy(socket, listener);
    } else {
      this.admit(socket, listener);
    }
  }

  /** @internal */
  handshakeDone(socket: tls.TLSSocket, listener: Listener, tooBusy: boolean, host: HostMatch | undefined, peerAddr: string, peerPort: number): void {
    this.handshakeSockets.delete(socket);
    if (tooBusy) return this.rejectTooBusy(socket, listener);
    this.handshaking--;
    this.admit(socket, listener, host, peerAddr, peerPort);
  }

  /** @internal */
  handshakeFailed(socket: tls.TLSSocket, failure: HandshakeFailure, tooBusy: boolean): void {
    this.handshakeSockets.delete(socket);
    if (!tooBusy) this.handshaking--;
    this.sslHandshakeErrors++;
    if (this.listenerCount('sslHandshakeError') > 0) this.emitGuarded('sslHandshakeError', failure);
  }

  /** peerAddr/peerPort: read by the TLS handshake already (one getpeername per connection). */
  private admit(socket: net.Socket, listener: Listener, match?: HostMatch, peerAddr?: string, peerPort?: number): void {
    const cliId = ++this.lastCliId;
    // On a plain binding the host is the first bound there; on TLS, SNI's pick.
    const host = (match?.host ?? listener.hosts?.hosts[0]) as IcsHost<C> | undefined;
    // Read once here and handed to the client: they stay readable after close (ICS caches them too).
    const info = new ConnectionInfo(
      cliId,
      peerAddr ?? socket.remoteAddress ?? '',
      peerPort ?? socket.remotePort ?? 0,
      listener.localAddrOf(socket),
      listener.localPortOf(socket),
      listener.index,
      host?.index ?? -1,
      host?.hostTag ?? '',
      match?.matchedName ?? '',
    );
    let client: C;
    try {
      client = this.resolveClient(host?.clientClass ?? (listener.spec.clientClass as ClientConstructor<C> | undefined) ?? this.cls, info);
    } catch (error) {
      socket.destroy();
      this.reportBgException(error, undefined);
      return;
    }
    client.server = this;
    client.setConnection(info);
    client.banner = host?.banner ?? this.bannerText;
    if (host) client.icsHost = host;
    // Read while the handshake is fresh: kept for the client's whole life, after close too.
    if (listener.spec.sslEnable) client.setTlsFacts(readTlsFacts(socket));
    this.clientSet.add(client);
    this.clientListCache = undefined;

    const created = this.emitGuarded('clientCreate', client);
    try {
      // Runs client code too (onSessionConnected, changeState listeners).
      client.attach(socket, info);
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

  /**
   * The client object for a connection, through tsyringe: in the server's
   * container (ConnectionInfo from the factory registered there), or in a child
   * container of its own with connectionContainer.
   */
  private resolveClient(cls: ClientConstructor<C>, info: ConnectionInfo): C {
    if (this.connectionContainer) {
      const connection = this.serverContainer.createChildContainer();
      connection.register(ConnectionInfo, { useValue: info });
      return connection.resolve(cls);
    }
    const outer = this.admitting;
    this.admitting = info;
    try {
      return this.serverContainer.resolve(cls);
    } finally {
      this.admitting = outer;
    }
  }

  private admittedInfo(): ConnectionInfo {
    if (this.admitting) return this.admitting;
    throw new Error(
      `${WHERE}: ConnectionInfo can only be injected while the server creates a client (into the client class and what it resolves then)`,
    );
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
    (socket as TooBusySocket)[TOO_BUSY_OWNER] = this as TWSocketServer<TWSocketClient>;
    socket.once('close', onTooBusyClose); // a shared function, not a closure per rejected socket
    socket.on('error', ignore);
    socket.on('timeout', destroySocket);
    socket.setTimeout(this.tooBusyCloseTimeoutMs);
    socket.resume(); // read and drop what the peer sends, so closing sends FIN, not RST
    if (this.bannerTooBusyText.length > 0) socket.end(this.bannerTooBusyText + this.lineEndText);
    else socket.end();
    if (this.listenerCount('tooBusy') > 0) {
      this.emitGuarded('tooBusy', {
        peerAddr: unmapIPv4(socket.remoteAddress ?? ''),
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
    if (state === 'listening') this.startRecheckTimer();
    else this.stopRecheckTimer();
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

/** A turned-away socket leads back to its server through this key. */
const TOO_BUSY_OWNER = Symbol('ics-ts.tooBusy');
type TooBusySocket = net.Socket & { [TOO_BUSY_OWNER]?: TWSocketServer<TWSocketClient> };

function onTooBusyClose(this: TooBusySocket): void {
  this[TOO_BUSY_OWNER]?.tooBusySockets.delete(this);
}

/**
 * The context a TLS binding's handshakes start with when a host there accepts
 * an older TLS version than the default host (see ListenerHosts.handshakeContext):
 * the default host's options at the level that differs from the default host's
 * only by that lower floor (a tls13Only default next to TLS 1.2 hosts: high).
 * Only the floor is widened: a higher ceiling would make clients that can do
 * both negotiate the newer version and then be refused by a host capped below
 * it (tls12Less). Undefined when the default host's own context will do.
 */
function widenedContext(hosts: readonly IcsHost[]): TSslContext | undefined {
  const first = hosts[0]?.sslContext;
  if (!first) return undefined;
  const rank = (version: string) => VERSION_ORDER.indexOf(version);
  const own = first.profile;
  let min = own.minVersion;
  for (const host of hosts) {
    const profile = host.sslContext?.profile;
    if (profile && rank(profile.minVersion) < rank(min)) min = profile.minVersion;
  }
  if (min === own.minVersion) return undefined;
  const { sslCipherList12, sslCipherList13 } = first.options;
  const level = SSL_SRV_SECURITY_LEVELS.find((candidate) => {
    const p = securityProfile(candidate, sslCipherList12, sslCipherList13);
    return (
      p.minVersion === min && p.maxVersion === own.maxVersion && p.ciphers === own.ciphers &&
      p.cipherSuites === own.cipherSuites && p.honorCipherOrder === own.honorCipherOrder
    );
  });
  return level ? new TSslContext({ ...first.options, sslSrvSecurity: level }) : undefined;
}

function recheckLater(server: TWSocketServer): void {
  server.recheckSslCerts();
}

function whenClosed(socket: net.Socket): Promise<void> {
  if (socket.closed) return Promise.resolve();
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

function destroySocket(this: net.Socket): void {
  this.destroy();
}
