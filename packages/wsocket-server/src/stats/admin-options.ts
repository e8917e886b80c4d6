import * as net from 'node:net';
import { describe, ICS_ERR, icsError } from '@ics-ts/wsocket';

/**
 * The admin listener's options (`admin` in the server options and the JSON
 * config). Off unless given.
 *
 * The token rule: admin actions (POST) need `Authorization: Bearer <token>`;
 * without a configured token they answer 403 (actions disabled), with one and
 * a missing or wrong header 401. Reads (/metrics, /stats, /history) are open
 * on a loopback address; bound anywhere else the admin listener needs a token
 * and every read needs it too. The status page itself (`GET /`) holds no
 * data and is always served.
 */
export interface AdminOptions {
  /** An IP literal. Default '127.0.0.1'. */
  addr?: string;
  /** 0 = the system picks one. Required. */
  port: number;
  /** Enables the actions; at least 16 characters. Default none (actions answer 403). */
  token?: string;
  /** Host names (besides IP literals and `localhost`) the Host header may carry; others get 421 (DNS rebinding). Default none. */
  allowedHosts?: string[];
  /** Most clients a /stats answer lists. Default 500. */
  maxClientsListed?: number;
  /** Milliseconds between the samples behind the status page's charts. Default 5000. */
  sampleInterval?: number;
  /** Samples kept (with the default interval, 120 = 10 minutes). Default 120. */
  samplesKept?: number;
}

export const ADMIN_DEFAULTS = {
  addr: '127.0.0.1',
  maxClientsListed: 500,
  sampleInterval: 5000,
  samplesKept: 120,
} as const;

export const ADMIN_KEYS = ['addr', 'port', 'token', 'allowedHosts', 'maxClientsListed', 'sampleInterval', 'samplesKept'] as const;

export interface ResolvedAdminOptions {
  addr: string;
  port: number;
  token: string | undefined;
  allowedHosts: ReadonlySet<string>;
  maxClientsListed: number;
  sampleIntervalMs: number;
  samplesKept: number;
  /** Reads need the token too (not on a loopback address). */
  readsNeedToken: boolean;
}

const WHERE = 'admin';

function checkInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number') throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${WHERE}.${name} must be a number, got ${describe(value)}`);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `${WHERE}.${name} must be an integer from ${min} to ${max}, got ${describe(value)}`);
  }
  return value;
}

export function isLoopback(addr: string): boolean {
  if (net.isIPv4(addr)) return addr.startsWith('127.');
  const lower = addr.toLowerCase();
  return lower === '::1' || lower.startsWith('::ffff:127.');
}

/** Checks the options once, with a message naming the option and the value given. */
export function resolveAdminOptions(options: unknown): ResolvedAdminOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${WHERE} must be an object like { port: 9323 }, got ${describe(options)}`);
  }
  const given = options as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!(ADMIN_KEYS as readonly string[]).includes(key)) throw icsError(TypeError, ICS_ERR.UNKNOWN_OPTION, `${WHERE}: unknown option ${describe(key)} (known: ${ADMIN_KEYS.join(', ')})`);
  }
  const addr = given.addr ?? ADMIN_DEFAULTS.addr;
  if (typeof addr !== 'string' || net.isIP(addr) === 0) throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${WHERE}.addr must be an IP literal, got ${describe(addr)}`);
  const port = checkInteger('port', given.port, 0, 65535);
  const token = given.token;
  if (token !== undefined) {
    if (typeof token !== 'string') throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${WHERE}.token must be a string, got ${describe(typeof token)}`);
    // The value is a secret: its length is named, never the value.
    if (token.length < 16 || token.length > 512) throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `${WHERE}.token must be 16 to 512 characters, got ${token.length}`);
    if (!/^[\x21-\x7e]+$/.test(token)) throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${WHERE}.token must be printable ASCII without spaces (it travels in an HTTP header)`);
  }
  const readsNeedToken = !isLoopback(addr);
  if (readsNeedToken && token === undefined) {
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${WHERE}: addr ${describe(addr)} is not a loopback address: a token is required there (and then every route but the page needs it)`);
  }
  const hosts = given.allowedHosts ?? [];
  if (!Array.isArray(hosts) || hosts.some((h) => typeof h !== 'string' || h.length === 0 || h.length > 253)) {
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${WHERE}.allowedHosts must be an array of host names, got ${describe(hosts)}`);
  }
  return {
    addr,
    port,
    token,
    allowedHosts: new Set((hosts as string[]).map((h) => h.toLowerCase())),
    maxClientsListed: checkInteger('maxClientsListed', given.maxClientsListed ?? ADMIN_DEFAULTS.maxClientsListed, 0, 100_000),
    sampleIntervalMs: checkInteger('sampleInterval', given.sampleInterval ?? ADMIN_DEFAULTS.sampleInterval, 100, 3_600_000),
    samplesKept: checkInteger('samplesKept', given.samplesKept ?? ADMIN_DEFAULTS.samplesKept, 2, 10_000),
    readsNeedToken,
  };
}
