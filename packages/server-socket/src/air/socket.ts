import type { EventEmitter } from 'node:events';
import type { WSocketEvents } from '@ics-ts/wsocket';
import { TWSocketClient } from '@ics-ts/wsocket-server';
import { DEFAULT_MAX_BUFFERED, InputBuffer } from '../input-buffer';
import { ByteArray } from './byte-array';
import { EOFError, IOError } from './errors';
import type { AirEvent, IOErrorEvent, ProgressEvent } from './events';
import { ICS_ERR, icsError } from '@ics-ts/wsocket';

export interface AirSocketEvents extends WSocketEvents {
  /** Bytes arrived (ProgressEvent.SOCKET_DATA); read them with readBytes/readUTFBytes. */
  socketData: [event: ProgressEvent<AirSocket>];
  /** The peer closed the connection (Event.CLOSE); not dispatched on our own close(). */
  close: [event: AirEvent<AirSocket>];
  /** The connection failed (IOErrorEvent.IO_ERROR). */
  ioError: [event: IOErrorEvent<AirSocket>];
}

type Listener<K extends keyof AirSocketEvents> = (...args: AirSocketEvents[K]) => void;

const WHERE = 'AirSocket';

/**
 * flash.net.Socket as the AIR ServerSocket's connect event hands it, on
 * TWSocketClient in raw mode. Received bytes wait for readBytes/readUTFBytes in
 * a bounded buffer (`bytesAvailable`): at `maxBuffered` bytes the socket stops
 * reading until the application reads. Writes are held until flush(), as in AIR.
 */
export class AirSocket extends TWSocketClient {
  /** Most bytes held in bytesAvailable before reading stops; set by the server socket. Default 1 MiB. */
  maxBuffered = DEFAULT_MAX_BUFFERED;
  private input: InputBuffer | undefined;
  private output: Buffer[] = [];
  private closedHere = false;

  get connected(): boolean {
    return this.state === 'connected';
  }

  get remoteAddress(): string {
    return this.peerAddr;
  }

  get remotePort(): number {
    return this.peerPort;
  }

  get localAddress(): string {
    return this.localAddr;
  }

  /** Bytes received and not read yet. */
  get bytesAvailable(): number {
    return this.input?.length ?? 0;
  }

  /**
   * Reads `length` bytes (0: every byte available) into `bytes` at `offset`.
   * EOFError when fewer are available.
   */
  readBytes(bytes: ByteArray | Uint8Array, offset = 0, length = 0): void {
    const count = length === 0 ? this.bytesAvailable : length;
    if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(count) || count < 0) {
      throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `${WHERE}.readBytes: offset ${offset} and length ${length} must be integers >= 0`);
    }
    if (count > this.bytesAvailable) throw new EOFError(`${WHERE}.readBytes: ${count} bytes asked, ${this.bytesAvailable} available`);
    if (bytes instanceof Uint8Array && offset + count > bytes.length) {
      throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `${WHERE}.readBytes: ${count} bytes at offset ${offset} do not fit ${bytes.length} bytes`);
    }
    if (count === 0) return;
    const data = this.input!.take(count, this.rawSocket);
    if (bytes instanceof ByteArray) bytes.writeAt(offset, data);
    else bytes.set(data, offset);
  }

  /** Reads `length` bytes as UTF-8 text. EOFError when fewer are available. */
  readUTFBytes(length: number): string {
    if (!Number.isInteger(length) || length < 0) throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `${WHERE}.readUTFBytes: length must be an integer >= 0, got ${length}`);
    if (length > this.bytesAvailable) throw new EOFError(`${WHERE}.readUTFBytes: ${length} bytes asked, ${this.bytesAvailable} available`);
    return length === 0 ? '' : this.input!.take(length, this.rawSocket).toString('utf8');
  }

  /** Holds `text` as UTF-8 until flush(). */
  writeUTFBytes(text: string): void {
    this.output.push(Buffer.from(text, 'utf8'));
  }

  /** Holds `length` bytes of `bytes` from `offset` (0 = to its end) until flush(). */
  writeBytes(bytes: ByteArray | Uint8Array, offset = 0, length = 0): void {
    const source = bytes instanceof ByteArray ? bytes.bytes : bytes;
    const end = length === 0 ? source.length : offset + length;
    if (offset < 0 || end > source.length || end < offset) {
      throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `${WHERE}.writeBytes: offset ${offset} and length ${length} do not fit ${source.length} bytes`);
    }
    this.output.push(Buffer.from(source.subarray(offset, end)));
  }

  /** Sends what was written since the last flush. IOError when the socket is not open. */
  flush(): void {
    if (this.state !== 'connected') throw new IOError(`${WHERE}.flush: the socket is not open`);
    const held = this.output;
    if (held.length === 0) return;
    this.output = [];
    this.send(held.length === 1 ? held[0] : Buffer.concat(held));
  }

  override close(): void {
    this.closedHere = true;
    this.output = [];
    super.close();
  }

  override abort(): void {
    this.closedHere = true;
    super.abort();
  }

  /** AS3 addEventListener: on(). */
  addEventListener<K extends keyof AirSocketEvents>(type: K, listener: Listener<K>): void {
    this.on(type, listener);
  }

  /** AS3 removeEventListener: off(). */
  removeEventListener<K extends keyof AirSocketEvents>(type: K, listener: Listener<K>): void {
    this.off(type, listener);
  }

  protected override onData(data: Buffer): void {
    (this.input ??= new InputBuffer(this.maxBuffered)).push(data, this.rawSocket);
    emitEvent(this, 'socketData', { type: 'socketData', target: this, bytesLoaded: data.length, bytesTotal: 0 });
  }

  protected override onSessionClosed(error: Error | undefined): void {
    super.onSessionClosed(error);
    this.output = [];
    if (error && this.listenerCount('ioError') > 0) {
      const code = (error as NodeJS.ErrnoException).code;
      emitEvent(this, 'ioError', { type: 'ioError', target: this, text: error.message, code });
    }
    if (!this.closedHere) emitEvent(this, 'close', { type: 'close', target: this });
  }
}

// Typed events beside TWSocket's (declaration merging: no runtime cost).
export interface AirSocket {
  on<K extends keyof AirSocketEvents>(event: K, listener: Listener<K>): this;
  once<K extends keyof AirSocketEvents>(event: K, listener: Listener<K>): this;
  off<K extends keyof AirSocketEvents>(event: K, listener: Listener<K>): this;
}

function emitEvent<K extends keyof AirSocketEvents>(socket: AirSocket, event: K, ...args: AirSocketEvents[K]): void {
  (socket as unknown as EventEmitter).emit(event, ...args);
}
