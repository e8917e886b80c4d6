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
  /** Milliseconds a graceful close may wait, without traffic, for the peer to close its side before the socket is destroyed; 0 = wait for ever. Default 10000. */
  closeTimeout?: number;
}

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
} as const;

/** Checks option types and ranges; the message names the option and the value. */
export function validateWSocketOptions(options: WSocketOptions, where = 'TWSocket'): void {
  for (const key of ['lineMode', 'lineAcceptLf', 'lineEcho', 'lineEdit', 'noDelay'] as const) {
    const value = options[key];
    if (value !== undefined && typeof value !== 'boolean') {
      throw new TypeError(`${where}: option ${key} must be a boolean, got ${describe(value)}`);
    }
  }
  const { lineEnd, lineLimit, encoding } = options;
  if (lineEnd !== undefined) {
    if (typeof lineEnd !== 'string' && !Buffer.isBuffer(lineEnd)) {
      throw new TypeError(`${where}: option lineEnd must be a string or a Buffer, got ${describe(lineEnd)}`);
    }
    if (lineEnd.length === 0) throw new RangeError(`${where}: option lineEnd must not be empty`);
  }
  if (lineLimit !== undefined && (!Number.isInteger(lineLimit) || lineLimit < 0)) {
    throw new RangeError(`${where}: option lineLimit must be an integer >= 0 (0 = no limit), got ${describe(lineLimit)}`);
  }
  const { closeTimeout } = options;
  if (closeTimeout !== undefined && (!Number.isInteger(closeTimeout) || closeTimeout < 0 || closeTimeout > 2 ** 31 - 1)) {
    throw new RangeError(`${where}: option closeTimeout must be an integer number of ms >= 0 (0 = none), got ${describe(closeTimeout)}`);
  }
  if (encoding !== undefined && !Buffer.isEncoding(encoding)) {
    throw new TypeError(`${where}: option encoding is not a known encoding: ${describe(encoding)}`);
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
