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

export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || value === undefined || typeof value !== 'object') return String(value);
  try {
    return JSON.stringify(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
