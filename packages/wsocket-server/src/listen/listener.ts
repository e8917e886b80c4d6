import * as fs from 'node:fs';
import * as net from 'node:net';
import type { ListenerPolicy } from '../admission/policy';
import { RefusalCounts, newRefusalCounts } from '../admission/refusals';
import { TrafficTally } from '../stats/traffic-tally';
import type { TSslContext } from '@ics-ts/ssl-context';
import type { WSocketDefaults } from '@ics-ts/wsocket';
import type { ClientConstructor } from '../clients/client-registry';
import type { SniSelector } from '../hosts/host-table';
import type { IcsHost } from '../hosts/ics-host';
import type { SocketFamily } from '../options/server-options';
import { ICS_ERR, icsError, icsSystemError } from '@ics-ts/wsocket';

export type ListenerState = 'closed' | 'listening' | 'failed';

/** Where a listener hands each accepted socket: the admission gate. */
export interface ConnectionSink {
  accept(socket: net.Socket, listener: Listener): void;
}

/** Where a listener reports a failure after it started (the server's `error` event). */
export interface ListenerErrorSink {
  listenerError(url: string, error: Error): void;
}

export interface ListenerSpec {
  /** -1 for the server's main addr/port, else the multiListenSockets index. */
  index: number;
  addr: string;
  /** The port as asked (0 = the system picks one). */
  port: number;
  socketFamily: SocketFamily;
  ipv6Only: boolean;
  listenBacklog: number;
  /** Serve TLS: every connection is handshaken with `sslContext` before it is a client. */
  sslEnable: boolean;
  sslContext?: TSslContext;
  /** This listener's own client class; the server's when undefined. */
  clientClass?: ClientConstructor;
  /** Connection-life defaults handed to every client accepted here (frozen, one object); undefined: the TWSocket defaults. */
  clientDefaults?: WSocketDefaults;
  /** This listener's admission policy, when it sets its own (a multiListenSockets item). */
  policy?: ListenerPolicy;
  /** Bind with SO_REUSEPORT (`exclusive` too, so cluster workers each bind their own socket); checked by the server. */
  reusePort?: boolean;
}

/** The hosts of an icsHosts binding served by a listener (replaced when the table changes). */
export interface ListenerHosts {
  /** `addr|port|tls`, the binding's identity across table changes. */
  key: string;
  /** Enabled hosts bound here, the default first. */
  hosts: IcsHost[];
  /** On a TLS binding: the host for a server name. */
  sni: SniSelector | undefined;
  /**
   * On a TLS binding where a host accepts an older TLS version than the
   * default host (tls13Only first, TLS 1.2 hosts after it): the default host's
   * identity and settings with that lower floor. OpenSSL negotiates the
   * version with the context a handshake starts with (switching context on SNI
   * comes too late to change it), so the default host's floor would lock the
   * older clients of the other hosts out; each host's own range is enforced
   * once the handshake is done.
   */
  handshakeContext?: TSslContext;
}

/** A listener as a person reads it (ICS ListenStates). */
export interface ListenerStatus {
  index: number;
  addr: string;
  /** The port as asked. */
  port: number;
  /** The port bound, 0 when not listening. */
  bindPort: number;
  tls: boolean;
  state: ListenerState;
  lastError?: string;
}

const OWNER = Symbol('ics-ts.listener');
type OwnedServer = net.Server & { [OWNER]?: Listener };

/** One listening socket (one address and port): opens, accepts, reports, closes. */
export class Listener {
  private netServer: OwnedServer | undefined;
  private currentState: ListenerState = 'closed';
  private boundPort = 0;
  /** The bound address when it is one address (not 0.0.0.0 or ::): every connection's local address. */
  private boundAddr = '';
  private error: Error | undefined;
  private opening: { abort(): void } | undefined;
  /** Out of file descriptors was reported; not again until a descriptor could be had. */
  private starved = false;
  private lastProbe = 0;
  /** @internal */
  probeTimer: NodeJS.Timeout | undefined;

  /** Set when the listener serves icsHosts bindings. */
  hosts: ListenerHosts | undefined;
  /** Allow/deny, per-address limit and accept filter for connections here (the server's unless overridden). */
  policy: ListenerPolicy;
  /** Connections accepted here. */
  accepted = 0;
  /** Connections refused here, by reason. */
  readonly refusals: RefusalCounts = newRefusalCounts();
  /** What became of the connections admitted here (stats()). */
  readonly tally = new TrafficTally();

  /**
   * An icsHosts binding that no host uses any more (setIcsHosts dropped it):
   * closed, and kept only so listener indexes stay put; listen() skips it.
   */
  get retired(): boolean {
    return this.hosts !== undefined && this.hosts.hosts.length === 0;
  }

  /** The context a handshake starts with: the default host's, or the listener's. */
  tlsContext(): TSslContext | undefined {
    if (!this.spec.sslEnable) return undefined;
    return this.hosts?.handshakeContext ?? this.hosts?.sni?.defaultHost?.sslContext ?? this.spec.sslContext;
  }

  constructor(
    readonly spec: ListenerSpec,
    private readonly sink: ConnectionSink,
    private readonly errors: ListenerErrorSink,
    policy: ListenerPolicy,
  ) {
    this.policy = policy;
  }

  get index(): number {
    return this.spec.index;
  }

  get state(): ListenerState {
    return this.currentState;
  }

  /** The port actually bound (the real one when 0 was asked); 0 when not listening. */
  get bindPort(): number {
    return this.boundPort;
  }

  /**
   * A connection's local address: the listener's own when it is bound to one
   * address, so no system call is needed; else the system's answer.
   */
  localAddrOf(socket: net.Socket): string {
    return this.boundAddr || (socket.localAddress ?? '');
  }

  localPortOf(socket: net.Socket): number {
    return this.boundAddr ? this.boundPort : socket.localPort ?? 0;
  }

  get lastError(): Error | undefined {
    return this.error;
  }

  /** `tcp://127.0.0.1:2323`, `tls://[::1]:2324` */
  get url(): string {
    const host = net.isIPv6(this.spec.addr) ? `[${this.spec.addr}]` : this.spec.addr;
    return `${this.spec.sslEnable ? 'tls' : 'tcp'}://${host}:${this.boundPort || this.spec.port}`;
  }

  get status(): ListenerStatus {
    const { index, addr, port, sslEnable } = this.spec;
    const status: ListenerStatus = { index, addr, port, bindPort: this.boundPort, tls: sslEnable, state: this.currentState };
    if (this.error) status.lastError = this.error.message;
    return status;
  }

  /**
   * Starts listening. Rejects when already opening (a second concurrent call),
   * or when `close()` is called before the socket is listening.
   */
  open(): Promise<void> {
    if (this.currentState === 'listening') return Promise.resolve();
    if (this.opening) return Promise.reject(icsError(Error, ICS_ERR.LISTEN_IN_PROGRESS, `listen on ${this.url}: already opening`));
    const server: OwnedServer = net.createServer({ allowHalfOpen: true });
    server[OWNER] = this;
    server.on('connection', onConnection);
    const { addr, port, listenBacklog, ipv6Only, reusePort } = this.spec;
    return new Promise((resolve, reject) => {
      const onStartError = (err: NodeJS.ErrnoException) => {
        this.opening = undefined;
        server.removeListener('listening', onListening);
        server.close();
        const error = listenError(err, this.url);
        this.error = error;
        this.currentState = 'failed';
        reject(error);
      };
      const onListening = () => {
        this.opening = undefined;
        server.removeListener('error', onStartError);
        server.on('error', onRunError);
        this.netServer = server;
        const bound = server.address() as net.AddressInfo;
        this.boundPort = bound.port;
        this.boundAddr = bound.address === '0.0.0.0' || bound.address === '::' ? '' : bound.address;
        this.error = undefined;
        this.currentState = 'listening';
        resolve();
      };
      // close() while the listen is under way: Node would still bind after its
      // (asynchronous) address lookup, so wait for the outcome, close, then reject.
      const abort = () => {
        this.opening = undefined;
        const error = icsError(Error, ICS_ERR.LISTEN_ABORTED, `listen on ${this.url} aborted: closed before it was listening`);
        server.removeListener('error', onStartError);
        server.removeListener('listening', onListening);
        server.removeListener('connection', onConnection);
        const settle = () => {
          server.removeListener('error', settle);
          server.removeListener('listening', onLateListening);
          reject(error);
        };
        const onLateListening = () => {
          server.removeListener('error', settle);
          server.close(() => reject(error));
        };
        server.once('error', settle);
        server.once('listening', onLateListening);
      };
      this.opening = { abort };
      server.once('error', onStartError);
      server.once('listening', onListening);
      const options: net.ListenOptions & { reusePort?: boolean } = { host: addr, port, backlog: listenBacklog, ipv6Only: ipv6Only || undefined };
      // Each process its own socket (exclusive: no handle shared through the cluster primary), the kernel spreading connections.
      if (reusePort) Object.assign(options, { reusePort: true, exclusive: true });
      server.listen(options);
    });
  }

  /** Stops accepting (or a listen under way); connections already accepted are not touched. */
  close(): void {
    this.opening?.abort();
    const server = this.netServer;
    this.netServer = undefined;
    this.boundPort = 0;
    if (this.currentState === 'listening') this.currentState = 'closed';
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
    if (server) server.close();
  }

  /** @internal */
  handleConnection(socket: net.Socket): void {
    this.sink.accept(socket, this);
    // This connection may have taken the last descriptor. libuv then sheds the
    // next connections itself (accepts and closes them: its EMFILE "trick")
    // and tells nobody, so Node's 'error' never comes: look for ourselves.
    // At most one probe per PROBE_INTERVAL_MS while things go well (a probe is an
    // open and a close): a skipped one runs from one timer, since after the last
    // descriptor is gone no accept will come to run it.
    if (!this.starved && Date.now() - this.lastProbe < PROBE_INTERVAL_MS) {
      if (!this.probeTimer) {
        this.probeTimer = setTimeout(probeLater, PROBE_INTERVAL_MS, this);
        this.probeTimer.unref();
      }
      return;
    }
    this.probeDescriptors();
  }

  /** @internal */
  probeDescriptors(): void {
    this.lastProbe = Date.now();
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
    const shortage = descriptorShortage();
    if (shortage) this.handleRunError(shortage);
    else this.starved = false;
  }

  /** @internal */
  handleRunError(error: Error): void {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EMFILE' || code === 'ENFILE') {
      if (this.starved) return; // one report per shortage, not one per connection
      this.starved = true;
    }
    this.error = error;
    this.errors.listenerError(this.url, error);
  }
}

function onConnection(this: OwnedServer, socket: net.Socket): void {
  this[OWNER]?.handleConnection(socket);
}

function probeLater(listener: Listener): void {
  listener.probeTimer = undefined;
  if (listener.state === 'listening') listener.probeDescriptors();
}

function onRunError(this: OwnedServer, error: Error): void {
  this[OWNER]?.handleRunError(error);
}

/** How often the descriptor probe runs while no shortage is seen. */
const PROBE_INTERVAL_MS = 20;

/** What the descriptor probe opens; undefined where probing is off (Windows, or no /dev/null). */
let probePath: string | undefined = process.platform === 'win32' ? undefined : '/dev/null';

/**
 * Whether the process is out of file descriptors: an `accept` EMFILE/ENFILE
 * error when it is, undefined when a descriptor can still be had. One open and
 * one close of /dev/null, about 2-3 µs.
 */
function descriptorShortage(): NodeJS.ErrnoException | undefined {
  if (probePath === undefined) return undefined;
  try {
    fs.closeSync(fs.openSync(probePath, 'r'));
    return undefined;
  } catch (err) {
    const probe = err as NodeJS.ErrnoException;
    if (probe.code !== 'EMFILE' && probe.code !== 'ENFILE') {
      probePath = undefined; // the probe itself cannot work here: stop rather than fail every accept
      return undefined;
    }
    const what = probe.code === 'EMFILE' ? 'too many open files in this process' : 'too many open files in the system';
    const error = icsSystemError(
      ICS_ERR.LISTENER_FAILED,
      probe.code,
      `accept ${probe.code}: ${what}; new connections are dropped until descriptors are free again`,
      { cause: probe },
    );
    error.errno = probe.errno;
    error.syscall = 'accept';
    return error;
  }
}

const REASONS: Record<string, string> = {
  EADDRINUSE: 'address already in use (another server is listening there)',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'address not available on this machine',
  EAFNOSUPPORT: 'address family not supported',
};

/** An error that names the address and port, keeping the system code (`err.code`). */
function listenError(err: NodeJS.ErrnoException, url: string): NodeJS.ErrnoException {
  const code = err.code ?? 'ERROR';
  const error = icsSystemError(ICS_ERR.LISTEN_FAILED, err.code, `listen on ${url} failed: ${code}, ${REASONS[code] ?? err.message}`, {
    cause: err,
  });
  error.errno = err.errno;
  error.syscall = err.syscall;
  return error;
}
