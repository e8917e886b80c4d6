import { ICS_ERR, icsError } from './errors';
/** TWSocket options: every one with its default, in one place. */
export interface WSocketOptions {
  /** Deliver complete lines to `onLine` instead of raw chunks to `onData`. Default false. */
  lineMode?: boolean;
  /** The byte sequence that ends a line, as text (latin1) or bytes. Default CRLF. */
  lineEnd?: string | Buffer;
  /** With a lineEnd ending in LF (CRLF, say), also accept a bare LF; a CR before it is removed. Default false. */
  lineAcceptLf?: boolean;
  /** Longest line in bytes before `onLineLimitExceeded`; 0 = no limit. Default 65536. */
  lineLimit?: number;
  /** Send every received byte back (telnet-style clients that do not echo locally). Default false. */
  lineEcho?: boolean;
  /** Backspace/DEL erase, TAB expands to the next multiple of 8 columns. Default false. */
  lineEdit?: boolean;
  /** Encoding of lines delivered to `onLine` and of strings sent. Default 'utf8'. */
  encoding?: BufferEncoding;
  /** Send small writes at once, without Nagle's delay (ICS wsoTcpNoDelay). Default false. */
  noDelay?: boolean;
  /**
   * Milliseconds a close (`close()`, `closeGracefully()`) may take, from the call,
   * for our output to drain and the peer to close its side before the socket is
   * destroyed. Counted whatever the traffic: a peer that keeps sending cannot
   * hold the connection. 0 = wait for ever. Default 10000.
   */
  closeTimeout?: number;

  // ---- connection life (hardening): see docs/hardening.md ----

  /**
   * Bytes queued to the peer (`socket.writableLength`) at which this connection
   * stops reading (socket paused, no further line delivered from a chunk already
   * received) until Node's queue has drained. Below the socket's own
   * `writableHighWaterMark` (16 KiB) it acts as that value. Default 65536 (Netty's
   * high-water mark).
   */
  sendHighWater?: number;
  /**
   * Bytes queued to the peer past which a further send aborts the connection
   * with `ICS_ERR_SEND_LIMIT`. It is checked before each send, so one send larger
   * than the limit into a queue below it is accepted; the queue is bounded by
   * sendLimit plus one send. 0 = no limit. Default 1048576 (1 MiB).
   */
  sendLimit?: number;
  /** Milliseconds with nothing received and nothing sent before `onTimeout('idle')` (default: close); 0 = none. Default 300000. */
  idleTimeout?: number;
  /** Milliseconds a line may take from its first byte to its line end before `onTimeout('line')` (default: close); 0 = none. Default 60000. */
  lineTimeout?: number;
  /** Read rate limit in bytes per second (a token bucket); reading pauses while over it; 0 = none. Default 0. */
  readBytesPerSecond?: number;
  /** Bytes the peer may send at once above the rate (bucket size); 0 = one second's worth. Default 0. */
  readBytesBurst?: number;
  /** Read rate limit in lines per second (line mode); delivery pauses while over it; 0 = none. Default 0. */
  readLinesPerSecond?: number;
  /** Lines the peer may send at once above the rate; 0 = one second's worth. Default 0. */
  readLinesBurst?: number;
  /**
   * What happens to a peer that stays over its read rate for `readRateCloseAfter`
   * ms: 'throttle' (keep throttling), 'close' (graceful close) or 'abort'.
   * Default 'throttle'.
   */
  readRateAction?: ReadRateAction;
  /** Milliseconds over the read rate before `readRateAction` applies. Default 10000. */
  readRateCloseAfter?: number;
}

export type ReadRateAction = 'throttle' | 'close' | 'abort';

export const WSOCKET_DEFAULTS = {
  lineMode: false,
  lineEnd: '\r\n',
  lineAcceptLf: false,
  lineLimit: 65536,
  lineEcho: false,
  lineEdit: false,
  encoding: 'utf8' as BufferEncoding,
  noDelay: false,
  closeTimeout: 10000,
  sendHighWater: 65536,
  sendLimit: 1048576,
  idleTimeout: 300000,
  lineTimeout: 60000,
  readBytesPerSecond: 0,
  readBytesBurst: 0,
  readLinesPerSecond: 0,
  readLinesBurst: 0,
  readRateAction: 'throttle' as ReadRateAction,
  readRateCloseAfter: 10000,
} as const;

/** The longest delay a Node timer keeps: a longer one fires after 1 ms (TimeoutOverflowWarning). Every ms option is capped here. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
/** Byte counts: integers a Smi holds, so per-connection counters stay small integers. */
const MAX_BYTES = 2 ** 30;

/** Options that are a count of milliseconds (0 = none). */
const MS_OPTIONS = ['closeTimeout', 'idleTimeout', 'lineTimeout', 'readRateCloseAfter'] as const;
/** Options that are a count of bytes or lines (0 = none or the default named in their doc). */
const COUNT_OPTIONS = ['sendLimit', 'readBytesPerSecond', 'readBytesBurst', 'readLinesPerSecond', 'readLinesBurst'] as const;
const READ_RATE_ACTIONS: readonly string[] = ['throttle', 'close', 'abort'];

/** Checks option types and ranges; the message names the option and the value. */
export function validateWSocketOptions(options: WSocketOptions, where = 'TWSocket'): void {
  for (const key of ['lineMode', 'lineAcceptLf', 'lineEcho', 'lineEdit', 'noDelay'] as const) {
    const value = options[key];
    if (value !== undefined && typeof value !== 'boolean') {
      throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${where}: option ${key} must be a boolean, got ${describe(value)}`);
    }
  }
  const { lineEnd, lineLimit, encoding } = options;
  if (lineEnd !== undefined) {
    if (typeof lineEnd !== 'string' && !Buffer.isBuffer(lineEnd)) {
      throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${where}: option lineEnd must be a string or a Buffer, got ${describe(lineEnd)}`);
    }
    if (lineEnd.length === 0) throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `${where}: option lineEnd must not be empty`);
  }
  if (lineLimit !== undefined && (!Number.isInteger(lineLimit) || lineLimit < 0)) {
    throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `${where}: option lineLimit must be an integer >= 0 (0 = no limit), got ${describe(lineLimit)}`);
  }
  for (const key of MS_OPTIONS) {
    const value = options[key];
    if (value !== undefined && (!Number.isInteger(value) || value < 0 || value > MAX_TIMER_MS)) {
      throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `${where}: option ${key} must be an integer number of ms from 0 to ${MAX_TIMER_MS}, got ${describe(value)}`);
    }
  }
  for (const key of COUNT_OPTIONS) {
    const value = options[key];
    if (value !== undefined && (!Number.isInteger(value) || value < 0 || value > MAX_BYTES)) {
      throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `${where}: option ${key} must be an integer from 0 to ${MAX_BYTES}, got ${describe(value)}`);
    }
  }
  const { sendHighWater, readRateAction } = options;
  if (sendHighWater !== undefined && (!Number.isInteger(sendHighWater) || sendHighWater < 1 || sendHighWater > MAX_BYTES)) {
    throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `${where}: option sendHighWater must be an integer number of bytes from 1 to ${MAX_BYTES}, got ${describe(sendHighWater)}`);
  }
  if (readRateAction !== undefined && !READ_RATE_ACTIONS.includes(readRateAction as string)) {
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${where}: option readRateAction must be one of ${READ_RATE_ACTIONS.join(', ')}, got ${describe(readRateAction)}`);
  }
  if (encoding !== undefined && !Buffer.isEncoding(encoding)) {
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${where}: option encoding is not a known encoding: ${describe(encoding)}`);
  }
}

/**
 * A value as an error message shows it: strings JSON-quoted; numbers as
 * JavaScript writes them, so that Infinity (what JSON.parse makes of 1e400),
 * NaN and -0 are named (JSON.stringify prints null and 0); bigints with their
 * `n`; objects and arrays as JSON-like text, nested numbers included, circular
 * references marked. Bounded: a hostile config value cannot make a huge
 * message (at most about 200 characters, then `...`); never throws.
 */
export function describe(value: unknown): string {
  const limit = 200;
  let out = '';
  const seen = new Set<object>();
  const write = (item: unknown): void => {
    if (out.length > limit) return;
    switch (typeof item) {
      case 'string':
        out += JSON.stringify(item.length > limit ? item.slice(0, limit) : item);
        return;
      case 'number':
        out += Object.is(item, -0) ? '-0' : String(item);
        return;
      case 'bigint':
        out += `${item}n`;
        return;
      case 'function':
        out += `[function ${item.name || '(anonymous)'}]`;
        return;
      case 'object':
        break;
      default:
        out += String(item); // boolean, undefined, symbol
        return;
    }
    if (item === null) {
      out += 'null';
      return;
    }
    if (seen.has(item)) {
      out += '[Circular]';
      return;
    }
    const toJSON = (item as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') {
      let json: unknown;
      try {
        json = toJSON.call(item);
      } catch {
        out += Object.prototype.toString.call(item);
        return;
      }
      if (json !== item) return write(json);
    }
    seen.add(item);
    if (Array.isArray(item)) {
      out += '[';
      for (let i = 0; i < item.length && out.length <= limit; i++) {
        if (i > 0) out += ',';
        write(item[i]);
      }
      out += ']';
    } else {
      out += '{';
      let first = true;
      for (const key in item) {
        if (out.length > limit) break;
        if (!Object.hasOwn(item, key)) continue;
        if (!first) out += ',';
        first = false;
        out += `${JSON.stringify(key)}:`;
        write((item as Record<string, unknown>)[key]);
      }
      out += '}';
    }
    seen.delete(item);
  };
  try {
    write(value);
  } catch {
    return Object.prototype.toString.call(value); // a getter or a proxy that throws
  }
  return out.length > limit ? `${out.slice(0, limit)}...` : out;
}
