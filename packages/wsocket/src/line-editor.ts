import { ICS_ERR, icsError } from './errors';
/**
 * ICS LineEdit for telnet-style clients that send every keystroke: backspace
 * (BS, and DEL as most terminals send it) erases the previous character of the
 * line being typed, TAB expands to spaces up to the next multiple-of-8 column.
 * With echo on, what the user should see is returned for sending back
 * (an erase echoes "BS space BS").
 *
 * An erase never crosses a line end: the editor knows the line end the
 * splitter frames with, so a BS right after "ab;" (lineEnd ';') erases
 * nothing rather than joining two lines.
 */

const BS = 0x08;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const DEL = 0x7f;
const SPACE = 0x20;
const ERASE = Buffer.from([BS, SPACE, BS]);

/** The line being typed, as far as the splitter already holds it. */
export interface ErasableLine {
  /** Removes the last byte of the line held so far; false if there is none. */
  dropLastByte(): boolean;
  /** Whether the held bytes end with `bytes` (a line end begun in an earlier packet). */
  endsWith(bytes: Buffer): boolean;
}

export interface EditedBytes {
  data: Buffer;
  echo: Buffer | undefined;
}

export class LineEditor {
  private column = 0;

  /** `lineEnd` is the delimiter the splitter frames with (LF when bare LF is accepted). */
  constructor(private readonly lineEnd: Buffer) {
    if (lineEnd.length === 0) throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, 'lineEnd must not be empty');
  }

  edit(chunk: Buffer, held: ErasableLine, echo: boolean): EditedBytes {
    const out: number[] = [];
    const seen: number[] = [];
    // out[0..lineStart) belongs to lines already ended in this chunk: never erased.
    let lineStart = 0;
    const put = (byte: number): void => {
      out.push(byte);
      if (echo) seen.push(byte);
      if (this.endsLine(out, lineStart, held)) {
        lineStart = out.length;
        this.column = 0;
      } else {
        this.column = byte === CR || byte === LF ? 0 : this.column + 1;
      }
    };
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      if (byte === BS || byte === DEL) {
        const erased = out.length > lineStart ? (out.pop(), true) : lineStart === 0 && held.dropLastByte();
        if (erased) {
          if (this.column > 0) this.column--;
          if (echo) for (const b of ERASE) seen.push(b);
        }
      } else if (byte === TAB) {
        for (let spaces = 8 - (this.column % 8); spaces > 0; spaces--) put(SPACE);
      } else {
        put(byte);
      }
    }
    return { data: Buffer.from(out), echo: echo && seen.length > 0 ? Buffer.from(seen) : undefined };
  }

  /** Does the byte just put complete a line end (possibly begun in the held bytes)? */
  private endsLine(out: number[], lineStart: number, held: ErasableLine): boolean {
    const d = this.lineEnd;
    const n = d.length;
    if (out[out.length - 1] !== d[n - 1]) return false;
    const inLine = out.length - lineStart;
    const inOut = Math.min(n, inLine);
    for (let k = 1; k <= inOut; k++) {
      if (out[out.length - k] !== d[n - k]) return false;
    }
    if (inOut === n) return true;
    // The line began in this chunk: too short to hold the whole line end.
    if (lineStart > 0) return false;
    return held.endsWith(d.subarray(0, n - inOut));
  }
}
