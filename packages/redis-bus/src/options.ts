import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { ICS_ERR, describe, icsError } from '@ics-ts/wsocket';
import type { RedisOptions } from 'ioredis';

/**
 * RedisBus options. Every server of one service points at the same Redis
 * with the same `service` and `presenceTtl`.
 */
export interface RedisBusOptions {
  /**
   * Where Redis is: a URL (`redis://[user:password@]host:port[/db]`, `rediss://` for TLS), or an ioredis
   * options object (host, port, username, password, db, tls...). The bus sets the connection
   * behaviour itself (no offline queue, no resend, its own retry back-off, timeouts): those ioredis
   * keys are overridden.
   */
  url: string | RedisOptions;
  /** The service's name: the key prefix and Redis Cluster hash tag (`{service}`). Letters, digits, `_.-`, 1 to 64. Default 'ics-ts'. */
  service?: string;
  /** This node's id, unique in the service. Default `hostname:pid:random`. 1 to 128 characters, no control characters. */
  nodeId?: string;
  /** How long a node's slots and presence entries outlive its last heartbeat, in ms (heartbeat every third of it). Default 15000. */
  presenceTtl?: number;
  /** How long start() waits for Redis before serving alone ('down'), in ms; also ioredis's connect timeout. Default 5000. */
  connectTimeout?: number;
  /** How long one Redis command may take before the link is taken as lost, in ms. Default 2000. */
  commandTimeout?: number;
  /** The largest message publish() sends and a subscriber accepts, in bytes (UTF-8). Default 2 MiB (a ServiceRoom message, escaped, is at most about 1.5 MiB). */
  maxMessageBytes?: number;
  /** The most entries one entries() call returns. Default 10000. */
  entriesLimit?: number;
}

/** The options with their defaults applied and checked. */
export interface ResolvedRedisBusOptions {
  readonly url: string | RedisOptions;
  readonly service: string;
  readonly nodeId: string;
  readonly presenceTtl: number;
  readonly connectTimeout: number;
  readonly commandTimeout: number;
  readonly maxMessageBytes: number;
  readonly entriesLimit: number;
}

/** Each option's default (nodeId's is made per bus: `hostname:pid:random`). */
export const REDIS_BUS_DEFAULTS = Object.freeze({
  service: 'ics-ts',
  presenceTtl: 15_000,
  connectTimeout: 5_000,
  commandTimeout: 2_000,
  maxMessageBytes: 2 * 1024 * 1024,
  entriesLimit: 10_000,
});

const KEYS = ['url', 'service', 'nodeId', 'presenceTtl', 'connectTimeout', 'commandTimeout', 'maxMessageBytes', 'entriesLimit'] as const;
const WHERE = 'RedisBus';
const SERVICE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** The longest node id: it travels in every message and names a key. */
export const MAX_NODE_ID_LENGTH = 128;

/** Checks `options` and applies the defaults; throws a TypeError or RangeError naming the option and the value. */
export function resolveRedisBusOptions(options: RedisBusOptions): ResolvedRedisBusOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${WHERE}: options must be an object, got ${describe(options)}`);
  for (const key of Object.keys(options)) {
    if (!(KEYS as readonly string[]).includes(key))
      throw icsError(TypeError, ICS_ERR.UNKNOWN_OPTION, `${WHERE}: unknown option ${describe(key)} (known: ${KEYS.join(', ')})`);
  }
  const service = options.service ?? REDIS_BUS_DEFAULTS.service;
  if (typeof service !== 'string' || !SERVICE_NAME.test(service))
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${WHERE}: option service must be 1 to 64 letters, digits, '_', '.' or '-', got ${describe(service)}`);
  const nodeId = options.nodeId ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  if (typeof nodeId !== 'string' || nodeId.length === 0 || nodeId.length > MAX_NODE_ID_LENGTH || CONTROL.test(nodeId))
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${WHERE}: option nodeId must be a string of 1 to ${MAX_NODE_ID_LENGTH} characters without control characters, got ${describe(nodeId)}`);
  return {
    url: checkUrl(options.url),
    service,
    nodeId,
    presenceTtl: integer('presenceTtl', options.presenceTtl, REDIS_BUS_DEFAULTS.presenceTtl, 300, 86_400_000, 'ms'),
    connectTimeout: integer('connectTimeout', options.connectTimeout, REDIS_BUS_DEFAULTS.connectTimeout, 1, 600_000, 'ms'),
    commandTimeout: integer('commandTimeout', options.commandTimeout, REDIS_BUS_DEFAULTS.commandTimeout, 1, 600_000, 'ms'),
    maxMessageBytes: integer('maxMessageBytes', options.maxMessageBytes, REDIS_BUS_DEFAULTS.maxMessageBytes, 1, 64 * 1024 * 1024, 'bytes'),
    entriesLimit: integer('entriesLimit', options.entriesLimit, REDIS_BUS_DEFAULTS.entriesLimit, 1, 1_000_000, 'entries'),
  };
}

/** A URL is shown by its scheme only in errors: it may carry a password. */
function checkUrl(url: unknown): string | RedisOptions {
  if (typeof url === 'string') {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${WHERE}: option url must be a redis:// or rediss:// URL, got a string that is not a URL (${url.length} characters)`);
    }
    if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:')
      throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${WHERE}: option url must be a redis:// or rediss:// URL, got a ${describe(parsed.protocol)} URL`);
    if (!parsed.hostname) throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${WHERE}: option url has no host`);
    return url;
  }
  if (typeof url === 'object' && url !== null && !Array.isArray(url)) return url as RedisOptions;
  throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${WHERE}: option url must be a redis:// URL or an ioredis options object, got ${url === undefined ? 'nothing' : describe(url)}`);
}

function integer(name: string, value: unknown, fallback: number, min: number, max: number, unit: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `${WHERE}: option ${name} must be an integer from ${min} to ${max} (${unit}), got ${describe(value)}`);
  return value;
}

/** Where the bus connects, for status reasons and logs: host and port, never the credentials. */
export function describeTarget(url: string | RedisOptions): string {
  if (typeof url === 'string') {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}`;
  }
  if (url.path) return `unix:${url.path}`;
  return `${url.tls ? 'rediss' : 'redis'}://${url.host ?? 'localhost'}:${url.port ?? 6379}`;
}
