import * as net from 'node:net';
import { MAX_TIMER_MS, describe, validateWSocketDefaults, ICS_ERR, icsError, icsCodeOf } from '@ics-ts/wsocket';
import type { WSocketDefaults } from '@ics-ts/wsocket';
import { SslContextOptions, TSslContext } from '@ics-ts/ssl-context';
import type { DependencyContainer } from 'tsyringe';
import type { ClientClassRef, ClientClassRegistry } from '../clients/client-registry';
import type { SniPolicy } from '../hosts/host-table';
import type { IcsHostOptions } from '../hosts/ics-host';
import type { MultiListenItem } from './multi-listen-options';
import type { AdminOptions } from '../stats/admin-options';
import type { ListenerAdmissionOptions } from './admission-options';
import { servicePort } from './service-port';
import type { TWSocketClient } from '../clients/wsocket-client';
import type { ServiceBus } from '../service/service-bus';

export type SocketFamily = 'any' | 'ipv4' | 'ipv6';

/**
 * TWSocketServer options: plain, JSON-friendly (but for `container`,
 * `registry` and a class given as `clientClass`), the same keys in code and in
 * a config file. Defaults are in SERVER_DEFAULTS.
 */
export interface WSocketServerOptions<C extends TWSocketClient = TWSocketClient> extends ListenerAdmissionOptions {
  /** Address to listen on, an IP literal: '0.0.0.0', '::', '127.0.0.1', '::1'. Default '0.0.0.0'. */
  addr?: string;
  /** Port number, numeric string or service name ('telnet'); 0 = the system picks one. Default 0. */
  port?: number | string;
  /** 'ipv4', 'ipv6' or 'any'; derived from addr when it is not given. */
  socketFamily?: SocketFamily;
  /** With an IPv6 addr ('::'), do not also accept IPv4 (so 0.0.0.0 can listen on the same port). Default false. */
  ipv6Only?: boolean;
  /** Pending connections the system queues before refusing. Default 511 (ICS: 15). */
  listenBacklog?: number;
  /** TWSocketClient subclass, or the name it was registered under. Default TWSocketClient. */
  clientClass?: ClientClassRef<C>;
  /** Line sent to each new client after clientConnect; '' sends nothing. Default ''. */
  banner?: string;
  /** Line sent to a connection over maxClients before it is closed. Default 'Sorry, too many clients'. */
  bannerTooBusy?: string;
  /** Line end for bannerTooBusy (the client class is not instantiated for a rejected connection). Default CRLF. */
  lineEnd?: string;
  /** Most clients served at once; 0 = no limit. Default 0. */
  maxClients?: number;
  /** Line sent instead of bannerTooBusy to a connection over maxClientsPerIp. Default: bannerTooBusy. */
  bannerTooBusyPerIp?: string;
  /**
   * Every socket the server may hold at once: clients, TLS handshakes in
   * progress, busy peers being turned away. Beyond it a new socket is
   * destroyed at once (no byte sent), so a flood cannot make the server hold
   * unbounded sockets; 0 = no limit. Default 0.
   */
  maxConnections?: number;
  /** TLS handshakes in progress at once; beyond it a new TLS connection is closed before any TLS work. 0 = no limit. Default 0. */
  maxHandshakes?: number;
  /** TLS handshakes in progress from one address (an IPv6 /64 as one); 0 = no limit. Default 0. */
  maxHandshakesPerIp?: number;
  /** Milliseconds a rejected (too busy) connection may take to close before it is destroyed. Default 5000. */
  tooBusyCloseTimeout?: number;
  /** Extra listeners beside addr/port (ICS MultiListenSockets). Default none. */
  multiListenSockets?: MultiListenItem<C>[];
  /** Serve TLS on addr/port. Default false. */
  sslEnable?: boolean;
  /** TLS identity and settings: a TSslContext or its options; the default for TLS listeners. */
  sslContext?: TSslContext | SslContextOptions;
  /**
   * Milliseconds the whole TLS handshake may take before the peer is dropped (a
   * deadline from the accept, not an idle timer: a peer dribbling bytes does not
   * extend it; enforced within a quarter of the value); 0 = no limit. Default 10000.
   */
  sslHandshakeTimeout?: number;
  /**
   * TLS (and plain) hosts (ICS IcsHosts): the listeners are built from their
   * bindings, and TLS listeners pick the host by SNI. Excludes addr, port,
   * socketFamily, ipv6Only, multiListenSockets, sslEnable and sslContext.
   */
  icsHosts?: IcsHostOptions<C>[];
  /** A TLS server name that matches no host: serve the listener's default host, or refuse. Default 'default'. */
  sniUnknown?: SniPolicy;
  /** A TLS client that sends no server name: serve the default host, or refuse. Default 'default'. */
  sniMissing?: SniPolicy;
  /** Milliseconds between automatic recheckSslCerts() while listening; 0 = never. Default 0. */
  sslCertRecheckInterval?: number;
  /** Where client classes and their services are resolved (the server makes a child of it). Default: tsyringe's global container, read only. */
  container?: DependencyContainer;
  /**
   * A child container per connection, so tsyringe `Lifecycle.ContainerScoped`
   * services are one per connection. Off by default: client classes are
   * resolved in the server's container, `ConnectionInfo` injected per
   * resolve; a container per connection costs CPU and memory (docs/performance.md).
   */
  connectionContainer?: boolean;
  /**
   * Connection-life defaults for every client (docs/hardening.md): `idleTimeout`, `lineTimeout`,
   * `sendHighWater`, `sendLimit`, the read rate, `closeTimeout`, line options... Each applies to the
   * options a client class did not set itself; a multiListenSockets item may set its own on top.
   * Default: the TWSocket defaults.
   */
  clientDefaults?: WSocketDefaults;
  /** Where client class names are looked up. Default: the shared clientClassRegistry. */
  registry?: ClientClassRegistry;
  /**
   * The admin HTTP listener (/metrics, /stats, the status page, token-gated
   * actions): `{ addr, port, token }`, loopback by default; opened by the first
   * listen, closed by shutdown (not by close(), so a closed server can be
   * reopened from it). Off unless given. See docs/operating.md.
   */
  admin?: AdminOptions;
  /**
   * What this server shares with the other nodes of its service (client
   * slots, room messages, presence): a ServiceBus such as the cluster or Redis
   * bus, or a HubBus on a ServiceHub shared in this process. Started by the
   * first listen, stopped at the end of shutdown(). Default: a LocalBus (the
   * server is a service of its own; its slots stay synchronous).
   */
  bus?: ServiceBus;
  /**
   * With a shared bus: milliseconds a connection may wait for the bus's slot
   * verdict; past it, it is admitted on this server's own limits (counted in
   * stats().service.slotTimeouts). 0 = no limit. Default 2000.
   */
  serviceSlotTimeout?: number;
  /**
   * Listen with SO_REUSEPORT (and `exclusive`), so several processes (cluster
   * workers) each bind their own socket on the same address and port and the
   * kernel spreads connections among them. Node >= 22.12 on Linux (and the
   * BSDs); a clear error on an older Node. Applies to every listener. Default false.
   */
  reusePort?: boolean;
}

export const SERVER_DEFAULTS = {
  addr: '0.0.0.0',
  port: 0,
  ipv6Only: false,
  listenBacklog: 511,
  banner: '',
  bannerTooBusy: 'Sorry, too many clients',
  lineEnd: '\r\n',
  maxClients: 0,
  maxClientsPerIp: 0,
  maxConnections: 0,
  maxHandshakes: 0,
  maxHandshakesPerIp: 0,
  tooBusyCloseTimeout: 5000,
  sslEnable: false,
  sslHandshakeTimeout: 10000,
  serviceSlotTimeout: 2000,
  reusePort: false,
} as const;

const KNOWN_KEYS = new Set([
  'addr', 'port', 'socketFamily', 'ipv6Only', 'listenBacklog', 'clientClass', 'banner', 'bannerTooBusy',
  'lineEnd', 'maxClients', 'tooBusyCloseTimeout', 'container', 'connectionContainer', 'registry', 'multiListenSockets', 'sslEnable',
  'sslContext', 'sslHandshakeTimeout', 'icsHosts', 'sniUnknown', 'sniMissing', 'sslCertRecheckInterval',
  'clientDefaults', 'bannerTooBusyPerIp', 'maxConnections', 'maxHandshakes', 'maxHandshakesPerIp', 'allow', 'deny', 'maxClientsPerIp', 'acceptFilter',
  'proxyProtocol', 'trustedProxies', 'proxyHeaderTimeout', 'proxyHeaderMaxBytes',
  'admin', 'bus', 'serviceSlotTimeout', 'reusePort',
]);

/** Options the host table replaces: giving one of them with icsHosts is a mistake. */
export const LISTENER_KEYS = ['addr', 'port', 'socketFamily', 'ipv6Only', 'multiListenSockets', 'sslEnable', 'sslContext'] as const;

export function checkSniPolicy(value: unknown, where: string, option: string): SniPolicy {
  if (value !== 'default' && value !== 'refuse') {
    fail('type', where, `option ${option} must be 'default' or 'refuse', got ${describe(value)}`);
  }
  return value;
}

/** An option's failure, thrown as `TypeError` or `RangeError` with the option and value named. */
function fail(kind: 'type' | 'range', where: string, message: string): never {
  const text = `${where}: ${message}`;
  throw kind === 'range' ? icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, text) : icsError(TypeError, ICS_ERR.INVALID_OPTION, text);
}

/** Resolves a port option (number, numeric string, service name) to a number in 0..65535. */
export function resolvePort(value: unknown, where: string, option = 'port'): number {
  let port: number | undefined;
  if (typeof value === 'number') port = value;
  else if (typeof value === 'string' && /^\d+$/.test(value.trim())) port = Number(value.trim());
  else if (typeof value === 'string' && value.trim() !== '') {
    port = servicePort(value.trim());
    if (port === undefined) fail('type', where, `option ${option}: unknown service name ${describe(value)}`);
  } else fail('type', where, `option ${option} must be a port number or a service name, got ${describe(value)}`);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    fail('range', where, `option ${option} must be an integer in 0..65535, got ${describe(value)}`);
  }
  return port;
}

/** Checks an IP literal listen address against socketFamily; returns the family to use. */
export function resolveAddress(addr: unknown, family: unknown, where: string, prefix = ''): SocketFamily {
  if (typeof addr !== 'string' || net.isIP(addr) === 0) {
    fail('type', where, `option ${prefix}addr must be an IPv4 or IPv6 address literal, got ${describe(addr)}`);
  }
  const ipFamily: SocketFamily = net.isIPv6(addr) ? 'ipv6' : 'ipv4';
  if (family === undefined) return ipFamily;
  if (family !== 'any' && family !== 'ipv4' && family !== 'ipv6') {
    fail('type', where, `option ${prefix}socketFamily must be 'any', 'ipv4' or 'ipv6', got ${describe(family)}`);
  }
  if (family !== 'any' && family !== ipFamily) {
    fail('type', where, `option ${prefix}socketFamily is ${describe(family)} but addr ${describe(addr)} is ${ipFamily}`);
  }
  return ipFamily;
}

export function checkBacklog(value: unknown, where: string, prefix = ''): number {
  if (!Number.isInteger(value) || (value as number) < 0) {
    fail('range', where, `option ${prefix}listenBacklog must be an integer >= 0, got ${describe(value)}`);
  }
  return value as number;
}

/** A delay in ms (0 = none or the default named in the option's doc), within what a Node timer holds. */
export function checkMs(value: unknown, where: string, option: string): number {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > MAX_TIMER_MS) {
    fail('range', where, `option ${option} must be an integer number of ms from 0 to ${MAX_TIMER_MS}, got ${describe(value)}`);
  }
  return value as number;
}

export function checkCount(value: unknown, where: string, option: string): number {
  if (!Number.isInteger(value) || (value as number) < 0) {
    fail('range', where, `option ${option} must be an integer >= 0, got ${describe(value)}`);
  }
  return value as number;
}

export function checkString(value: unknown, where: string, option: string): string {
  if (typeof value !== 'string') fail('type', where, `option ${option} must be a string, got ${describe(value)}`);
  return value;
}

export function checkBoolean(value: unknown, where: string, option: string): boolean {
  if (typeof value !== 'boolean') fail('type', where, `option ${option} must be a boolean, got ${describe(value)}`);
  return value;
}

/** Unknown keys are a typo more often than not: name them. */
export function checkKnownKeys(options: object, where: string): void {
  for (const key of Object.keys(options)) {
    if (!KNOWN_KEYS.has(key)) fail('type', where, `unknown option ${describe(key)}`);
  }
}

/** A TSslContext as given, or built from its options; errors name the option. */
export function resolveSslContext(value: unknown, where: string, option: string): TSslContext | undefined {
  if (value === undefined) return undefined;
  if (value instanceof TSslContext) return value;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    fail('type', where, `option ${option} must be a TSslContext or its options, got ${describe(value)}`);
  }
  try {
    return new TSslContext(value as SslContextOptions);
  } catch (err) {
    const error = err as Error;
    const message = `${where}: option ${option}: ${error.message.replace(/^TSslContext: /, '')}`;
    if (error instanceof RangeError) throw icsError(RangeError, icsCodeOf(error, ICS_ERR.OPTION_OUT_OF_RANGE), message, { cause: err });
    if (error instanceof TypeError) throw icsError(TypeError, icsCodeOf(error, ICS_ERR.INVALID_OPTION), message, { cause: err });
    throw icsError(Error, icsCodeOf(error, ICS_ERR.CERTIFICATE), message, { cause: err });
  }
}

/** A clientDefaults option, checked (TWSocket's own validation, naming the option), merged over `base`, frozen: one object per listener. */
export function resolveClientDefaults(value: unknown, base: WSocketDefaults | undefined, where: string, option: string): WSocketDefaults | undefined {
  if (value === undefined) return base;
  validateWSocketDefaults(value as WSocketDefaults, `${where}: option ${option}`);
  const merged = Object.freeze({ ...base, ...(value as WSocketDefaults) });
  validateWSocketDefaults(merged, `${where}: option ${option}`);
  return merged;
}

/** The ServiceBus methods a `bus` option must have (the contract's, see service-bus.ts). */
const BUS_METHODS = [
  'start', 'stop', 'reserveSlot', 'releaseSlot', 'clientCount', 'publish', 'subscribe', 'claim', 'release', 'entries', 'on', 'off', 'stats',
] as const;

/** A `bus` option: an object with a nodeId and the ServiceBus methods (duck-typed: another copy of a bus package has its own classes). */
export function checkBus(value: unknown, where: string): ServiceBus {
  if (value === null || typeof value !== 'object') fail('type', where, `option bus must be a ServiceBus, got ${describe(value)}`);
  const candidate = value as Record<string, unknown>;
  const missing = BUS_METHODS.filter((name) => typeof candidate[name] !== 'function');
  if (missing.length > 0) fail('type', where, `option bus must be a ServiceBus: it has no ${missing.join(', ')} method, got ${describe(value)}`);
  if (typeof candidate.nodeId !== 'string' || candidate.nodeId === '') fail('type', where, `option bus must be a ServiceBus with a nodeId string, got nodeId ${describe(candidate.nodeId)}`);
  return value as ServiceBus;
}

/** The first Node with `reusePort` in net listen options. */
export const REUSE_PORT_MIN_NODE = '22.12.0';

/** Whether this Node's net module can listen with reusePort. */
export function reusePortSupported(version = process.versions.node): boolean {
  const [major, minor] = version.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 12);
}

/** A `reusePort` option: a boolean, and true only on a Node that has it. */
export function checkReusePort(value: unknown, where: string, option = 'reusePort'): boolean {
  const on = checkBoolean(value, where, option);
  if (on && !reusePortSupported()) {
    fail('type', where, `option ${option} needs Node >= ${REUSE_PORT_MIN_NODE} (net listen reusePort); this is Node ${process.versions.node}`);
  }
  return on;
}
