import type { EventEmitter } from 'node:events';
import type { WSocketEvents } from '@ics-ts/wsocket';
import { TWSocketClient } from '@ics-ts/wsocket-server';
import { DEFAULT_MAX_BUFFERED, InputBuffer, checkBufferLimit } from '../input-buffer';
import { XojoErrorCode, xojoErrorCode } from './error-codes';
import { ICS_ERR, icsError } from '@ics-ts/wsocket';

export interface XojoTCPSocketEvents extends WSocketEvents {
  /** The server handed this socket a connection (Xojo Connected). */
  connected: [];
  /** Bytes arrived; read them with readAll() (Xojo DataAvailable). */
  dataAvailable: [];
  /** Everything written so far was handed to the system (Xojo SendComplete). */
  sendComplete: [userAborted: boolean];
  /** The connection failed or the peer closed it: 102 lost connection (Xojo Error). */
  error: [errorCode: number, error: Error];
}

type Listener<K extends keyof XojoTCPSocketEvents> = (...args: XojoTCPSocketEvents[K]) => void;

const WHERE = 'XojoTCPSocket';

/**
 * The socket a Xojo ServerSocket hands a connection to (Xojo's TCPSocket on the
 * server side), built on TWSocketClient in raw mode. Subclass it as Xojo code
 * subclasses TCPSocket and override `onConnected`, `onDataAvailable`,
 * `onSendComplete`, `onError`; or listen to the events of the same names.
 * What arrives waits for `readAll()` in a bounded buffer: at `maxBuffered`
 * bytes the socket stops reading (the peer is slowed by TCP, nothing is lost)
 * until readAll() empties it.
 */
export class XojoTCPSocket extends TWSocketClient {
  /** The last Xojo error number (0: none yet), as Xojo's LastErrorCode. */
  lastErrorCode = 0;
  private maxBufferedBytes = DEFAULT_MAX_BUFFERED;
  private input: InputBuffer | undefined;
  private sendCompletePending = false;
  private closedHere = false;

  /** Most bytes held for readAll() before reading stops. Default 1 MiB. */
  get maxBuffered(): number {
    return this.maxBufferedBytes;
  }

  set maxBuffered(bytes: number) {
    this.maxBufferedBytes = checkBufferLimit(bytes, WHERE, 'maxBuffered');
  }

  /** Xojo IsConnected. */
  get isConnected(): boolean {
    return this.state === 'connected';
  }

  /** The peer's address (Xojo RemoteAddress). */
  get remoteAddress(): string {
    return this.peerAddr;
  }

  /** Bytes waiting for readAll() (Xojo BytesAvailable). */
  get bytesAvailable(): number {
    return this.input?.length ?? 0;
  }

  /** Everything received so far, decoded (Xojo ReadAll); '' when nothing is waiting. */
  readAll(encoding: BufferEncoding = this.encoding): string {
    return this.readAllBytes().toString(encoding);
  }

  /** Everything received so far, as bytes. */
  readAllBytes(): Buffer {
    const input = this.input;
    if (!input || input.length === 0) return EMPTY;
    return input.take(undefined, this.rawSocket);
  }

  /** Queues data for sending (Xojo Write); sendComplete follows once it has been handed to the system. */
  write(data: string | Buffer): void {
    const flushed = this.send(data);
    // Flushed at once: report it after this event, once for every write of the same turn.
    if (flushed && !this.sendCompletePending) {
      this.sendCompletePending = true;
      setImmediate(reportSendComplete, this);
    }
  }

  override close(): void {
    this.closedHere = true;
    super.close();
  }

  override abort(): void {
    this.closedHere = true;
    super.abort();
  }

  // ---- Xojo's events as overridable methods ----------------------------------

  protected onConnected(): void {
    emitEvent(this, 'connected');
  }

  protected onDataAvailable(): void {
    emitEvent(this, 'dataAvailable');
  }

  protected onSendComplete(userAborted: boolean): void {
    emitEvent(this, 'sendComplete', userAborted);
  }

  /** Emitted only when someone listens: an unheard 'error' must not throw inside the socket's close. */
  protected onError(errorCode: number, error: Error): void {
    if (this.listenerCount('error') > 0) emitEvent(this, 'error', errorCode, error);
  }

  // ---- TWSocket hooks -----------------------------------------------------------

  protected override onSessionConnected(): void {
    super.onSessionConnected();
    this.onConnected();
  }

  protected override onData(data: Buffer): void {
    (this.input ??= new InputBuffer(this.maxBufferedBytes)).push(data, this.rawSocket);
    this.onDataAvailable();
  }

  protected override onDataSent(): void {
    super.onDataSent();
    this.onSendComplete(false);
  }

  protected override onSessionClosed(error: Error | undefined): void {
    super.onSessionClosed(error);
    if (this.closedHere && !error) return;
    // Xojo reports the peer's close as error 102 too: that is how its sockets learn of it.
    const code = error ? xojoErrorCode(error) : XojoErrorCode.lostConnection;
    this.lastErrorCode = code;
    this.onError(code, error ?? icsError(Error, ICS_ERR.PEER_CLOSED, `${WHERE}: the peer closed the connection (Xojo error ${code}, lost connection)`));
  }

  /** @internal */
  fireSendComplete(): void {
    this.sendCompletePending = false;
    if (this.state === 'connected' || this.state === 'closing') {
      try {
        this.onSendComplete(false);
      } catch (error) {
        this.handleBgException(error);
      }
    }
  }
}

// Typed events beside TWSocket's (declaration merging: no runtime cost).
export interface XojoTCPSocket {
  on<K extends keyof XojoTCPSocketEvents>(event: K, listener: Listener<K>): this;
  once<K extends keyof XojoTCPSocketEvents>(event: K, listener: Listener<K>): this;
  off<K extends keyof XojoTCPSocketEvents>(event: K, listener: Listener<K>): this;
}

const EMPTY = Buffer.alloc(0);

function emitEvent<K extends keyof XojoTCPSocketEvents>(socket: XojoTCPSocket, event: K, ...args: XojoTCPSocketEvents[K]): void {
  (socket as unknown as EventEmitter).emit(event, ...args);
}

function reportSendComplete(socket: XojoTCPSocket): void {
  socket.fireSendComplete();
}
