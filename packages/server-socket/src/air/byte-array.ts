import { EOFError } from './errors';
import { ICS_ERR, icsError } from '@ics-ts/wsocket';

/**
 * A small flash.utils.ByteArray: a growable byte buffer with a read/write
 * `position`, enough for Socket.readBytes and UTF-8 text. Writing past the end
 * grows it; reading past the end throws EOFError.
 */
export class ByteArray {
  private store: Buffer = Buffer.alloc(0);
  private size = 0;
  /** Where the next read or write happens. */
  position = 0;

  get length(): number {
    return this.size;
  }

  /** Bytes left to read from `position`. */
  get bytesAvailable(): number {
    return Math.max(0, this.size - this.position);
  }

  /** The content, as a view (valid until the next write). */
  get bytes(): Buffer {
    return this.store.subarray(0, this.size);
  }

  /** Writes `length` bytes of `bytes` from `offset` (0 = to its end) at `position`. */
  writeBytes(bytes: Uint8Array, offset = 0, length = 0): void {
    const end = length === 0 ? bytes.length : offset + length;
    if (offset < 0 || end > bytes.length || end < offset) {
      throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `ByteArray.writeBytes: offset ${offset} and length ${length} do not fit ${bytes.length} bytes`);
    }
    this.writeAt(this.position, bytes.subarray(offset, end));
    this.position += end - offset;
  }

  writeUTFBytes(text: string): void {
    this.writeBytes(Buffer.from(text, 'utf8'));
  }

  /** Reads `length` bytes from `position` as UTF-8. */
  readUTFBytes(length: number): string {
    if (length > this.bytesAvailable) throw new EOFError(`ByteArray.readUTFBytes: ${length} bytes asked, ${this.bytesAvailable} available`);
    const text = this.store.toString('utf8', this.position, this.position + length);
    this.position += length;
    return text;
  }

  /** The whole content as UTF-8 (AS3 ByteArray.toString). */
  toString(): string {
    return this.store.toString('utf8', 0, this.size);
  }

  /** @internal Writes at `at` (growing as needed), without moving `position`. */
  writeAt(at: number, bytes: Uint8Array): void {
    const end = at + bytes.length;
    if (end > this.store.length) {
      const grown = Buffer.alloc(Math.max(end, this.store.length * 2, 64));
      this.store.copy(grown, 0, 0, this.size);
      this.store = grown;
    }
    this.store.set(bytes, at);
    if (end > this.size) this.size = end;
  }
}
