import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { createDevCertificate } from '@ics-ts/ssl-context';
import { MAX_TIMER_MS, describe, ICS_ERR, type IcsErrorCode } from '@ics-ts/wsocket';
import { resolvePort } from '@ics-ts/wsocket-server';
import type { AdminOptions, IcsHostOptions, MultiListenItem, SniPolicy, SocketFamily, WSocketServerOptions } from '@ics-ts/wsocket-server';
import type { SslContextOptions } from '@ics-ts/ssl-context';
import type { RedisBusOptions } from '@ics-ts/redis-bus';

/**
 * The JSON config of `ics-ts-server`: TWSocketServer options, the same keys as
 * in code, with the client class given by its registered name.
 */
export interface ServerConfig {
  addr?: string;
  port?: number | string;
  socketFamily?: SocketFamily;
  ipv6Only?: boolean;
  listenBacklog?: number;
  clientClass?: string;
  banner?: string;
  bannerTooBusy?: string;
  lineEnd?: string;
  maxClients?: number;
  tooBusyCloseTimeout?: number;
  /** Extra listeners; each may name its own clientClass and sslEnable. Checked by the server. */
  multiListenSockets?: MultiListenItem[];
  sslEnable?: boolean;
  /** TLS identity: TSslContext options, or (CLI only) `devCertificate` to generate one at start. */
  sslContext?: ConfigSslContext;
  sslHandshakeTimeout?: number;
  /** "strict" (default): all listeners or none; "lenient": serve on those that open, report the others. */
  listenPolicy?: 'strict' | 'lenient';
  /** TWSocket options for every client (idleTimeout, lineTimeout, sendLimit, read rates...): docs/hardening.md. */
  clientDefaults?: WSocketServerOptions['clientDefaults'];
  /** CLI only: ms the graceful shutdown at the first SIGINT/SIGTERM may take before what is open is aborted. Default 10000. */
  shutdownTimeout?: number;
  /** CLI only: the line every client is sent at shutdown (the chat says it its own way). Default none. */
  shutdownNotice?: string;
  /** TLS and plain hosts; each may carry `devCertificate` instead of sslCert/sslKey. Checked by the server. */
  icsHosts?: ConfigIcsHost[];
  sniUnknown?: SniPolicy;
  sniMissing?: SniPolicy;
  sslCertRecheckInterval?: number;
  /** The admin HTTP listener (/metrics, /stats, status page): { addr, port, token }. Checked by the server. */
  admin?: AdminOptions;
  /** Admission (docs/admission.md); the server checks the address lists. */
  allow?: string[];
  deny?: string[];
  maxClientsPerIp?: number;
  bannerTooBusyPerIp?: string;
  maxConnections?: number;
  maxHandshakes?: number;
  maxHandshakesPerIp?: number;
  /** Behind a load balancer: read its PROXY header ('v1', 'v2', 'auto'; default 'off'). Needs trustedProxies. */
  proxyProtocol?: 'off' | 'v1' | 'v2' | 'auto';
  /** The balancers' addresses or CIDR blocks, or ["*"] to trust every peer. Checked by the server. */
  trustedProxies?: string[];
  proxyHeaderTimeout?: number;
  proxyHeaderMaxBytes?: number;
  /** With workers or redis: ms a connection may wait for its service-wide slot before this server's own limits decide. Checked by the server. */
  serviceSlotTimeout?: number;
  /** Each worker binds the listeners itself with SO_REUSEPORT (Node >= 22.12; with workers). Checked by the server. */
  reusePort?: boolean;
  /** CLI only: serve from this many worker processes (@ics-ts/cluster); 0 or "auto" = one per core. Default: one process. */
  workers?: number | 'auto';
  /** CLI only: share slots, rooms and presence with other servers through Redis (@ics-ts/redis-bus): a URL or RedisBus options. */
  redis?: string | RedisBusOptions;
}

export type ConfigIcsHost = IcsHostOptions & { devCertificate?: string[] | DevCertificateConfig };

/** A generated development certificate (ECDSA P-256), for trials and the demo. */
export interface DevCertificateConfig {
  names: string[];
  days?: number;
  /** Keep the files here and reuse them while valid. Default: generate at every start. */
  cacheDir?: string;
}

export type ConfigSslContext = Partial<SslContextOptions> & { devCertificate?: string[] | DevCertificateConfig };

/** A bad config or override: exit code 2. The message names the source and the key. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly code: IcsErrorCode = ICS_ERR.CLI_CONFIG;
}

/** The demo `pnpm start` runs: the chat sample on loopback. */
export const DEFAULT_CONFIG: Readonly<ServerConfig> = Object.freeze({
  clientClass: 'chat',
  banner: 'Welcome to the ics-ts chat. Your nick?',
  bannerTooBusy: 'Sorry, the chat is full (50 people). Try again later.',
  maxClients: 50,
  // Safe to expose: one address holds at most 5 seats, silent TLS peers at most 20 handshakes
  // (5 per address), and the process at most 500 sockets whatever comes (docs/admission.md).
  maxClientsPerIp: 5,
  bannerTooBusyPerIp: 'Sorry, too many connections from your address.',
  maxConnections: 500,
  maxHandshakes: 20,
  maxHandshakesPerIp: 5,
  icsHosts: [
    // localhost: the chat, in clear on 2323 and over TLS on 2324 (the default host there)
    Object.freeze({
      hostTag: 'chat',
      hostNames: ['localhost'],
      bindIpAddr: '127.0.0.1',
      bindNonPort: 2323,
      bindSslPort: 2324,
      devCertificate: ['localhost', '127.0.0.1'],
    }),
    // echo.localhost: an echo service on the same TLS port, picked by SNI
    Object.freeze({
      hostTag: 'echo',
      hostNames: ['echo.localhost'],
      bindIpAddr: '127.0.0.1',
      bindSslPort: 2324,
      clientClass: 'echo',
      banner: '',
      devCertificate: ['echo.localhost'],
    }),
  ],
  // The status page, /metrics and /stats, on loopback only; no token: actions are off.
  admin: Object.freeze({ addr: '127.0.0.1', port: 9323 }),
});

/**
 * What `--client NAME` serves without `--config`: that class on the demo's
 * address and port, everything else at the server defaults (the demo's chat
 * banner would greet an echo client with nonsense).
 */
export const CLIENT_DEFAULT_CONFIG: Readonly<ServerConfig> = Object.freeze({
  addr: '127.0.0.1',
  port: 2323,
});

/** The config the command line starts from: the file, or a built-in one. */
export function baseConfig(file: string | undefined, client: string | undefined, cwd = process.cwd()): ServerConfig {
  if (file !== undefined) return loadConfigFile(file, cwd);
  return client !== undefined ? CLIENT_DEFAULT_CONFIG : DEFAULT_CONFIG;
}

type Check = (value: unknown, where: string, key: string) => unknown;

const CHECKS: Readonly<Record<keyof ServerConfig, Check>> = {
  addr: (value, where, key) => {
    if (typeof value !== 'string' || net.isIP(value) === 0) {
      fail(where, `option ${key} must be an IPv4 or IPv6 address literal such as "127.0.0.1" or "::1", got ${show(value)}`);
    }
    return value;
  },
  port: (value, where, key) => {
    if (typeof value !== 'number' && typeof value !== 'string') {
      fail(where, `option ${key} must be a port number (0..65535) or a service name, got ${show(value)}`);
    }
    try {
      resolvePort(value, where, key);
    } catch (error) {
      fail('', (error as Error).message);
    }
    return value;
  },
  socketFamily: (value, where, key) => {
    if (value !== 'any' && value !== 'ipv4' && value !== 'ipv6') {
      fail(where, `option ${key} must be "any", "ipv4" or "ipv6", got ${show(value)}`);
    }
    return value;
  },
  ipv6Only: boolean,
  listenBacklog: count,
  clientClass: (value, where, key) => {
    if (typeof value !== 'string' || value.trim() === '') {
      fail(where, `option ${key} must be the name of a registered client class, got ${show(value)}`);
    }
    return value;
  },
  banner: string,
  bannerTooBusy: string,
  lineEnd: (value, where, key) => {
    string(value, where, key);
    if (value === '') fail(where, `option ${key} must not be empty`);
    return value;
  },
  maxClients: count,
  tooBusyCloseTimeout: milliseconds,
  // The server checks these itself (every message names the key and the item index).
  multiListenSockets: (value, where, key) => {
    if (!Array.isArray(value)) fail(where, `option ${key} must be an array of listeners, got ${show(value)}`);
    return value;
  },
  sslEnable: boolean,
  sslContext: (value, where, key) => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      fail(where, `option ${key} must be an object (sslCert, sslKey... or devCertificate), got ${show(value)}`);
    }
    return value;
  },
  sslHandshakeTimeout: milliseconds,
  icsHosts: (value, where, key) => {
    if (!Array.isArray(value)) fail(where, `option ${key} must be an array of hosts, got ${show(value)}`);
    return value;
  },
  sniUnknown: sniPolicy,
  sniMissing: sniPolicy,
  admin: (value, where, key) => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      fail(where, `option ${key} must be an object like { "port": 9323 }, got ${show(value)}`);
    }
    return value;
  },
  sslCertRecheckInterval: milliseconds,
  allow: addressList,
  deny: addressList,
  maxClientsPerIp: count,
  bannerTooBusyPerIp: string,
  maxConnections: count,
  maxHandshakes: count,
  maxHandshakesPerIp: count,
  proxyProtocol: (value, where, key) => {
    if (value !== 'off' && value !== 'v1' && value !== 'v2' && value !== 'auto') {
      fail(where, `option ${key} must be "off", "v1", "v2" or "auto", got ${show(value)}`);
    }
    return value;
  },
  // The server checks each entry (an address, a CIDR block, or "*" alone).
  trustedProxies: (value, where, key) => {
    if (!Array.isArray(value)) fail(where, `option ${key} must be an array of addresses or CIDR blocks (or ["*"]), got ${show(value)}`);
    return value;
  },
  proxyHeaderTimeout: count,
  proxyHeaderMaxBytes: count,
  // TWSocket options for every client (docs/hardening.md); the server checks each key and value.
  clientDefaults: (value, where, key) => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      fail(where, `option ${key} must be an object of TWSocket options such as { "idleTimeout": 60000 }, got ${show(value)}`);
    }
    return value;
  },
  shutdownTimeout: milliseconds,
  shutdownNotice: string,
  reusePort: boolean,
  serviceSlotTimeout: milliseconds,
  workers: (value, where, key) => {
    if (value === 'auto') return value;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_WORKERS) {
      fail(where, `option ${key} must be "auto" or an integer in 0..${MAX_WORKERS} (0 = one per core), got ${show(value)}`);
    }
    return value;
  },
  // A URL here; RedisBus checks the URL's form and every key of an options object, naming it.
  redis: (value, where, key) => {
    if (typeof value === 'string') {
      if (!/^rediss?:\/\//.test(value)) fail(where, `option ${key} must be a redis:// or rediss:// URL or an object of RedisBus options, got ${show(value)}`);
      return value;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      fail(where, `option ${key} must be a redis:// or rediss:// URL or an object of RedisBus options such as { "url": "redis://127.0.0.1:6379" }, got ${show(value)}`);
    }
    return value;
  },
  listenPolicy: (value, where, key) => {
    if (value !== 'strict' && value !== 'lenient') fail(where, `option ${key} must be "strict" or "lenient", got ${show(value)}`);
    return value;
  },
};

/** An array; its entries (addresses, CIDR blocks) are checked by the server, which names the bad one. */
function addressList(value: unknown, where: string, key: string): unknown {
  if (!Array.isArray(value)) fail(where, `option ${key} must be an array of addresses or CIDR blocks, got ${show(value)}`);
  return value;
}

export const CONFIG_KEYS = Object.keys(CHECKS) as (keyof ServerConfig)[];

/**
 * Checks a parsed config: an object with known keys and values of the right
 * type and range. `where` names the source in messages (the file name).
 */
export function validateConfig(value: unknown, where: string): ServerConfig {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    fail(where, `the config must be a JSON object, got ${Array.isArray(value) ? 'an array' : show(value)}`);
  }
  const config: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (!Object.hasOwn(CHECKS, key)) {
      fail(where, `unknown option ${JSON.stringify(key)} (known: ${CONFIG_KEYS.join(', ')})`);
    }
    config[key] = CHECKS[key as keyof ServerConfig](item, where, key);
  }
  const { addr, socketFamily } = config as ServerConfig;
  if (addr !== undefined && socketFamily !== undefined && socketFamily !== 'any') {
    const family = net.isIPv6(addr) ? 'ipv6' : 'ipv4';
    if (family !== socketFamily) {
      fail(where, `option socketFamily is "${socketFamily}" but addr "${addr}" is ${family}`);
    }
  }
  return config as ServerConfig;
}

/** Parses and checks the text of a config file. */
export function parseConfig(text: string, where: string): ServerConfig {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    fail(where, `not valid JSON: ${(error as Error).message}`);
  }
  return validateConfig(value, where);
}

/** Reads, parses and checks a config file; `file` is relative to `cwd`. */
export function loadConfigFile(file: string, cwd = process.cwd()): ServerConfig {
  let text: string;
  try {
    text = readFileSync(path.resolve(cwd, file), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    fail(file, `cannot read the config file: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  return parseConfig(text, file);
}

export interface ConfigOverrides {
  port?: string;
  addr?: string;
  client?: string;
  workers?: string;
}

/** The config with the command line's --port, --addr and --client applied (and checked). */
export function applyOverrides(config: ServerConfig, overrides: ConfigOverrides): ServerConfig {
  const result: ServerConfig = { ...config };
  if (overrides.workers !== undefined) {
    const text = overrides.workers.trim();
    result.workers = CHECKS.workers(text === 'auto' ? text : /^\d+$/.test(text) ? Number(text) : overrides.workers, 'command line', '--workers') as ServerConfig['workers'];
  }
  // --port 0: the admin listener takes a free port too (trials and tests run side by side).
  if (overrides.port !== undefined && Number(overrides.port) === 0 && result.admin && typeof result.admin === 'object') {
    result.admin = { ...result.admin, port: 0 };
  }
  if (result.icsHosts !== undefined) return overrideHostTable(result, overrides);
  if (overrides.addr !== undefined) {
    result.addr = CHECKS.addr(overrides.addr, 'command line', '--addr') as string;
    // A config's socketFamily was meant for its own addr; the server derives it from the new one.
    delete result.socketFamily;
  }
  if (overrides.port !== undefined) {
    CHECKS.port(overrides.port, 'command line', '--port');
    result.port = overrides.port;
    // --port 0: every listener takes a free port (trials and tests run side by side).
    if (Number(overrides.port) === 0 && Array.isArray(result.multiListenSockets)) {
      result.multiListenSockets = result.multiListenSockets.map((item) =>
        item && typeof item === 'object' ? { ...item, port: 0 } : item,
      );
    }
  }
  if (overrides.client !== undefined) {
    result.clientClass = CHECKS.clientClass(overrides.client, 'command line', '--client') as string;
  }
  return result;
}

/**
 * The TWSocketServer options a config stands for: CLI-only keys removed,
 * development certificates generated where a devCertificate asks for one.
 */
export async function serverOptions(config: ServerConfig, where = 'config'): Promise<WSocketServerOptions> {
  const { listenPolicy: _policy, shutdownTimeout: _timeout, shutdownNotice: _notice, workers: _workers, redis: _redis, sslContext, multiListenSockets, icsHosts, ...rest } = config;
  const options: WSocketServerOptions = { ...rest };
  if (icsHosts !== undefined) {
    const ports = freePortsWanted.has(icsHosts) ? await freePortMap(icsHosts) : undefined;
    options.icsHosts = await Promise.all(
      icsHosts.map(async (host, index) => {
        if (host === null || typeof host !== 'object') return host;
        const entry = { ...host } as ConfigIcsHost;
        if (ports) {
          if (entry.bindNonPort) entry.bindNonPort = ports.get(entry.bindNonPort);
          if (entry.bindSslPort) entry.bindSslPort = ports.get(entry.bindSslPort);
        }
        if (entry.devCertificate === undefined) return entry;
        const { sslCert, sslKey } = await withDevCertificate({ devCertificate: entry.devCertificate, sslCert: entry.sslCert }, where, `icsHosts[${index}]`);
        delete entry.devCertificate;
        return { ...entry, sslCert, sslKey };
      }),
    );
  }
  if (sslContext !== undefined) options.sslContext = await withDevCertificate(sslContext, where, 'sslContext');
  if (multiListenSockets !== undefined) {
    options.multiListenSockets = await Promise.all(
      multiListenSockets.map(async (item, index) => {
        const context = item && typeof item === 'object' ? (item as { sslContext?: unknown }).sslContext : undefined;
        if (context === undefined || context === null || typeof context !== 'object') return item;
        return { ...item, sslContext: await withDevCertificate(context as ConfigSslContext, where, `multiListenSockets[${index}].sslContext`) };
      }),
    );
  }
  return options;
}

/**
 * --addr and --port on a host table: --addr replaces every host's addresses;
 * --port N gives the table's distinct ports, in order, N, N+1...; --port 0
 * free ports (chosen when the options are made).
 */
function overrideHostTable(config: ServerConfig, overrides: ConfigOverrides): ServerConfig {
  const hosts = config.icsHosts!.map((host) => ({ ...host }));
  if (overrides.addr !== undefined) {
    const addr = CHECKS.addr(overrides.addr, 'command line', '--addr') as string;
    for (const host of hosts) {
      host.bindIpAddr = addr;
      delete host.bindIpAddr2;
    }
  }
  if (overrides.port !== undefined) {
    CHECKS.port(overrides.port, 'command line', '--port');
    const base = Number(overrides.port);
    if (!Number.isInteger(base)) fail('command line', `option --port must be a number with icsHosts, got ${show(overrides.port)}`);
    if (base === 0) freePortsWanted.add(hosts);
    else {
      const order: number[] = [];
      for (const host of hosts) for (const p of [host.bindNonPort, host.bindSslPort]) if (p && !order.includes(p)) order.push(p);
      if (base + order.length - 1 > 65535) fail('command line', `option --port ${base}: the host table needs ${order.length} ports from there`);
      for (const host of hosts) {
        if (host.bindNonPort) host.bindNonPort = base + order.indexOf(host.bindNonPort);
        if (host.bindSslPort) host.bindSslPort = base + order.indexOf(host.bindSslPort);
      }
    }
  }
  return { ...config, icsHosts: hosts };
}

/** Host tables whose ports are to be replaced by free ones (--port 0). */
const freePortsWanted = new WeakSet<object>();

/** A free loopback port for each distinct port of the table (the system picks; a short race is possible). */
async function freePortMap(hosts: ConfigIcsHost[]): Promise<Map<number, number>> {
  const map = new Map<number, number>();
  for (const host of hosts) {
    for (const port of [host.bindNonPort, host.bindSslPort]) {
      if (port && !map.has(port)) map.set(port, await freePort(host.bindIpAddr ?? '127.0.0.1'));
    }
  }
  return map;
}

function freePort(addr: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, addr, () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

async function withDevCertificate(context: ConfigSslContext, where: string, key: string): Promise<SslContextOptions> {
  const { devCertificate, ...rest } = context;
  if (devCertificate === undefined) return rest as SslContextOptions;
  const spec: DevCertificateConfig = Array.isArray(devCertificate) ? { names: devCertificate } : devCertificate;
  if (spec === null || typeof spec !== 'object' || !Array.isArray(spec.names)) {
    fail(where, `option ${key}.devCertificate must be a list of host names or { names, days, cacheDir }, got ${show(devCertificate)}`);
  }
  if (rest.sslCert !== undefined) fail(where, `option ${key}: give sslCert or devCertificate, not both`);
  try {
    const identity = await createDevCertificate(spec);
    return { ...rest, sslCert: identity.cert, sslKey: identity.key };
  } catch (error) {
    fail(where, `option ${key}.devCertificate: ${(error as Error).message}`);
  }
}

function sniPolicy(value: unknown, where: string, key: string): SniPolicy {
  if (value !== 'default' && value !== 'refuse') fail(where, `option ${key} must be "default" or "refuse", got ${show(value)}`);
  return value;
}

function boolean(value: unknown, where: string, key: string): boolean {
  if (typeof value !== 'boolean') fail(where, `option ${key} must be true or false, got ${show(value)}`);
  return value;
}

function count(value: unknown, where: string, key: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    fail(where, `option ${key} must be an integer >= 0, got ${show(value)}`);
  }
  return value;
}

/** More worker processes than this is a typo, not a plan: each is a whole Node process. */
const MAX_WORKERS = 256;

function milliseconds(value: unknown, where: string, key: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_TIMER_MS) {
    fail(where, `option ${key} must be an integer number of ms in 0..${MAX_TIMER_MS}, got ${show(value)}`);
  }
  return value;
}

function string(value: unknown, where: string, key: string): string {
  if (typeof value !== 'string') fail(where, `option ${key} must be a string, got ${show(value)}`);
  return value;
}

/** The value as given: describe() names Infinity (JSON's 1e400), NaN and -0, where JSON.stringify prints null. */
function show(value: unknown): string {
  return describe(value);
}

function fail(where: string, message: string): never {
  throw new ConfigError(where ? `${where}: ${message}` : message);
}
