import type * as net from 'node:net';
import { ICS_ERR, icsError } from '@ics-ts/wsocket';

/** Bytes held for a reader before the socket stops reading, unless a facade is told otherwise: 1 MiB. */
export const DEFAULT_MAX_BUFFERED = 1024 * 1024;

/**
 * Received bytes waiting for the application to read them (Xojo's ReadAll, AIR's
 * bytesAvailable, TotalCross's readBytes). Chunks are kept as they came and
 * joined once, when read. Bounded: at `limit` bytes the socket is paused (TCP
 * backpressure reaches the peer, nothing is dropped) and resumed when a read
 * takes the total below it, so a peer sending faster than the application reads
 * holds at most `limit` bytes plus one chunk here.
 */
export class InputBuffer {
  private chunks: Buffer[] = [];
  private total = 0;
  private paused = false;

  constructor(readonly limit: number) {}

  get length(): number {
    return this.total;
  }

  /** The socket is paused because the buffer is full. */
  get full(): boolean {
    return this.paused;
  }

  push(chunk: Buffer, socket: net.Socket | undefined): void {
    this.chunks.push(chunk);
    this.total += chunk.length;
    if (this.total >= this.limit && !this.paused && socket) {
      this.paused = true;
      socket.pause();
    }
  }

  /** Takes up to `max` bytes (all of them when `max` is undefined). */
  take(max: number | undefined, socket: net.Socket | undefined): Buffer {
    const count = max === undefined || max >= this.total ? this.total : max;
    let taken: Buffer;
    if (count === this.total) {
      taken = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.total);
      this.chunks = [];
    } else {
      taken = Buffer.allocUnsafe(count);
      let filled = 0;
      while (filled < count) {
        const head = this.chunks[0];
        const need = count - filled;
        if (head.length <= need) {
          head.copy(taken, filled);
          filled += head.length;
          this.chunks.shift();
        } else {
          head.copy(taken, filled, 0, need);
          this.chunks[0] = head.subarray(need);
          filled += need;
        }
      }
    }
    this.total -= count;
    if (this.paused && this.total < this.limit && socket) {
      this.paused = false;
      socket.resume();
    }
    return taken;
  }

  /** Forgets everything (the connection is gone). */
  clear(): void {
    this.chunks = [];
    this.total = 0;
  }
}

/** A buffer limit option: an integer >= 1. */
export function checkBufferLimit(value: unknown, where: string, option: string): number {
  if (!Number.isInteger(value) || (value as number) < 1) {
    throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `${where}: option ${option} must be an integer >= 1 (bytes), got ${String(value)}`);
  }
  return value as number;
}
