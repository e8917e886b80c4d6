import { describe, ICS_ERR, icsError } from '@ics-ts/wsocket';
import { TWSocketClient } from '@ics-ts/wsocket-server';
import { InputBuffer } from '../input-buffer';
import { IOException, SERVER_SOCKET_CLOSED } from './io-exception';

/** Bytes a TotalCross socket holds for readBytes() before it stops reading: 64 KiB (see the guide: connections may wait in the accept queue). */
export const TOTALCROSS_MAX_BUFFERED = 64 * 1024;

const WHERE = 'TotalCrossSocket';

interface PendingRead {
  buf: Uint8Array;
  start: number;
  count: number;
  resolve: (n: number) => void;
  reject: (error: Error) => void;
}

/**
 * The socket `TotalCrossServerSocket.accept()` returns (totalcross.net.Socket on
 * the server side), on TWSocketClient in raw mode. What arrives waits in a
 * bounded buffer for readBytes(): at `maxBuffered` bytes the socket stops
 * reading until the application reads. Once its server socket is closed, every
 * read and write throws IOException, as the seed says.
 */
export class TotalCrossSocket extends TWSocketClient {
  /** Set by the server socket before the connection is attached. */
  maxBuffered = TOTALCROSS_MAX_BUFFERED;
  private input: InputBuffer | undefined;
  private pending: PendingRead | undefined;
  private ended = false;
  private serverClosed = false;

  /** The peer's address. */
  getHost(): string {
    return this.peerAddr;
  }

  /** The peer's port. */
  getPort(): number {
    return this.peerPort;
  }

  /** Bytes received and not read yet. */
  get bytesAvailable(): number {
    return this.input?.length ?? 0;
  }

  /**
   * Reads up to `count` bytes into `buf` at `start`: resolves with the number
   * read once at least one byte is there, or -1 at the end of the stream.
   * One read waits at a time.
   */
  readBytes(buf: Uint8Array, start = 0, count = buf.length - start): Promise<number> {
    if (!(buf instanceof Uint8Array)) return Promise.reject(icsError(TypeError, ICS_ERR.INVALID_OPTION, `${WHERE}: readBytes: buf must be a Uint8Array, got ${describe(buf)}`));
    if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > buf.length) {
      return Promise.reject(icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `${WHERE}: readBytes: start ${start} and count ${count} do not fit a buffer of ${buf.length} bytes`));
    }
    if (this.serverClosed) return Promise.reject(new IOException(`${WHERE}: ${SERVER_SOCKET_CLOSED}`));
    if (this.pending) return Promise.reject(icsError(Error, ICS_ERR.INVALID_STATE, `${WHERE}: readBytes: another read is already waiting`));
    if (count === 0) return Promise.resolve(0);
    if (this.bytesAvailable > 0) return Promise.resolve(this.copyInto(buf, start, count));
    if (this.ended) return Promise.resolve(-1);
    return new Promise((resolve, reject) => {
      this.pending = { buf, start, count, resolve, reject };
    });
  }

  /** Queues bytes (or text, in the socket's encoding) for sending; returns how many bytes were queued. */
  writeBytes(data: Uint8Array | string, start = 0, count?: number): number {
    if (this.serverClosed) throw new IOException(`${WHERE}: ${SERVER_SOCKET_CLOSED}`);
    if (this.state !== 'connected') throw new IOException(`${WHERE}: the socket is closed`);
    const bytes = typeof data === 'string' ? Buffer.from(data, this.encoding) : data;
    const end = count === undefined ? bytes.length : start + count;
    if (!Number.isInteger(start) || start < 0 || end > bytes.length || end < start) {
      throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `${WHERE}: writeBytes: start ${start} and count ${count} do not fit ${bytes.length} bytes`);
    }
    this.send(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end));
    return end - start;
  }

  /** @internal The server socket closed while this socket was open: reads and writes fail from now on. */
  serverSocketClosed(): void {
    this.serverClosed = true;
    const pending = this.pending;
    this.pending = undefined;
    pending?.reject(new IOException(`${WHERE}: ${SERVER_SOCKET_CLOSED}`));
    this.input?.clear();
    this.abort();
  }

  protected override onData(data: Buffer): void {
    (this.input ??= new InputBuffer(this.maxBuffered)).push(data, this.rawSocket);
    const pending = this.pending;
    if (pending) {
      this.pending = undefined;
      pending.resolve(this.copyInto(pending.buf, pending.start, pending.count));
    }
  }

  protected override onSessionClosed(error: Error | undefined): void {
    this.ended = true;
    const pending = this.pending;
    this.pending = undefined;
    pending?.resolve(-1);
    super.onSessionClosed(error);
  }

  private copyInto(buf: Uint8Array, start: number, count: number): number {
    const taken = this.input!.take(count, this.rawSocket);
    buf.set(taken, start);
    return taken.length;
  }
}
