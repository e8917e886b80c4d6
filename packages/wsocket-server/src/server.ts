import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import type { IssuedCertificate } from '@ics-ts/acme';
import { TSslContext } from '@ics-ts/ssl-context';
import { describe, ICS_ERR, icsError, icsSystemError, icsCodeOf } from '@ics-ts/wsocket';
import type { WSocketDefaults } from '@ics-ts/wsocket';
import { container as globalContainer, DependencyContainer } from 'tsyringe';
import { AdmissionGate } from './admission/gate';
import { ClientSlots, SlotHolderSink } from './admission/client-slots';
import type { ListenerPolicy } from './admission/policy';
import { RefusalCounts } from './admission/refusals';
import { Refuser } from './admission/refuser';
import { TooBusy } from './admission/too-busy';
import { ClientFactory, injectionProblem } from './clients/client-factory';
import type { ClientList } from './clients/client-list';
import { ClientClassRef, ClientClassRegistry, ClientConstructor, clientClassRegistry, isClientClass } from './clients/client-registry';
import { ClientStarter } from './clients/client-starter';
import { INFO, TWSocketClient } from './clients/wsocket-client';
import { CertRecheck, ListenFailure, ServerEvents, ServerState, WSocketServerEvents } from './events';
import { AutoCertificateSink, AutoCertificates } from './hosts/auto-certificates';
import { HostBinding, SniPolicy } from './hosts/host-table';
import { HostSet } from './hosts/host-set';
import type { HostsValidation } from './hosts/host-report';
import { IcsHost, IcsHostOptions } from './hosts/ics-host';
import { Listener, ListenerSpec, ListenerStatus } from './listen/listener';
import { ListenerSet } from './listen/listener-set';
import { resolvePolicy } from './options/admission-options';
import type { ProxyFailureReason } from './admission/proxy-stage';
import { MultiListenItem, listenerSpecFromItem } from './options/multi-listen-options';
import {
  SERVER_DEFAULTS,
  SocketFamily,
  WSocketServerOptions,
  checkBacklog,
  checkBoolean,
  checkCount,
  checkMs,
  checkKnownKeys,
  checkString,
  resolveAddress,
  resolveClientDefaults,
  resolvePort,
  resolveSslContext,
  LISTENER_KEYS,
  checkSniPolicy,
  checkBus,
  checkReusePort,
} from './options/server-options';
import type { ServerSettings } from './options/server-settings';
import { HandshakeFailureReason } from './tls/handshake';
import { TlsHandshakes } from './tls/handshakes';
import { AdminServer } from './stats/admin-server';
import type { AdminTarget, RecheckOutcome } from './stats/admin-target';
import { IdleClock, collectStats } from './stats/server-stats';
import type { ServerStats, ServiceStats, StatsRequest } from './stats/stats-types';
import type { ServiceBus, ServiceBusStatus } from './service/service-bus';
import { LocalBus } from './service/hub-bus';
import { ServiceGate } from './service/service-gate';
import { ServiceRoom } from './service/service-room';
import { ServiceSlots } from './service/service-slots';
import { SlotClientList, WatchedClientList } from './service/watched-client-list';

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
  private readonly hostSet: HostSet<TWSocketClient>;
  private readonly recheckIntervalMs: number;
  private recheckTimer: NodeJS.Timeout | undefined;
  private readonly registry: ClientClassRegistry;
  private readonly serverContainer: DependencyContainer;
  /** What the stages read at each connection; the setters below change it. */
  private readonly settings: ServerSettings<C>;
  /** Connection-life defaults for the listeners that set none of their own. */
  private readonly clientDefaults: WSocketDefaults | undefined;
  /** The server's own admission policy: listeners that set none of their own use it. */
  private readonly policy: ListenerPolicy;

  // The pipeline, in the order a connection takes: listeners → gate → (TLS) → slots → starter → list → events.
  private readonly events: ServerEvents<C>;
  private readonly refuser: Refuser;
  private readonly tooBusyStage: TooBusy;
  private readonly handshakes: TlsHandshakes;
  /** certAutoOrder hosts: their ACME managers and challenge answers. */
  private readonly autoCerts: AutoCertificates;
  private readonly list: WatchedClientList<C>;
  private readonly gate: AdmissionGate<C>;

  // ---- the service (see options.bus)
  private readonly serviceBus: ServiceBus;
  /** With a shared bus: the service-wide slot stage (undefined with a LocalBus: this server's slots are the service's). */
  private readonly serviceSlots: ServiceSlots<C> | undefined;
  private readonly rooms = new Map<string, ServiceRoom>();
  /** bus.start() under way or done (the first listen starts it); undefined when stopped. */
  private busStart: Promise<void> | undefined;
  /** Why the bus could not start ('' when it did). */
  private busStartError = '';
  private busStartFailures = 0;
  /** The service-wide client count serviceClientCount() last got. */
  private lastServiceClients = 0;
  /** See WSocketServerOptions.reusePort. */
  readonly reusePort: boolean;

  private currentState: ServerState = 'closed';
  private readonly listenerSet: ListenerSet;

  // ---- what stats() reads beside the stages' counters
  private readonly startedAt = Date.now();
  private readonly idleClock = new IdleClock();
  /** The last recheckSslCerts() outcome per TLS host. */
  private readonly lastRecheck = new Map<string, { at: string; ok: boolean; error?: string }>();
  /** The admin listener (options.admin), opened by the first listen, closed by shutdown. */
  private readonly admin: AdminServer | undefined;

  constructor(options: WSocketServerOptions<C> = {}) {
    super();
    if (options === null || typeof options !== 'object') {
      throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${WHERE}: options must be an object`);
    }
    checkKnownKeys(options, WHERE);
    this.addr = options.addr ?? SERVER_DEFAULTS.addr;
    this.socketFamily = resolveAddress(this.addr, options.socketFamily, WHERE);
    this.port = resolvePort(options.port ?? SERVER_DEFAULTS.port, WHERE);
    this.ipv6Only = checkBoolean(options.ipv6Only ?? SERVER_DEFAULTS.ipv6Only, WHERE, 'ipv6Only');
    this.listenBacklog = checkBacklog(options.listenBacklog ?? SERVER_DEFAULTS.listenBacklog, WHERE);
    this.sslEnable = checkBoolean(options.sslEnable ?? SERVER_DEFAULTS.sslEnable, WHERE, 'sslEnable');
    this.sslContext = resolveSslContext(options.sslContext, WHERE, 'sslContext');
    if (this.sslEnable && !this.sslContext) throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${WHERE}: option sslEnable needs option sslContext`);
    this.registry = checkRegistry(options.registry ?? clientClassRegistry);
    // Our own child: registrations here never reach the global container.
    this.serverContainer = checkContainer(options.container ?? globalContainer).createChildContainer();
    this.serverContainer.register(TWSocketServer, { useValue: this });
    this.connectionContainer =
      options.connectionContainer === undefined ? false : checkBoolean(options.connectionContainer, WHERE, 'connectionContainer');
    const count = (key: keyof typeof SERVER_DEFAULTS & keyof WSocketServerOptions<C>) =>
      checkCount(options[key] ?? SERVER_DEFAULTS[key], WHERE, key);
    const ms = (key: keyof typeof SERVER_DEFAULTS & keyof WSocketServerOptions<C>) => checkMs(options[key] ?? SERVER_DEFAULTS[key], WHERE, key);
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
      tooBusyCloseTimeout: ms('tooBusyCloseTimeout'),
      sslHandshakeTimeout: ms('sslHandshakeTimeout'),
      clientClass: this.checkClientClass(options.clientClass ?? (TWSocketClient as unknown as ClientConstructor<C>)),
    };
    this.policy = resolvePolicy(options as Record<string, unknown>, undefined, WHERE);
    this.clientDefaults = resolveClientDefaults(options.clientDefaults, undefined, WHERE, 'clientDefaults');
    this.sniUnknown = checkSniPolicy(options.sniUnknown ?? 'default', WHERE, 'sniUnknown');
    this.sniMissing = checkSniPolicy(options.sniMissing ?? 'default', WHERE, 'sniMissing');
    this.recheckIntervalMs = checkMs(options.sslCertRecheckInterval ?? 0, WHERE, 'sslCertRecheckInterval');
    this.admin = options.admin === undefined ? undefined : newAdminServer(this.adminTarget(), options.admin);
    this.serviceBus = options.bus === undefined ? new LocalBus() : checkBus(options.bus, WHERE);
    const sharedBus = this.serviceBus.status !== 'local';
    const slotTimeout = ms('serviceSlotTimeout');
    this.reusePort = checkReusePort(options.reusePort ?? SERVER_DEFAULTS.reusePort, WHERE);
    const resolveClass = (ref: ClientClassRef, option: string) => this.checkClientClass(ref as ClientClassRef<C>, option);
    this.hostSet = new HostSet<TWSocketClient>(resolveClass as (ref: ClientClassRef, option: string) => ClientConstructor, this.policy, this.sniUnknown, this.sniMissing, WHERE);

    this.events = new ServerEvents<C>(this);
    const events = this.events as unknown as ServerEvents<TWSocketClient>;
    this.refuser = new Refuser(events);
    this.tooBusyStage = new TooBusy(this.settings, this.refuser, events);
    // A LocalBus keeps today's synchronous slots: the plain list and gate, no stage between the slots and the starter.
    this.list = sharedBus ? new SlotClientList<C>(this, this.events) : new WatchedClientList<C>(this, this.events);
    const factory = new ClientFactory(this.serverContainer, this.connectionContainer, WHERE);
    const starter = new ClientStarter<C>(this.settings, factory, this.list, this.events);
    let afterSlots: SlotHolderSink = starter;
    if (sharedBus) {
      const local = () => slots;
      this.serviceSlots = new ServiceSlots<C>(this.settings, this.serviceBus, local, this.list, this.tooBusyStage, starter, this.events, slotTimeout);
      this.list.watch(this.serviceSlots);
      afterSlots = this.serviceSlots;
    }
    const slots = new ClientSlots<C>(this.settings, this.list, this.tooBusyStage, afterSlots);
    this.handshakes = new TlsHandshakes(this.settings, this.refuser, events, slots);
    this.autoCerts = new AutoCertificates(certificateSink(this));
    if (sharedBus) {
      const gate = new ServiceGate<C>(this.settings, this.refuser, this.events, this.list, this.tooBusyStage, this.handshakes, slots);
      gate.serviceSlots = this.serviceSlots;
      this.gate = gate;
    } else {
      this.gate = new AdmissionGate<C>(this.settings, this.refuser, this.events, this.list, this.tooBusyStage, this.handshakes, slots);
    }
    this.onBusStatus = this.onBusStatus.bind(this);

    const items = options.multiListenSockets ?? [];
    if (!Array.isArray(items)) {
      throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${WHERE}: option multiListenSockets must be an array, got ${describe(items)}`);
    }
    const itemListeners = items.map((item, index) => this.itemListener(item, index));
    let bindings: HostBinding[] = [];
    if (options.icsHosts !== undefined) {
      if (!Array.isArray(options.icsHosts)) {
        throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${WHERE}: option icsHosts must be an array of hosts, got ${describe(options.icsHosts)}`);
      }
      if (options.icsHosts.length > 0) {
        const clash = LISTENER_KEYS.find((key) => options[key] !== undefined);
        if (clash) {
          throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${WHERE}: option ${clash} cannot be given with icsHosts: the listeners come from the host table`);
        }
        const plan = this.hostSet.plan(options.icsHosts as IcsHostOptions[]);
        this.hostSet.use(plan.hosts);
        this.watchChallenges(plan.hosts);
        bindings = plan.bindings;
        this.addr = bindings[0].addr;
        this.port = bindings[0].port;
        this.socketFamily = net.isIPv6(this.addr) ? 'ipv6' : 'ipv4';
      }
    }
    if (bindings.length > 0) {
      this.listenerSet = new ListenerSet(bindings.map((binding, i) => this.bindingListener(binding, i - 1)), WHERE);
      return;
    }
    const main = this.newListener({
      index: -1,
      addr: this.addr,
      port: this.port,
      socketFamily: this.socketFamily,
      ipv6Only: this.ipv6Only,
      listenBacklog: this.listenBacklog,
      sslEnable: this.sslEnable,
      sslContext: this.sslEnable ? this.sslContext : undefined,
    });
    this.listenerSet = new ListenerSet([main, ...itemListeners], WHERE);
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

  /** PROXY headers read (health checks included), health checks (v2 LOCAL, closed cleanly), headers refused by reason. */
  get proxyHeaders(): { decoded: number; healthChecks: number; pending: number; failures: Readonly<Record<ProxyFailureReason, number>> } {
    const stage = this.gate.proxyHeaders;
    return { decoded: stage.decoded, healthChecks: stage.healthChecks, pending: stage.pending.size, failures: stage.failures };
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
    return this.listenerSet.main.bindPort;
  }

  /** The main listener (addr/port). */
  get listener(): Listener {
    return this.listenerSet.main;
  }

  /** Every listener: the main one (index -1), then multiListenSockets in order. */
  get listenSockets(): readonly Listener[] {
    return this.listenerSet.all;
  }

  /**
   * Opens every listener, all or nothing (ICS MultiListen): on the first
   * failure the ones already opened are closed again and the error names the
   * listener (address, port, system code: EADDRINUSE, EACCES...). The
   * service bus (options.bus) is started with the first listen and awaited;
   * a bus that cannot start leaves the server serving alone (serviceStatus
   * 'down'); a listen that opens nothing stops it again.
   */
  async listen(options: ListenOptions = {}): Promise<void> {
    const bus = this.startBus();
    try {
      await this.whileNotAborted(options.signal, () => this.withCertificates(() => this.listenerSet.openAll()));
      await this.openAdmin();
    } catch (error) {
      // Nothing listens: the service is left again (a later listen joins it anew).
      if (!this.listenerSet.any) await this.stopBus();
      throw error;
    }
    await bus;
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
  async multiListenEx(options: ListenOptions = {}): Promise<ListenFailure[]> {
    const bus = this.startBus();
    const failures = await this.whileNotAborted(options.signal, () => this.withCertificates(() => this.listenerSet.openEach()));
    if (this.listenerSet.any) await this.openAdmin();
    await bus;
    if (this.listenerSet.any) this.setState('listening');
    return failures;
  }

  /** Every listener is listening (ICS ListenAllOK). */
  get listenAllOk(): boolean {
    return this.listenerSet.allOk;
  }

  /** At least one listener is listening (ICS ListenAny). */
  get listenAny(): boolean {
    return this.listenerSet.any;
  }

  /** Each listener's address, ports, TLS, state and last error (ICS ListenStates). */
  get listenStates(): ListenerStatus[] {
    return this.listenerSet.states;
  }

  /** listenStates as lines a person reads at a glance. */
  listenStatesText(): string {
    return this.listenerSet.statesText();
  }

  /**
   * Stops every listener (ICS MultiClose) and the certificate orders (ICS OrderClose); connected clients
   * stay connected.
   */
  async close(): Promise<void> {
    this.listenerSet.closeAll();
    this.setState('closed');
    await this.autoCerts.stop();
  }

  /** Stops one listener (-1 the main one); its clients stay connected. */
  closeListenSocket(index: number): void {
    this.listenerSet.at(index).close();
    if (!this.listenerSet.any) this.setState('closed');
  }

  /** (Re)opens one listener (-1 the main one). */
  async openListenSocket(index: number): Promise<void> {
    const listener = this.listenerSet.at(index);
    if (listener.retired) throw icsError(Error, ICS_ERR.NO_SUCH_LISTENER, `${WHERE}: listener ${index} (${listener.url}) serves no host any more`);
    await listener.open();
    this.setState('listening');
  }

  /**
   * Adds a listener at run time (validated like a multiListenSockets item) and
   * opens it; it joins listenSockets once it listens (on failure nothing is
   * added). Calls run one after the other, so each gets the next index.
   */
  async addListenSocket(item: MultiListenItem<C>): Promise<Listener> {
    const listener = await this.listenerSet.add((index) => this.itemListener(item, index));
    this.setState('listening');
    return listener;
  }

  /**
   * Graceful shutdown: stops the listeners, ends TLS handshakes in progress,
   * tells every client (`onShutdown(notice)`: by default the notice line, if
   * any), closes each gracefully (what was sent is flushed, our side ends with
   * FIN), waits for them and for the busy peers being turned away, and aborts
   * whatever is still open at `timeout` ms (or when `signal` aborts). A number
   * is taken as the timeout. `shutdown()` twice is fine.
   */
  async shutdown(options: number | ShutdownOptions = {}): Promise<ShutdownResult> {
    const { timeout, notice, signal } = checkShutdownOptions(options);
    await this.close();
    await this.admin?.close();
    // Connections still in their TLS handshake, or still sending their PROXY header, never become clients now.
    this.handshakes.destroyAll();
    this.gate.proxyHeaders.destroyAll();
    this.serviceSlots?.destroyAll();
    const result = await this.shutdownClients(notice, timeout, signal);
    await this.stopBus();
    return result;
  }

  /** shutdown()'s graceful part: every client told, closed, waited for; aborted at the cut-off. */
  private async shutdownClients(notice: string | undefined, timeout: number, signal: AbortSignal | undefined): Promise<ShutdownResult> {
    const clients = [...this.clients];
    const result: ShutdownResult = { clients: clients.length, closed: 0, aborted: 0 };
    const all = clients.map((client) => this.list.whenGone(client));
    // Connections turned away as too busy are already closing: wait for them too.
    for (const socket of this.tooBusyStage.sockets) all.push(whenClosed(socket));
    for (const client of clients) client.beginShutdown(notice);
    if (all.length === 0) return result;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const cutOff = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeout);
      onAbort = () => resolve();
      if (signal?.aborted) resolve();
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    await Promise.race([Promise.all(all), cutOff]);
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort!);
    const stragglers = [...this.tooBusyStage.sockets].map(whenClosed);
    this.tooBusyStage.destroyAll();
    const left = [...this.clients];
    result.aborted = left.length;
    result.closed = result.clients - left.length;
    await Promise.all([...left.map((client) => this.disconnect(client)), ...stragglers]);
    return result;
  }

  /** `await using server = new TWSocketServer(...)`: a graceful shutdown with the default timeout (the bus stopped at its end). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  // ---- IcsHosts -----------------------------------------------------------------

  /** The host table (validated), in table order; empty without icsHosts. */
  get icsHosts(): readonly IcsHost<C>[] {
    return this.hostSet.hosts as readonly IcsHost<C>[];
  }

  /**
   * ICS ValidateHosts: the host table as a person reads it: names, bindings,
   * certificate names and days left, and problems (a name the certificate does
   * not cover, expiry, a name already taken on the same listener).
   */
  validateHosts(): HostsValidation {
    return this.hostSet.report();
  }

  /**
   * ICS RecheckSslCerts: re-reads every TLS host's certificate files and swaps
   * changed ones in; open connections keep theirs. A file that fails to load
   * keeps the last good certificate and is reported.
   */
  recheckSslCerts(): CertRecheck {
    const result = this.hostSet.recheck(this.listenerSet.all);
    const at = new Date().toISOString();
    for (const host of this.hostSet.hosts) {
      if (!host.sslContext) continue;
      const failure = result.failed.find((f) => f.hostTag === host.hostTag);
      this.lastRecheck.set(host.hostTag, failure ? { at, ok: false, error: failure.error.message } : { at, ok: true });
    }
    if (result.reloaded.length + result.failed.length > 0 && this.events.wanted('sslCertRecheck')) {
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
    if (!Array.isArray(table)) throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${WHERE}: icsHosts must be an array of hosts, got ${describe(table)}`);
    if (this.hostSet.hosts.length === 0) throw icsError(Error, ICS_ERR.NO_SUCH_HOST, `${WHERE}: setIcsHosts needs a server made with icsHosts`);
    const { hosts, bindings } = this.hostSet.plan(table as IcsHostOptions[]);
    const listening = this.currentState === 'listening';
    // New hosts' certAutoOrder managers (and contexts) before any listener serves them; the old ones stop.
    if (listening && (this.hasAutoCertificates || hosts.some((host) => host.certManager))) await this.autoCerts.start(hosts);
    this.watchChallenges(hosts);
    const all = this.listenerSet.all;
    const byKey = new Map(all.filter((l) => l.hosts).map((l) => [l.hosts!.key, l]));
    const opening: Listener[] = [];
    for (const binding of bindings) {
      const existing = byKey.get(binding.key);
      byKey.delete(binding.key);
      if (existing) {
        this.hostSet.serve(existing, binding);
        if (existing.state !== 'listening' && listening) opening.push(existing);
        continue;
      }
      const listener = this.bindingListener(binding, all.length - 1);
      all.push(listener);
      if (listening) opening.push(listener);
    }
    for (const unused of byKey.values()) this.hostSet.retire(unused);
    this.hostSet.use(hosts);
    await Promise.all(opening.map((listener) => listener.open()));
  }

  /** Adds a host (see setIcsHosts). */
  async addIcsHost(host: IcsHostOptions<C>): Promise<void> {
    return this.setIcsHosts([...(this.hostSet.currentTable() as IcsHostOptions<C>[]), host]);
  }

  /** Removes the host with this hostTag (see setIcsHosts). */
  async removeIcsHost(hostTag: string): Promise<void> {
    this.hostSet.byTag(hostTag);
    return this.setIcsHosts((this.hostSet.currentTable() as IcsHostOptions<C>[]).filter((h) => h.hostTag !== hostTag));
  }

  /** Enables or disables the host with this hostTag (see setIcsHosts). */
  async setIcsHostEnabled(hostTag: string, enabled: boolean): Promise<void> {
    this.hostSet.byTag(hostTag);
    return this.setIcsHosts((this.hostSet.currentTable() as IcsHostOptions<C>[]).map((h) => (h.hostTag === hostTag ? { ...h, hostEnabled: enabled } : h)));
  }

  /**
   * certAutoOrder (ICS OrderCert): orders the host's certificate now, whatever its expiry; resolves with the
   * new certificate, already serving new handshakes (connections open keep theirs).
   */
  renewCertificate(hostTag: string): Promise<IssuedCertificate> {
    const manager = this.hostSet.byTag(hostTag).certManager;
    if (!manager) return Promise.reject(icsError(Error, ICS_ERR.ACME_NOT_CONFIGURED, `${WHERE}: host ${JSON.stringify(hostTag)} has no certAutoOrder`));
    return manager.renewNow();
  }

  /** tls-alpn-01 checks answered with a challenge certificate on this server's TLS listeners. */
  get acmeChallengesAnswered(): number {
    return this.handshakes.acmeChallengesAnswered;
  }

  /**
   * certAutoOrder hosts: their certificate files ready (stored or stand-in) before their listeners open.
   * Without such hosts listen() awaits nothing first, so it starts opening at once (a close() right after it aborts it).
   */
  /** Opens listeners with `open`, after the certAutoOrder hosts' certificates are ready (if the server has any). */
  private withCertificates<T>(open: () => Promise<T>): Promise<T> {
    if (!this.hasAutoCertificates) return open();
    return this.prepareCertificates().then(open);
  }

  private get hasAutoCertificates(): boolean {
    return this.hostSet.hosts.some((host) => host.certManager);
  }

  private async prepareCertificates(): Promise<void> {
    const closes = this.listenerSet.closeCount;
    await this.autoCerts.start(this.hostSet.hosts);
    if (this.listenerSet.closeCount !== closes) throw icsError(Error, ICS_ERR.LISTEN_ABORTED, `${WHERE}: the server was closed before it was listening`);
  }

  /** The TLS stage reads ClientHellos first only on servers with a tls-alpn-01 certAutoOrder host. */
  private watchChallenges(hosts: readonly IcsHost[]): void {
    const tlsAlpn = hosts.some((host) => host.certManager?.options.challenge === 'tls-alpn-01');
    this.handshakes.acme = tlsAlpn ? this.autoCerts : undefined;
  }

  /** @internal A certAutoOrder host has a new certificate in its file: serve it from the next handshake on. */
  certificateIssued(host: IcsHost, certificate: IssuedCertificate): void {
    if (!this.hostSet.hosts.includes(host as IcsHost<C>)) return;
    host.sslContext?.reload(true);
    for (const listener of this.listenerSet.all) {
      if (listener.hosts?.hosts.includes(host)) listener.hosts.handshakeContext?.reload(true);
    }
    if (this.events.wanted('certificateIssued')) this.events.emit('certificateIssued', host.hostTag, certificate);
  }

  /** @internal */
  certificateOrderFailed(host: IcsHost, error: Error, retry: { failures: number; retryAt: Date }): void {
    if (this.events.wanted('certificateOrderFailed')) this.events.emit('certificateOrderFailed', host.hostTag, error, retry);
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
    this.hostSet.serve(listener, binding);
    return listener;
  }

  private startRecheckTimer(): void {
    if (this.recheckIntervalMs === 0 || this.recheckTimer || this.hostSet.hosts.length === 0) return;
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
    const tally = client[INFO].tally;
    if (tally) tally.aborts++;
    const gone = this.list.whenGone(client);
    client.abort();
    return gone;
  }

  async disconnectAll(): Promise<void> {
    await Promise.all(this.clients.map((client) => this.disconnect(client)));
  }

  // ---- the service (options.bus) --------------------------------------------------------

  /** What this server shares with the other nodes of its service: options.bus, or its own LocalBus. */
  get bus(): ServiceBus {
    return this.serviceBus;
  }

  /**
   * The room `name` of the service (made on first use, one per name per
   * server): members on every node, each under a key unique in the service,
   * and messages to all of them. A client of this server that is a member
   * leaves it by itself when it leaves the client list.
   */
  room(name: string): ServiceRoom {
    let room = this.rooms.get(name);
    if (room === undefined) {
      room = new ServiceRoom(name, this.serviceBus, {
        isGone: (member) => member instanceof TWSocketClient && !this.list.has(member),
        report: (error, member) => this.events.bgException(error, member instanceof TWSocketClient && this.list.has(member) ? (member as C) : undefined),
      });
      this.rooms.set(name, room);
      const joined = room;
      this.list.watch({ clientAdded: ignore, clientLeft: (client) => joined.leave(client as unknown as Parameters<ServiceRoom['leave']>[0]) });
    }
    return room;
  }

  /**
   * Clients across the service: the bus's count (every node's slots); this
   * server's own with a LocalBus, or when the bus fails (then as the bus
   * itself answers when down).
   */
  async serviceClientCount(): Promise<number> {
    let count = this.list.size;
    if (this.serviceSlots !== undefined) {
      try {
        count = await this.serviceBus.clientCount();
      } catch {
        count = this.list.size;
      }
    }
    this.lastServiceClients = count;
    return count;
  }

  /** The bus joins the service (once; again after a shutdown): a bus that fails to start leaves the server serving alone ('down'). */
  private startBus(): Promise<void> {
    if (this.busStart !== undefined) return this.busStart;
    this.serviceBus.on('status', this.onBusStatus);
    this.busStart = (async () => {
      try {
        await this.serviceBus.start();
        this.busStartError = '';
      } catch (error) {
        this.busStartFailures++;
        this.busStartError = error instanceof Error ? error.message : String(error);
        this.onBusStatus('down', `the bus could not start: ${this.busStartError}`);
      }
    })();
    return this.busStart;
  }

  private async stopBus(): Promise<void> {
    if (this.busStart === undefined) return;
    await this.busStart;
    this.busStart = undefined;
    try {
      await this.serviceBus.stop();
    } catch (error) {
      this.events.bgException(error, undefined);
    } finally {
      this.serviceBus.off('status', this.onBusStatus);
    }
  }

  private onBusStatus(status: ServiceBusStatus, reason: string): void {
    if (status === 'up') this.busStartError = '';
    if (this.events.wanted('serviceStatus')) this.events.emit('serviceStatus', status, reason);
  }

  /** stats().service: the bus's own figures, this server's slot stage and rooms. */
  private serviceStats(): ServiceStats {
    const bus = this.serviceBus.stats();
    const local = this.serviceSlots === undefined;
    const stats: ServiceStats = {
      ...bus,
      serviceClients: local ? this.list.size : this.lastServiceClients,
      slotsWaiting: this.serviceSlots?.waiting.size ?? 0,
      slotTimeouts: this.serviceSlots?.slotTimeouts ?? 0,
      slotErrors: this.serviceSlots?.slotErrors ?? 0,
      rooms: this.rooms.size,
      roomMessagesDropped: 0,
    };
    // With a LocalBus the server keeps its slots itself: its clients are the slots.
    if (local) stats.slots = this.list.size;
    if (this.busStartError !== '') {
      stats.status = 'down';
      stats.lastError = this.busStartError;
      stats.outages = Math.max(stats.outages, this.busStartFailures);
    }
    for (const room of this.rooms.values()) stats.roomMessagesDropped += room.dropped;
    return stats;
  }

  // ---- statistics and the admin listener -----------------------------------------------

  /**
   * A snapshot of the server (see ServerStats): totals, each listener, each
   * host, a row per client (the first `maxClients` when given). Costs one pass
   * over the clients when called; the counters behind it are kept in place by
   * the stages, with no allocation per connection.
   */
  stats(request: StatsRequest = {}): ServerStats {
    if (request === null || typeof request !== 'object') throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${WHERE}: stats() takes { maxClients }, got ${describe(request)}`);
    const limit = request.maxClients;
    if (limit !== undefined && (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0)) {
      throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `${WHERE}: stats() maxClients must be an integer >= 0, got ${describe(limit)}`);
    }
    return collectStats(
      {
        state: this.currentState,
        startedAt: this.startedAt,
        listeners: this.listenerSet.all,
        accepted: this.gate.accepted,
        refused: this.refuser.counts,
        handshakesDone: this.handshakes.done,
        handshakesFailed: this.handshakes.failures,
        clientsPeak: this.list.peak,
        bgExceptions: this.events.bgExceptions,
        clients: this.list.all,
        hosts: this.hostSet.hosts,
        lastRecheck: this.lastRecheck,
        idle: this.idleClock,
        service: this.serviceStats(),
      },
      request,
    );
  }

  /** The admin listener's address (`http://127.0.0.1:9323`) once open; '' when off or not open. */
  get adminUrl(): string {
    return this.admin?.url ?? '';
  }

  /** What the admin listener (or another front end) may ask of this server: a snapshot and four actions. */
  adminTarget(): AdminTarget {
    return {
      stats: (request) => this.stats(request),
      refreshService: async () => {
        await this.serviceClientCount();
      },
      disconnectClient: async (cliId) => {
        const client = this.list.all.find((c) => c.cliId === cliId);
        if (!client) return false;
        await this.disconnect(client);
        return true;
      },
      closeListener: (index) => this.closeListenSocket(index),
      openListener: (index) => this.openListenSocket(index),
      recheckCerts: (): RecheckOutcome => {
        const result = this.recheckSslCerts();
        return { reloaded: result.reloaded, failed: result.failed.map((f) => ({ hostTag: f.hostTag, error: f.error.message })) };
      },
    };
  }

  /**
   * Opens the admin listener if configured and not open yet (it outlives
   * close(), see options.admin). It is part of the configuration asked for:
   * when it cannot listen, the listeners are closed again (no half-started
   * server) and the error names it.
   */
  private async openAdmin(): Promise<void> {
    if (!this.admin || this.admin.port !== 0) return;
    try {
      await this.admin.listen();
    } catch (error) {
      this.listenerSet.closeAll();
      const err = error as NodeJS.ErrnoException;
      throw icsSystemError(ICS_ERR.LISTEN_FAILED, err.code, `${WHERE}: admin listener ${this.admin.options.addr}:${this.admin.options.port}: ${err.message}`, {
        cause: error,
      });
    }
  }

  // ---- internals ---------------------------------------------------------------------

  /** Runs a listen; an abort of `signal` meanwhile closes the listeners and rejects with an AbortError. */
  private async whileNotAborted<T>(signal: AbortSignal | undefined, work: () => Promise<T>): Promise<T> {
    if (signal === undefined) return work();
    if (!(signal instanceof AbortSignal)) throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${WHERE}: option signal must be an AbortSignal, got ${describe(signal)}`);
    signal.throwIfAborted();
    const onAbort = () => this.listenerSet.closeAll();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await work();
    } catch (error) {
      if (signal.aborted) throw abortError(signal);
      throw error;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

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
      throw icsError(TypeError, icsCodeOf(error, ICS_ERR.INVALID_CLIENT_CLASS), `${WHERE}: ${(error as Error).message}`, { cause: error });
    }
    if (!isClientClass(cls)) {
      throw icsError(TypeError, ICS_ERR.INVALID_CLIENT_CLASS, `${WHERE}: option ${option}: ${cls.name || 'the class'} does not extend TWSocketClient`);
    }
    const problem = injectionProblem(cls, this.serverContainer);
    if (problem) throw icsError(TypeError, ICS_ERR.NO_INJECTION_METADATA, `${WHERE}: option ${option}: ${problem}`);
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
        clientDefaults: this.clientDefaults,
        resolveClientClass: (ref, option) => this.checkClientClass(ref as ClientClassRef<C>, option),
      },
      WHERE,
    );
    return this.newListener(spec);
  }

  private newListener(spec: ListenerSpec): Listener {
    if (!('clientDefaults' in spec)) spec.clientDefaults = this.clientDefaults;
    if (this.reusePort) spec.reusePort = true;
    return new Listener(spec, this.gate, this.events, spec.policy ?? this.policy);
  }
}

function checkRegistry(registry: unknown): ClientClassRegistry {
  // Duck-typed, like the container: a second copy of this package has its own class.
  const candidate = registry as Partial<ClientClassRegistry> | null;
  if (typeof candidate !== 'object' || candidate === null || typeof candidate.resolve !== 'function') {
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${WHERE}: option registry must be a ClientClassRegistry, got ${describe(registry)}`);
  }
  return candidate as ClientClassRegistry;
}

function checkContainer(parent: unknown): DependencyContainer {
  const candidate = parent as Partial<DependencyContainer> | null;
  if (typeof candidate !== 'object' || candidate === null || typeof candidate.createChildContainer !== 'function') {
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${WHERE}: option container must be a tsyringe DependencyContainer, got ${describe(parent)}`);
  }
  return candidate as DependencyContainer;
}

function ignore(): void {}

function certificateSink(server: TWSocketServer): AutoCertificateSink {
  return server as unknown as AutoCertificateSink;
}

/** The admin listener, its option errors named like the server's other options. */
function newAdminServer(target: AdminTarget, options: unknown): AdminServer {
  try {
    return new AdminServer(target, options as ConstructorParameters<typeof AdminServer>[1]);
  } catch (error) {
    if (error instanceof RangeError) throw icsError(RangeError, icsCodeOf(error, ICS_ERR.OPTION_OUT_OF_RANGE), `${WHERE}: option ${error.message}`);
    if (error instanceof TypeError) throw icsError(TypeError, icsCodeOf(error, ICS_ERR.INVALID_OPTION), `${WHERE}: option ${error.message}`);
    throw error;
  }
}

function recheckLater(server: TWSocketServer): void {
  server.recheckSslCerts();
}

/** listen() and multiListenEx() options. */
export interface ListenOptions {
  /** Aborting it stops a listen under way: the listeners are closed and the call rejects with an AbortError. */
  signal?: AbortSignal;
}

/** shutdown() options. */
export interface ShutdownOptions {
  /** Milliseconds the graceful part may take; then what is still open is aborted. Default 5000. */
  timeout?: number;
  /** Sent to every client by the default `onShutdown` (with its lineEnd), e.g. '421 Service shutting down'. Default none. */
  notice?: string;
  /** Aborting it cuts the graceful part short: what is still open is aborted at once. */
  signal?: AbortSignal;
}

/** What shutdown() did. */
export interface ShutdownResult {
  /** Clients connected when it began. */
  clients: number;
  /** Of them, those that closed within the timeout. */
  closed: number;
  /** Of them, those still open at the timeout (or the abort), aborted. */
  aborted: number;
}

function checkShutdownOptions(options: number | ShutdownOptions): Required<Omit<ShutdownOptions, 'signal' | 'notice'>> & ShutdownOptions {
  if (typeof options === 'number') return { timeout: checkMs(options, WHERE, 'shutdown timeout') };
  if (options === null || typeof options !== 'object') {
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${WHERE}: shutdown options must be an object or a timeout in ms, got ${describe(options)}`);
  }
  const timeout = checkMs(options.timeout ?? 5000, WHERE, 'shutdown timeout');
  const notice = options.notice === undefined ? undefined : checkString(options.notice, WHERE, 'shutdown notice');
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${WHERE}: shutdown option signal must be an AbortSignal, got ${describe(options.signal)}`);
  }
  return { timeout, notice, signal: options.signal };
}

function abortError(signal: AbortSignal): Error {
  // Node's AbortError convention: name AbortError, code ABORT_ERR; the catalog code in icsCode.
  const error = icsSystemError(ICS_ERR.LISTEN_ABORTED, 'ABORT_ERR', `${WHERE}: listen aborted`, { cause: signal.reason });
  error.name = 'AbortError';
  return error;
}

function whenClosed(socket: net.Socket): Promise<void> {
  if (socket.closed) return Promise.resolve();
  return new Promise((resolve) => socket.once('close', () => resolve()));
}
