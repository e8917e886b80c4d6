import { ReadRateAction, WSOCKET_DEFAULTS, WSocketOptions, describe, validateWSocketOptions } from './options';
import { ICS_ERR, icsError } from './errors';

/**
 * The settings of a TWSocket that rarely change once it is made. A server makes
 * thousands of connections from one client class with the same options: they
 * share one frozen object instead of twenty fields each. Changing a setting
 * gives that connection another shared object.
 */
export interface WSocketSettings {
  readonly lineEndBytes: Buffer;
  /** lineEnd as latin1 text. */
  readonly lineEndText: string;
  /** lineEnd is all ASCII: it can travel inside text of an ASCII-compatible encoding. */
  readonly lineEndAscii: boolean;
  readonly lineAcceptLf: boolean;
  readonly lineLimit: number;
  readonly lineEcho: boolean;
  readonly lineEdit: boolean;
  readonly encoding: BufferEncoding;
  readonly noDelay: boolean;
  readonly closeTimeout: number;
  readonly sendHighWater: number;
  readonly sendLimit: number;
  readonly idleTimeout: number;
  readonly lineTimeout: number;
  readonly readBytesPerSecond: number;
  readonly readBytesBurst: number;
  readonly readLinesPerSecond: number;
  readonly readLinesBurst: number;
  readonly readRateAction: ReadRateAction;
  readonly readRateCloseAfter: number;

  // ---- derived once here, read on hot paths ----
  /** sendLimit, with 0 (no limit) as Infinity: one comparison per send. */
  readonly sendLimitBytes: number;
  /** A read rate is set (bytes or lines). */
  readonly readRateOn: boolean;
  /** Bucket sizes: the burst, or one second's worth when it is 0. */
  readonly bytesBucket: number;
  readonly linesBucket: number;
  /** How often the sweep must look at a connected socket with these settings (ms); 0 = never. */
  readonly sweepEveryMs: number;
  /** Which settings the connection set itself (constructor or setter), by SETTING_BIT: server defaults leave them alone. */
  readonly explicit: number;
}

/** The settings options can change (every WSocketOption but lineMode, which changes often). */
export type SettingsChange = Omit<WSocketOptions, 'lineMode'>;

/** Every settings key but lineEnd (compared apart: a string or a Buffer). */
const VALUE_KEYS = [
  'lineAcceptLf',
  'lineLimit',
  'lineEcho',
  'lineEdit',
  'encoding',
  'noDelay',
  'closeTimeout',
  'sendHighWater',
  'sendLimit',
  'idleTimeout',
  'lineTimeout',
  'readBytesPerSecond',
  'readBytesBurst',
  'readLinesPerSecond',
  'readLinesBurst',
  'readRateAction',
  'readRateCloseAfter',
] as const;
type ValueKey = (typeof VALUE_KEYS)[number];

/** The keys a server may give defaults for: every settings key. */
export const SETTING_KEYS: readonly (keyof SettingsChange)[] = ['lineEnd', ...VALUE_KEYS];
const SETTING_BIT = new Map<string, number>(SETTING_KEYS.map((key, i) => [key, 1 << i]));

/** The sweep's shortest and longest look: fine enough for short timeouts, rare for long ones. */
export const SWEEP_MIN_MS = 10;
export const SWEEP_MAX_MS = 1000;
/**
 * A timeout is noticed up to two looks late (see connection-sweep.ts): looking
 * every eighth of it keeps a timeout within +25 % (+50 % promised, the rest
 * for a busy event loop).
 */
const LOOKS_PER_TIMEOUT = 8;

/** How often the sweep must look at a socket with these timeouts and rates; 0 = never. */
export function sweepInterval(...timeoutsMs: number[]): number {
  let every = Infinity;
  for (const ms of timeoutsMs) if (ms > 0) every = Math.min(every, ms / LOOKS_PER_TIMEOUT);
  if (every === Infinity) return 0;
  return Math.min(SWEEP_MAX_MS, Math.max(SWEEP_MIN_MS, Math.floor(every)));
}

type Values = { -readonly [K in ValueKey]: WSocketSettings[K] };

function make(lineEndBytes: Buffer, values: Values, explicit: number): WSocketSettings {
  const bytesBucket = values.readBytesBurst || values.readBytesPerSecond;
  const linesBucket = values.readLinesBurst || values.readLinesPerSecond;
  const readRateOn = values.readBytesPerSecond > 0 || values.readLinesPerSecond > 0;
  return Object.freeze({
    lineEndBytes,
    lineEndText: lineEndBytes.toString('latin1'),
    lineEndAscii: lineEndBytes.every((b) => b < 0x80),
    ...values,
    sendLimitBytes: values.sendLimit > 0 ? values.sendLimit : Infinity,
    readRateOn,
    bytesBucket,
    linesBucket,
    sweepEveryMs: sweepInterval(
      values.idleTimeout,
      values.lineTimeout,
      // A bucket refilled four times in the time it takes to fill: throughput close to the rate.
      values.readBytesPerSecond > 0 ? (bytesBucket / values.readBytesPerSecond) * 1000 * (LOOKS_PER_TIMEOUT / 4) : 0,
      values.readLinesPerSecond > 0 ? (linesBucket / values.readLinesPerSecond) * 1000 * (LOOKS_PER_TIMEOUT / 4) : 0,
      readRateOn ? values.readRateCloseAfter : 0,
    ),
    explicit,
  });
}

const DEFAULT_VALUES: Values = {
  lineAcceptLf: WSOCKET_DEFAULTS.lineAcceptLf,
  lineLimit: WSOCKET_DEFAULTS.lineLimit,
  lineEcho: WSOCKET_DEFAULTS.lineEcho,
  lineEdit: WSOCKET_DEFAULTS.lineEdit,
  encoding: WSOCKET_DEFAULTS.encoding,
  noDelay: WSOCKET_DEFAULTS.noDelay,
  closeTimeout: WSOCKET_DEFAULTS.closeTimeout,
  sendHighWater: WSOCKET_DEFAULTS.sendHighWater,
  sendLimit: WSOCKET_DEFAULTS.sendLimit,
  idleTimeout: WSOCKET_DEFAULTS.idleTimeout,
  lineTimeout: WSOCKET_DEFAULTS.lineTimeout,
  readBytesPerSecond: WSOCKET_DEFAULTS.readBytesPerSecond,
  readBytesBurst: WSOCKET_DEFAULTS.readBytesBurst,
  readLinesPerSecond: WSOCKET_DEFAULTS.readLinesPerSecond,
  readLinesBurst: WSOCKET_DEFAULTS.readLinesBurst,
  readRateAction: WSOCKET_DEFAULTS.readRateAction,
  readRateCloseAfter: WSOCKET_DEFAULTS.readRateCloseAfter,
};

export const DEFAULT_SETTINGS: WSocketSettings = make(Buffer.from(WSOCKET_DEFAULTS.lineEnd, 'latin1'), DEFAULT_VALUES, 0);

/** Settings handed out lately, newest first: a connection finds its own here without allocating. */
const recent: WSocketSettings[] = [DEFAULT_SETTINGS];
const RECENT_KEPT = 16;

/**
 * `base` with `change` applied (already validated); a shared object when one
 * matches. The keys given count as set by the connection itself unless
 * `explicit` is false (server defaults).
 */
export function resolveSettings(base: WSocketSettings, change: SettingsChange, explicit = true): WSocketSettings {
  let mask = base.explicit;
  let changed = false;
  const values = {} as Values;
  for (const key of VALUE_KEYS) {
    const value = change[key];
    if (value === undefined) {
      (values as Record<string, unknown>)[key] = base[key];
    } else {
      (values as Record<string, unknown>)[key] = value;
      changed = true;
      if (explicit) mask |= SETTING_BIT.get(key)!;
    }
  }
  const lineEnd = change.lineEnd;
  if (lineEnd !== undefined) {
    changed = true;
    if (explicit) mask |= SETTING_BIT.get('lineEnd')!;
  }
  if (!changed) return base;
  for (const known of recent) {
    if (known.explicit === mask && sameValues(known, values) && sameLineEnd(known, lineEnd ?? base.lineEndBytes)) return known;
  }
  const made = make(lineEnd === undefined ? base.lineEndBytes : toBytes(lineEnd), values, mask);
  recent.unshift(made);
  if (recent.length > RECENT_KEPT) recent.pop();
  return made;
}

/** Defaults objects already validated (a server hands the same one to every connection). */
const validated = new WeakSet<object>();
/** The last settings each defaults object was applied to, and the result. */
const applied = new WeakMap<object, { from: WSocketSettings; to: WSocketSettings }>();

/**
 * Server-given defaults: every key the connection did not set itself (in its
 * constructor or by a setter) takes the default's value. One validation per
 * defaults object; one lookup per connection when its class's settings repeat.
 */
export function applyDefaults(settings: WSocketSettings, defaults: SettingsChange): WSocketSettings {
  if (!validated.has(defaults)) validateWSocketDefaults(defaults, 'TWSocket.attach: defaults');
  const last = applied.get(defaults);
  if (last && last.from === settings) return last.to;
  const change: Record<string, unknown> = {};
  for (const key of SETTING_KEYS) {
    const value = defaults[key];
    if (value !== undefined && (settings.explicit & SETTING_BIT.get(key)!) === 0) change[key] = value;
  }
  const to = resolveSettings(settings, change as SettingsChange, false);
  applied.set(defaults, { from: settings, to });
  return to;
}

/**
 * Checks a defaults object (a server calls it on its options, to fail at
 * construction naming its own option): an object, known keys (every TWSocket
 * option but lineMode), valid values.
 */
export function validateWSocketDefaults(defaults: SettingsChange, where: string): void {
  if (typeof defaults !== 'object' || defaults === null || Array.isArray(defaults)) {
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${where} must be an object of TWSocket options, got ${describe(defaults)}`);
  }
  for (const key of Object.keys(defaults)) {
    if (!SETTING_BIT.has(key)) throw icsError(TypeError, ICS_ERR.UNKNOWN_OPTION, `${where} has an unknown option ${JSON.stringify(key)}`);
  }
  validateWSocketOptions(defaults, where);
  validated.add(defaults);
}

function sameValues(known: WSocketSettings, values: Values): boolean {
  for (const key of VALUE_KEYS) if (known[key] !== values[key]) return false;
  return true;
}

function sameLineEnd(known: WSocketSettings, lineEnd: string | Buffer): boolean {
  if (typeof lineEnd === 'string') return lineEnd === known.lineEndText;
  return lineEnd === known.lineEndBytes || lineEnd.equals(known.lineEndBytes);
}

/** A string lineEnd is latin1 text (one byte per character); a Buffer is copied (the caller may reuse it). */
function toBytes(value: string | Buffer): Buffer {
  return typeof value === 'string' ? Buffer.from(value, 'latin1') : Buffer.from(value);
}
