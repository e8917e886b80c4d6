import { ICS_ERR, icsError } from './errors';
/**
 * Finds lines in a byte stream, ICS line mode's framing (reference: TCustomLineWSocket).
 *
 * Every received byte is scanned once: a partial line is kept as a list of the
 * chunks it came in (never concatenated until the line is complete), and the
 * number of delimiter bytes matched at the end of that partial line is
 * remembered so that a delimiter split across two packets is still found
 * without rescanning.
 */

/** What to do with a line that grew past `lineLimit`. */
export type LineLimitAction = 'discard' | 'keep' | 'close';

export interface LineSink {
  /**
   * A complete line, without its delimiter. Returns false to stop the splitter
   * (line mode switched off, delivery paused, or the connection going away):
   * the bytes after this line are then handed back by `push`, as a view of the
   * chunk (no copy).
   */
  deliverLine(line: Buffer): boolean;
  /**
   * A line grew past the limit; `length` is its length so far (the whole
   * length when it arrived complete). 'close' stops the splitter for good.
   */
  lineLimitExceeded(length: number): LineLimitAction;
  /**
   * Optional text path: the encoding in which one character is one byte for
   * every chunk it accepts ('latin1' always; 'utf8' for pure-ASCII chunks),
   * or undefined to receive Buffers only.
   */
  textEncoding?(): 'latin1' | 'utf8' | undefined;
  /** A complete line as text (the text path); the same contract as deliverLine. */
  deliverText?(line: string): boolean;
}

export class LineSplitter {
  private readonly delimiter: Buffer;
  private readonly delimiterText: string | undefined;
  private parts: Buffer[] = [];
  private pendingLength = 0;
  /** Delimiter bytes matched at the very end of the pending bytes. */
  private partial = 0;
  /** Dropping the rest of an over-long line up to its delimiter. */
  private discarding = false;
  /** The over-long pending line was reported and the sink chose to keep it. */
  private limitReported = false;
  /** The sink chose 'close': every later byte is ignored. */
  private closed = false;
  /** A new unfinished line began since takeLineBegan() was last asked (lineTimeout's clock). */
  private began = false;

  constructor(
    delimiter: Buffer,
    private readonly limit: number,
    private readonly sink: LineSink,
  ) {
    if (delimiter.length === 0) throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, 'lineEnd must not be empty');
    this.delimiter = delimiter;
    // An ASCII delimiter's bytes never occur inside a UTF-8 sequence: the text path is safe.
    this.delimiterText = delimiter.every((b) => b < 0x80) ? delimiter.toString('latin1') : undefined;
  }

  /** Bytes held for the line not yet terminated. */
  get pendingBytes(): number {
    return this.discarding ? 0 : this.pendingLength;
  }

  /** A line has begun and not ended (also one being discarded past the limit). */
  get midLine(): boolean {
    return this.pendingLength > 0 || this.discarding;
  }

  /**
   * Whether a new unfinished line began since the last call. With midLine, a
   * periodic look tells a line held for long from a new one: no work per chunk.
   */
  takeLineBegan(): boolean {
    const began = this.began;
    this.began = false;
    return began;
  }

  /**
   * Feeds a chunk. Returns the bytes not consumed when the sink stopped the
   * splitter (an empty buffer if none were left), `undefined` when all was
   * consumed or the sink chose 'close' (after which all input is ignored).
   */
  push(chunk: Buffer): Buffer | undefined {
    if (this.closed) return undefined;
    let pos = 0;
    if (this.partial > 0) {
      const end = this.matchAcrossBoundary(chunk);
      if (end < 0) {
        // The chunk was appended as more of a possible delimiter; a shorter
        // border may have turned earlier delimiter bytes into line bytes.
        this.checkLimit();
        return undefined;
      }
      if (end > 0) {
        const p = this.delimiter.length - end; // delimiter bytes already pending
        const line = this.takePending(this.pendingLength - p);
        if (!this.finishLine(line)) return this.closed ? undefined : rest(chunk, end);
        pos = end;
      }
    }
    const delimiter = this.delimiter;
    let textTried = this.delimiterText === undefined;
    for (;;) {
      if (pos >= chunk.length) break;
      if (!textTried && this.pendingLength === 0 && !this.discarding) {
        // Text path: decode every complete line left in the chunk at once and
        // split the string; far fewer trips into C++ than a slice and a decode
        // per line. Taken once per chunk, as soon as no partial line is held
        // (at once, or after the line the previous chunk began).
        textTried = true;
        const encoding = this.sink.textEncoding?.();
        if (encoding) {
          const done = this.pushText(chunk, pos, encoding);
          if (done !== CONTINUE) return done;
          pos = this.textConsumed;
          continue;
        }
      }
      const idx = indexOfFrom(chunk, delimiter, pos);
      if (idx < 0) break;
      let line: Buffer | undefined;
      if (this.pendingLength > 0 || this.discarding) {
        this.append(chunk.subarray(pos, idx));
        line = this.takePending(this.pendingLength);
      } else {
        line = chunk.subarray(pos, idx);
      }
      pos = idx + delimiter.length;
      if (!this.finishLine(line)) return this.closed ? undefined : rest(chunk, pos);
    }
    if (pos < chunk.length) {
      if (this.pendingLength === 0 && !this.discarding) this.began = true;
      // A socket hands out a Buffer per read: keep the chunk itself when all of it is pending.
      this.append(pos === 0 ? chunk : chunk.subarray(pos));
      this.partial = this.tailMatch();
      this.checkLimit();
    }
    return undefined;
  }

  /** Bytes of the chunk the text path consumed (complete lines), counted from its start. */
  private textConsumed = 0;

  /**
   * The text path over the complete lines of `chunk` from `from`. Returns
   * CONTINUE with `textConsumed` set when the byte path is to take the rest
   * (the unfinished line, or all of it when it is not single-byte text), else
   * what push returns.
   */
  private pushText(chunk: Buffer, from: number, encoding: 'latin1' | 'utf8'): Buffer | undefined | typeof CONTINUE {
    this.textConsumed = from;
    const delimiter = this.delimiter;
    const last = chunk.lastIndexOf(delimiter);
    if (last < from) return CONTINUE;
    const end = last + delimiter.length;
    const text = chunk.toString(encoding, from, end);
    if (text.length !== end - from) return CONTINUE; // multi-byte characters: offsets differ, use bytes
    const mark = this.delimiterText!;
    const sink = this.sink;
    let pos = 0;
    for (;;) {
      // A self-overlapping delimiter may leave bytes before `end` unframed: the byte path takes them.
      const idx = text.indexOf(mark, pos);
      if (idx < 0) break;
      const line = text.slice(pos, idx);
      pos = idx + mark.length;
      if (this.limit > 0 && line.length > this.limit) {
        const action = sink.lineLimitExceeded(line.length);
        if (action === 'close') {
          this.close();
          return undefined;
        }
        if (action !== 'keep') continue;
      }
      if (!sink.deliverText!(line)) return rest(chunk, from + pos);
    }
    this.textConsumed = from + pos;
    return CONTINUE;
  }

  /** Removes and returns the partial line (for close, or a switch to raw data). */
  flush(): Buffer | undefined {
    if (this.closed) return undefined;
    const wasDiscarding = this.discarding;
    const pending = this.takePending(this.pendingLength);
    this.discarding = false;
    this.limitReported = false;
    if (wasDiscarding || pending === undefined || pending.length === 0) return undefined;
    return pending;
  }

  /**
   * Removes the last pending byte (line editing: backspace). Returns false when
   * there is none.
   */
  dropLastByte(): boolean {
    if (this.pendingLength === 0 || this.discarding) return false;
    const last = this.parts[this.parts.length - 1];
    if (last.length === 1) this.parts.pop();
    else this.parts[this.parts.length - 1] = last.subarray(0, last.length - 1);
    this.pendingLength--;
    this.partial = this.tailMatch();
    return true;
  }

  /**
   * Whether the held bytes end with `bytes` (line editing: a line end that
   * began in an earlier packet). Also true while discarding, whose kept tail
   * is long enough for any delimiter prefix.
   */
  endsWith(bytes: Buffer): boolean {
    if (bytes.length === 0) return true;
    if (bytes.length > this.pendingLength) return false;
    return lastBytes(this.parts, bytes.length).equals(bytes);
  }

  /**
   * Reports a partial line that grew past the limit. The delimiter bytes it
   * may end with do not count, so a line of exactly `limit` bytes passes
   * whether or not its delimiter arrived split.
   */
  private checkLimit(): void {
    if (this.limit <= 0 || this.discarding || this.limitReported) return;
    const length = this.pendingLength - this.partial;
    if (length <= this.limit) return;
    const action = this.sink.lineLimitExceeded(length);
    if (action === 'keep') this.limitReported = true;
    else if (action === 'close') this.close();
    else this.startDiscarding();
  }

  /** The sink chose 'close': drop everything held and ignore what comes. */
  private close(): void {
    this.closed = true;
    this.parts = [];
    this.pendingLength = 0;
    this.partial = 0;
    this.discarding = false;
    this.limitReported = false;
  }

  /** Delivers a line found, applying the limit; false when the sink stopped us. */
  private finishLine(line: Buffer | undefined): boolean {
    if (this.discarding) {
      this.discarding = false;
      return true;
    }
    const reported = this.limitReported;
    this.limitReported = false;
    const length = line === undefined ? 0 : line.length;
    if (!reported && this.limit > 0 && length > this.limit) {
      const action = this.sink.lineLimitExceeded(length);
      if (action === 'close') {
        this.close();
        return false;
      }
      if (action !== 'keep') return true;
    }
    return this.sink.deliverLine(line ?? EMPTY);
  }

  private startDiscarding(): void {
    // Keep the bytes that may begin the delimiter ending the over-long line.
    const tail = this.partial > 0 ? lastBytes(this.parts, this.partial) : undefined;
    this.parts = tail ? [tail] : [];
    this.pendingLength = tail ? tail.length : 0;
    this.discarding = true;
    this.limitReported = false;
  }

  private append(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (this.discarding) {
      // Keep only what a delimiter split across packets could need.
      const keep = this.delimiter.length - 1;
      if (keep === 0) return;
      this.parts.push(bytes);
      this.pendingLength += bytes.length;
      if (this.pendingLength > keep * 2) {
        const tail = Buffer.concat(this.parts, this.pendingLength).subarray(this.pendingLength - keep);
        this.parts = [tail];
        this.pendingLength = tail.length;
      }
      return;
    }
    this.parts.push(bytes);
    this.pendingLength += bytes.length;
  }

  private takePending(length: number): Buffer | undefined {
    const parts = this.parts;
    this.parts = [];
    this.pendingLength = 0;
    this.partial = 0;
    if (this.discarding) return undefined;
    if (parts.length === 0) return undefined;
    if (parts.length === 1) return parts[0].subarray(0, length);
    return Buffer.concat(parts, length);
  }

  /**
   * The pending bytes end with `partial` bytes of a delimiter: does this chunk
   * complete it? Returns the index in `chunk` just after the delimiter, 0 when
   * there is no delimiter across the boundary, or -1 when the whole chunk is
   * still a possible delimiter prefix (and was appended).
   */
  private matchAcrossBoundary(chunk: Buffer): number {
    const d = this.delimiter;
    for (let p = this.partial; p > 0; p--) {
      // p must be a border of the matched prefix: d[0..p) === d[partial-p..partial).
      if (p !== this.partial && d.compare(d, this.partial - p, this.partial, 0, p) !== 0) continue;
      const need = d.length - p;
      const avail = Math.min(need, chunk.length);
      if (chunk.compare(d, p, p + avail, 0, avail) !== 0) continue;
      if (avail === need) return need;
      this.append(chunk);
      this.partial = p + avail;
      return -1;
    }
    this.partial = 0;
    return 0;
  }

  /** The longest proper delimiter prefix that the pending bytes end with. */
  private tailMatch(): number {
    const d = this.delimiter;
    if (d.length === 1 || this.pendingLength === 0) return 0;
    const want = Math.min(d.length - 1, this.pendingLength);
    // Byte by byte from the end: a delimiter is a few bytes, and this runs for
    // every packet that leaves a partial line (one-byte packets: every packet).
    for (let p = want; p > 0; p--) {
      let match = true;
      for (let i = 0; i < p && match; i++) match = this.byteFromEnd(p - 1 - i) === d[i];
      if (match) return p;
    }
    return 0;
  }

  /** The pending byte `back` places before the last one (0: the last). */
  private byteFromEnd(back: number): number {
    const parts = this.parts;
    for (let i = parts.length - 1; i >= 0; i--) {
      const part = parts[i];
      if (back < part.length) return part[part.length - 1 - back];
      back -= part.length;
    }
    return -1;
  }
}

const EMPTY = Buffer.alloc(0);
const CONTINUE = Symbol('continue');

/** Below this many bytes a JavaScript scan beats a call into C++ (Buffer.indexOf). */
const SHORT_SCAN = 16;

/** chunk.indexOf(delimiter, from), scanning short stretches in JavaScript. */
function indexOfFrom(chunk: Buffer, delimiter: Buffer, from: number): number {
  const last = chunk.length - delimiter.length;
  if (chunk.length - from >= SHORT_SCAN) return chunk.indexOf(delimiter, from);
  const first = delimiter[0];
  for (let i = from; i <= last; i++) {
    if (chunk[i] !== first) continue;
    let j = 1;
    while (j < delimiter.length && chunk[i + j] === delimiter[j]) j++;
    if (j === delimiter.length) return i;
  }
  return -1;
}

function rest(chunk: Buffer, pos: number): Buffer | undefined {
  return pos < chunk.length ? chunk.subarray(pos) : EMPTY;
}

function lastBytes(parts: Buffer[], count: number): Buffer {
  const out = Buffer.allocUnsafe(count);
  let filled = 0;
  for (let i = parts.length - 1; i >= 0 && filled < count; i--) {
    const part = parts[i];
    const take = Math.min(part.length, count - filled);
    part.copy(out, count - filled - take, part.length - take);
    filled += take;
  }
  return out;
}
