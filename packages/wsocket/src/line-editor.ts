/**
 * ICS LineEdit for telnet-style clients that send every keystroke: backspace
 * (BS, and DEL as most terminals send it) erases the previous character of the
 * line being typed, TAB expands to spaces up to the next multiple-of-8 column.
 * With echo on, what the user should see is returned for sending back
 * (an erase echoes "BS space BS").
 */

const BS = 0x08;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const DEL = 0x7f;
const SPACE = 0x20;
const ERASE = Buffer.from([BS, SPACE, BS]);

export interface ErasableLine {
  /** Removes the last byte of the line held so far; false if there is none. */
  dropLastByte(): boolean;
}

export interface EditedBytes {
  data: Buffer;
  echo: Buffer | undefined;
}

export class LineEditor {
  private column = 0;

  edit(chunk: Buffer, held: ErasableLine, echo: boolean): EditedBytes {
    const out: number[] = [];
    const seen: number[] = [];
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      if (byte === BS || byte === DEL) {
        const erased = out.length > 0 && out[out.length - 1] !== LF ? (out.pop(), true) : out.length === 0 && held.dropLastByte();
        if (erased) {
          if (this.column > 0) this.column--;
          if (echo) for (const b of ERASE) seen.push(b);
        }
        continue;
      }
      if (byte === TAB) {
        const spaces = 8 - (this.column % 8);
        for (let s = 0; s < spaces; s++) out.push(SPACE);
        if (echo) for (let s = 0; s < spaces; s++) seen.push(SPACE);
        this.column += spaces;
        continue;
      }
      out.push(byte);
      if (echo) seen.push(byte);
      this.column = byte === CR || byte === LF ? 0 : this.column + 1;
    }
    return { data: Buffer.from(out), echo: echo && seen.length > 0 ? Buffer.from(seen) : undefined };
  }
}
