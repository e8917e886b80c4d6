import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import type { IssuedCertificate } from '@ics-ts/acme';
import { TSslContext } from '@ics-ts/ssl-context';
import { describe } from '@ics-ts/wsocket';
import { container as globalContainer, DependencyContainer } from 'tsyringe';
import { AdmissionGate } from './admission/gate';
import { ClientSlots } from './admission/client-slots';
import type { ListenerPolicy } from './admission/policy';
import { RefusalCounts } from './admission/refusals';
import { Refuser } from './admission/refuser';
import { TooBusy } from './admission/too-busy';
import { ClientFactory, injectionProblem } from './clients/client-factory';
import { ClientList } from './clients/client-list';
import { ClientClassRef, ClientClassRegistry, ClientConstructor, clientClassRegistry, isClientClass } from './clients/client-registry';
import { ClientStarter } from './clients/client-starter';
import { TWSocketClient } from './clients/wsocket-client';
import { CertRecheck, ListenFailure, ServerEvents, ServerState, WSocketServerEvents } from './events';
import { AutoCertificateSink, AutoCertificates } from './hosts/auto-certificates';
import { HostBinding, SniPolicy, SniSelector, buildBindings } from './hosts/host-table';
import { HostsValidation, reportHosts } from './hosts/host-report';
import { IcsHost, IcsHostOptions } from './hosts/ics-host';
import { Listener, ListenerSpec, ListenerStatus } from './listen/listener';
import { resolvePolicy } from './options/admission-options';
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
import type { ServerSettings } from './options/server-settings';
import { HandshakeFailureReason } from './tls/handshake';
import { TlsHandshakes } from './tls/handshakes';
import { widenedContext } from './tls/widened-context';

export type { CertRecheck, ListenFailure, ServerState, TooBusyInfo, WSocketServerEvents } from './events';

const WHERE = 'TWSocketServer';

/**
 * TWSocketServer: listens, creates one client class instance per connection
 * (resolved through tsyringe in a child container made for that connection),
 * keeps the client list, greets with the banner, turns away connections over
 * maxClients with bannerTooBusy.
 */
export class TWSocketServer<C extends TWSocketClient = TWSocketClient> extends EventEmitter<WSocketServerEvents<C>> {
  readonly addr: string;
  /** The port as configured, resolved to a number (ICS PortNum); 0 = system-chosen. */
  readonly port: number;
  readonly socketFamily: SocketFamily;
  readonly ipv6Only: boolean;
  readonly listenBacklog: number;
  readonly sslEnable: boolean;
  /** The server's TLS context: addr/port's when sslEnable, the default of TLS listeners. */
  readonly sslContext: TSslContext | undefined;
  readonly sniUnknown: SniPolicy;
  readonly sniMissing: SniPolicy;
  /** See WSocketServerOptions.connectionContainer. */
  readonly connectionContainer: boolean;
  private hostList: IcsHost<C>[] = [];
  private readonly recheckIntervalMs: number;
  private recheckTimer: NodeJS.Timeout | undefined;
  private readonly registry: ClientClassRegistry;
  private readonly serverContainer: DependencyContainer;
  /** What the stages read at each connection; the setters below change it. */
  private readonly settings: ServerSettings<C>;
  /** The server's own admission policy: listeners that set none of their own use it. */
  private readonly policy: ListenerPolicy;

  // The pipeline, in the order a connection takes: listeners → gate → (TLS) → slots → starter → list → events.
  private readonly events: ServerEvents<C>;
  private readonly refuser: Refuser;
  private readonly tooBusyStage: TooBusy;
  private readonly handshakes: TlsHandshakes;
  /** certAutoOrder hosts: their ACME managers and challenge answers. */
  private readonly autoCerts: AutoCertificates;
  private readonly list: ClientList<C>;
  private readonly gate: AdmissionGate<C>;

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
    this.sslEnable = checkBoolean(options.sslEnable ?? SERVER_DEFAULTS.sslEnable, WHERE, 'sslEnable');
    this.sslContext = resolveSslContext(options.sslContext, WHERE, 'sslContext');
    if (this.sslEnable && !this.sslContext) throw new TypeError(`${WHERE}: option sslEnable needs option sslContext`);
    this.registry = checkRegistry(options.registry ?? clientClassRegistry);
    // Our own child: registrations here never reach the global container.
    this.serverContainer = checkContainer(options.container ?? globalContainer).createChildContainer();
    this.serverContainer.register(TWSocketServer, { useValue: this });
    this.connectionContainer =
      options.connectionContainer === undefined ? false : checkBoolean(options.connectionContainer, WHERE, 'connectionContainer');
    const count = (key: keyof typeof SERVER_DEFAULTS & keyof WSocketServerOptions<C>) =>
      checkCount(options[key] ?? SERVER_DEFAULTS[key], WHERE, key);
    this.settings = {
      banner: checkString(options.banner ?? SERVER_DEFAULTS.banner, WHERE, 'banner'),
      bannerTooBusy: checkString(options.bannerTooBusy ?? SERVER_DEFAULTS.bannerTooBusy, WHERE, 'bannerTooBusy'),
      bannerTooBusyPerIp:
        options.bannerTooBusyPerIp === undefined ? undefined : checkString(options.bannerTooBusyPerIp, WHERE, 'bannerTooBusyPerIp'),
      lineEnd: checkString(options.lineEnd ?? SERVER_DEFAULTS.lineEnd, WHERE, 'lineEnd'),
      maxClients: count('maxClients'),
      maxConnections: count('maxConnections'),
      maxHandshakes: count('maxHandshakes'),
      maxHandshakesPerIp: count('maxHandshakesPerIp'),
      tooBusyCloseTimeout: count('tooBusyCloseTimeout'),
      sslHandshakeTimeout: count('sslHandshakeTimeout'),
      clientClass: this.checkClientClass(options.clientClass ?? (TWSocketClient as unknown as ClientConstructor<C>)),
    };
    this.policy = resolvePolicy(options as Record<string, unknown>, undefined, WHERE);
    this.sniUnknown = checkSniPolicy(options.sniUnknown ?? 'default', WHERE, 'sniUnknown');
    this.sniMissing = checkSniPolicy(options.sniMissing ?? 'default', WHERE, 'sniMissing');
    this.recheckIntervalMs = checkCount(options.sslCertRecheckInterval ?? 0, WHERE, 'sslCertRecheckInterval');

    this.events = new ServerEvents<C>(this);
    const events = this.events as unknown as ServerEvents<TWSocketClient>;
    this.refuser = new Refuser(events);
    this.tooBusyStage = new TooBusy(this.settings, this.refuser, events);
    this.list = new ClientList<C>(this, this.events);
    const factory = new ClientFactory(this.serverContainer, this.connectionContainer, WHERE);
    const starter = new ClientStarter<C>(this.settings, factory, this.list, this.events);
    const slots = new ClientSlots<C>(this.settings, this.list, this.tooBusyStage, starter);
    this.handshakes = new TlsHandshakes(this.settings, this.refuser, events, slots);
    this.autoCerts = new AutoCertificates(certificateSink(this));
    this.gate = new AdmissionGate<C>(this.settings, this.refuser, this.events, this.list, this.tooBusyStage, this.handshakes, slots);

    const items = options.multiListenSockets ?? [];
    if (!Array.isArray(items)) {
      throw new TypeError(`${WHERE}: option multiListenSockets must be an array, got ${describe(items)}`);
    }
    const itemListeners = items.map((item, index) => this.itemListener(item, index));
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
        this.watchChallenges(this.hostList);
        bindings = buildBindings(this.hostList, WHERE);
        if (bindings.length === 0) throw new TypeError(`${WHERE}: option icsHosts: no enabled host binds a port`);
        this.addr = bindings[0].addr;
        this.port = bindings[0].port;
        this.socketFamily = net.isIPv6(this.addr) ? 'ipv6' : 'ipv4';
      }
    }
    if (bindings.length > 0) {
      this.listenerList = bindings.map((binding, i) => this.bindingListener(binding, i - 1));
      this.mainListener = this.listenerList[0];
      return;
    }
    this.mainListener = this.newListener({
      index: -1,
      addr: this.addr,
      port: this.port,
      socketFamily: this.socketFamily,
      ipv6Only: this.ipv6Only,
      listenBacklog: this.listenBacklog,
      sslEnable: this.sslEnable,
      sslContext: this.sslEnable ? this.sslContext : undefined,
    });
    this.listenerList = [this.mainListener, ...itemListeners];
  }

  // ---- settings that may change at run time (new connections only) ----

  get banner(): string {
    return this.settings.banner;
  }

  set banner(value: string) {
    this.settings.banner = checkString(value, WHERE, 'banner');
  }

  get bannerTooBusy(): string {
    return this.settings.bannerTooBusy;
  }

  set bannerTooBusy(value: string) {
    this.settings.bannerTooBusy = checkString(value, WHERE, 'bannerTooBusy');
  }

  get lineEnd(): string {
    return this.settings.lineEnd;
  }

  set lineEnd(value: string) {
    this.settings.lineEnd = checkString(value, WHERE, 'lineEnd');
  }

  get maxClients(): number {
    return this.settings.maxClients;
  }

  /** Lowering it below clientCount turns away new connections only; nobody connected is dropped. */
  set maxClients(value: number) {
    this.settings.maxClients = checkCount(value, WHERE, 'maxClients');
  }

  get maxConnections(): number {
    return this.settings.maxConnections;
  }

  set maxConnections(value: number) {
    this.settings.maxConnections = checkCount(value, WHERE, 'maxConnections');
  }

  get clientClass(): ClientConstructor<C> {
    return this.settings.clientClass;
  }

  set clientClass(ref: ClientClassRef<C>) {
    this.settings.clientClass = this.checkClientClass(ref);
  }

  // ---- counters -------------------------------------------------------------

  /** Connections turned away with bannerTooBusy (maxClients or maxClientsPerIp) since the server was made. */
  get tooBusyCount(): number {
    return this.tooBusyStage.count;
  }

  /** TLS handshakes that failed since the server was made. */
  get sslHandshakeErrors(): number {
    return this.handshakes.failed;
  }

  /** TLS handshakes that failed, by reason. */
  get sslHandshakeFailures(): Readonly<Record<HandshakeFailureReason, number>> {
    return this.handshakes.failures;
  }

  /** Connections refused since the server was made, by reason (every admission stage's). */
  get refusals(): Readonly<RefusalCounts> {
    return this.refuser.counts;
  }

  /** Every socket the server holds now: clients, TLS handshakes in progress, busy peers being turned away. */
  get connectionCount(): number {
    return this.gate.held;
  }

  /** TLS handshakes in progress now. */
  get handshakeCount(): number {
    return this.handshakes.pending.size;
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
      // certAutoOrder hosts: their certificate files ready (stored or stand-in) before their listeners open.
      await this.autoCerts.start(this.hostList);
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
      await this.autoCerts.start(this.hostList);
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

  /**
   * Stops every listener (ICS MultiClose) and the certificate orders (ICS OrderClose); connected clients
   * stay connected.
   */
  async close(): Promise<void> {
    for (const listener of this.listenerList) listener.close();
    this.closeCount++;
    this.adding?.close();
    this.setState('closed');
    await this.autoCerts.stop();
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
      const listener = this.itemListener(item, this.listenerList.length - 1);
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
    this.handshakes.destroyAll();
    const all = this.clients.map((client) => this.list.whenGone(client));
    // Connections turned away as too busy are already closing: wait for them too.
    for (const socket of this.tooBusyStage.sockets) all.push(whenClosed(socket));
    for (const client of this.clients) client.close();
    if (all.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([Promise.all(all), timedOut]);
    clearTimeout(timer);
    const stragglers = [...this.tooBusyStage.sockets].map(whenClosed);
    this.tooBusyStage.destroyAll();
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
      this.events.emit('sslCertRecheck', result);
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
    // New hosts' certAutoOrder managers (and contexts) before any listener serves them; the old ones stop.
    if (this.currentState === 'listening') await this.autoCerts.start(hosts);
    this.watchChallenges(hosts);
    const byKey = new Map(this.listenerList.filter((l) => l.hosts).map((l) => [l.hosts!.key, l]));
    const opening: Listener[] = [];
    for (const binding of bindings) {
      const existing = byKey.get(binding.key);
      byKey.delete(binding.key);
      if (existing) {
        this.setListenerHosts(existing, binding);
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

  /**
   * certAutoOrder (ICS OrderCert): orders the host's certificate now, whatever its expiry; resolves with the
   * new certificate, already serving new handshakes (connections open keep theirs).
   */
  renewCertificate(hostTag: string): Promise<IssuedCertificate> {
    const manager = this.hostByTag(hostTag).certManager;
    if (!manager) return Promise.reject(new Error(`${WHERE}: host ${JSON.stringify(hostTag)} has no certAutoOrder`));
    return manager.renewNow();
  }

  /** tls-alpn-01 checks answered with a challenge certificate on this server's TLS listeners. */
  get acmeChallengesAnswered(): number {
    return this.handshakes.acmeChallengesAnswered;
  }

  /** The TLS stage reads ClientHellos first only on servers with a tls-alpn-01 certAutoOrder host. */
  private watchChallenges(hosts: readonly IcsHost<C>[]): void {
    const tlsAlpn = hosts.some((host) => host.certManager?.options.challenge === 'tls-alpn-01');
    this.handshakes.acme = tlsAlpn ? this.autoCerts : undefined;
  }

  /** @internal A certAutoOrder host has a new certificate in its file: serve it from the next handshake on. */
  certificateIssued(host: IcsHost, certificate: IssuedCertificate): void {
    if (!this.hostList.includes(host as IcsHost<C>)) return;
    host.sslContext?.reload(true);
    for (const listener of this.listenerList) {
      if (listener.hosts?.hosts.includes(host)) listener.hosts.handshakeContext?.reload(true);
    }
    if (this.events.wanted('certificateIssued')) this.events.emit('certificateIssued', host.hostTag, certificate);
  }

  /** @internal */
  certificateOrderFailed(host: IcsHost, error: Error, retry: { failures: number; retryAt: Date }): void {
    if (this.events.wanted('certificateOrderFailed')) this.events.emit('certificateOrderFailed', host.hostTag, error, retry);
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
    const listener = this.newListener({
      index,
      addr: binding.addr,
      port: binding.port,
      socketFamily: net.isIPv6(binding.addr) ? 'ipv6' : 'ipv4',
      ipv6Only: false,
      listenBacklog: this.listenBacklog,
      sslEnable: binding.tls,
    });
    this.setListenerHosts(listener, binding);
    return listener;
  }

  /** A binding's hosts and policy (the first of its hosts that sets a key gives it). */
  private setListenerHosts(listener: Listener, binding: HostBinding): void {
    listener.hosts = this.listenerHosts(binding);
    const merged: Record<string, unknown> = {};
    for (const host of [...binding.hosts].reverse()) Object.assign(merged, pickAdmission(host.options));
    listener.policy = resolvePolicy(merged, this.policy, WHERE);
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
    return this.list.all;
  }

  get clientCount(): number {
    return this.list.size;
  }

  /** ICS Client[i]: undefined when out of range. */
  client(index: number): C | undefined {
    return this.list.all[index];
  }

  isClient(thing: unknown): thing is C {
    return this.list.has(thing);
  }

  /** Aborts a client; resolves once clientDisconnect has fired and it left the list. */
  disconnect(client: C): Promise<void> {
    if (!this.list.has(client)) return Promise.resolve();
    const gone = this.list.whenGone(client);
    client.abort();
    return gone;
  }

  async disconnectAll(): Promise<void> {
    await Promise.all(this.clients.map((client) => this.disconnect(client)));
  }

  // ---- internals ---------------------------------------------------------------------

  private setState(state: ServerState): void {
    const previous = this.currentState;
    if (previous === state) return;
    this.currentState = state;
    if (state === 'listening') this.startRecheckTimer();
    else this.stopRecheckTimer();
    this.events.emit('changeState', state, previous);
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
    const problem = injectionProblem(cls, this.serverContainer);
    if (problem) throw new TypeError(`${WHERE}: option ${option}: ${problem}`);
    return cls;
  }

  /** A multiListenSockets item (or addListenSocket's), validated, as a listener. */
  private itemListener(item: unknown, index: number): Listener {
    const spec = listenerSpecFromItem(
      item,
      index,
      {
        listenBacklog: this.listenBacklog,
        sslContext: this.sslContext,
        policy: this.policy,
        resolveClientClass: (ref, option) => this.checkClientClass(ref as ClientClassRef<C>, option),
      },
      WHERE,
    );
    return this.newListener(spec);
  }

  private newListener(spec: ListenerSpec): Listener {
    return new Listener(spec, this.gate, this.events, spec.policy ?? this.policy);
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

function pickAdmission(options: object): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined && (key === 'allow' || key === 'deny' || key === 'maxClientsPerIp')) picked[key] = value;
  }
  return picked;
}

function certificateSink(server: TWSocketServer): AutoCertificateSink {
  return server as unknown as AutoCertificateSink;
}

function recheckLater(server: TWSocketServer): void {
  server.recheckSslCerts();
}

function whenClosed(socket: net.Socket): Promise<void> {
  if (socket.closed) return Promise.resolve();
  return new Promise((resolve) => socket.once('close', () => resolve()));
}
