import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { resolvePort } from '@ics-ts/wsocket-server';
import type { SocketFamily, WSocketServerOptions } from '@ics-ts/wsocket-server';

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
}

/** A bad config or override: exit code 2. The message names the source and the key. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The demo `pnpm start` runs: the chat sample on loopback. */
export const DEFAULT_CONFIG: Readonly<ServerConfig> = Object.freeze({
  addr: '127.0.0.1',
  port: 2323,
  clientClass: 'chat',
  banner: 'Welcome to the ics-ts chat. Your nick?',
  bannerTooBusy: 'Sorry, the chat is full (50 people). Try again later.',
  maxClients: 50,
});

/**
 * What `--client NAME` serves without `--config`: that class on the demo's
 * address and port, everything else at the server defaults (the demo's chat
 * banner would greet an echo client with nonsense).
 */
export const CLIENT_DEFAULT_CONFIG: Readonly<ServerConfig> = Object.freeze({
  addr: DEFAULT_CONFIG.addr,
  port: DEFAULT_CONFIG.port,
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
  tooBusyCloseTimeout: count,
};

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
}

/** The config with the command line's --port, --addr and --client applied (and checked). */
export function applyOverrides(config: ServerConfig, overrides: ConfigOverrides): ServerConfig {
  const result: ServerConfig = { ...config };
  if (overrides.addr !== undefined) {
    result.addr = CHECKS.addr(overrides.addr, 'command line', '--addr') as string;
    // A config's socketFamily was meant for its own addr; the server derives it from the new one.
    delete result.socketFamily;
  }
  if (overrides.port !== undefined) {
    CHECKS.port(overrides.port, 'command line', '--port');
    result.port = overrides.port;
  }
  if (overrides.client !== undefined) {
    result.clientClass = CHECKS.clientClass(overrides.client, 'command line', '--client') as string;
  }
  return result;
}

/** The TWSocketServer options a config stands for. */
export function serverOptions(config: ServerConfig): WSocketServerOptions {
  return { ...config };
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

function string(value: unknown, where: string, key: string): string {
  if (typeof value !== 'string') fail(where, `option ${key} must be a string, got ${show(value)}`);
  return value;
}

function show(value: unknown): string {
  return value === undefined ? 'undefined' : JSON.stringify(value);
}

function fail(where: string, message: string): never {
  throw new ConfigError(where ? `${where}: ${message}` : message);
}
