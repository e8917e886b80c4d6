import { WSOCKET_DEFAULTS, WSocketOptions } from './options';

/**
 * The settings of a TWSocket that rarely change once it is made. A server makes
 * thousands of connections from one client class with the same options: they
 * share one frozen object instead of ten fields each (about 70 bytes per idle
 * connection). Changing a setting gives that connection another shared object.
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
}

/** The settings options can change (every WSocketOption but lineMode, which changes often). */
export type SettingsChange = Omit<WSocketOptions, 'lineMode'>;

const DEFAULT_LINE_END_BYTES = Buffer.from(WSOCKET_DEFAULTS.lineEnd, 'latin1');

export const DEFAULT_SETTINGS: WSocketSettings = Object.freeze({
  lineEndBytes: DEFAULT_LINE_END_BYTES,
  lineEndText: WSOCKET_DEFAULTS.lineEnd,
  lineEndAscii: true,
  lineAcceptLf: WSOCKET_DEFAULTS.lineAcceptLf,
  lineLimit: WSOCKET_DEFAULTS.lineLimit,
  lineEcho: WSOCKET_DEFAULTS.lineEcho,
  lineEdit: WSOCKET_DEFAULTS.lineEdit,
  encoding: WSOCKET_DEFAULTS.encoding,
  noDelay: WSOCKET_DEFAULTS.noDelay,
  closeTimeout: WSOCKET_DEFAULTS.closeTimeout,
});

/** Settings handed out lately, newest first: a connection finds its own here without allocating. */
const recent: WSocketSettings[] = [DEFAULT_SETTINGS];
const RECENT_KEPT = 8;

/** `base` with `change` applied (already validated); a shared object when one matches. */
export function resolveSettings(base: WSocketSettings, change: SettingsChange): WSocketSettings {
  const lineEnd = change.lineEnd;
  const lineAcceptLf = change.lineAcceptLf ?? base.lineAcceptLf;
  const lineLimit = change.lineLimit ?? base.lineLimit;
  const lineEcho = change.lineEcho ?? base.lineEcho;
  const lineEdit = change.lineEdit ?? base.lineEdit;
  const encoding = change.encoding ?? base.encoding;
  const noDelay = change.noDelay ?? base.noDelay;
  const closeTimeout = change.closeTimeout ?? base.closeTimeout;
  for (const known of recent) {
    if (
      known.lineAcceptLf === lineAcceptLf &&
      known.lineLimit === lineLimit &&
      known.lineEcho === lineEcho &&
      known.lineEdit === lineEdit &&
      known.encoding === encoding &&
      known.noDelay === noDelay &&
      known.closeTimeout === closeTimeout &&
      sameLineEnd(known, lineEnd ?? base.lineEndBytes)
    ) {
      return known;
    }
  }
  const lineEndBytes = lineEnd === undefined ? base.lineEndBytes : toBytes(lineEnd);
  const made: WSocketSettings = Object.freeze({
    lineEndBytes,
    lineEndText: lineEndBytes.toString('latin1'),
    lineEndAscii: lineEndBytes.every((b) => b < 0x80),
    lineAcceptLf,
    lineLimit,
    lineEcho,
    lineEdit,
    encoding,
    noDelay,
    closeTimeout,
  });
  recent.unshift(made);
  if (recent.length > RECENT_KEPT) recent.pop();
  return made;
}

function sameLineEnd(known: WSocketSettings, lineEnd: string | Buffer): boolean {
  if (typeof lineEnd === 'string') return lineEnd === known.lineEndText;
  return lineEnd === known.lineEndBytes || lineEnd.equals(known.lineEndBytes);
}

/** A string lineEnd is latin1 text (one byte per character); a Buffer is copied (the caller may reuse it). */
function toBytes(value: string | Buffer): Buffer {
  return typeof value === 'string' ? Buffer.from(value, 'latin1') : Buffer.from(value);
}
