import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import { LineEditor } from './line-editor';
import { LineLimitAction, LineSink, LineSplitter } from './line-splitter';
import { WSOCKET_DEFAULTS, WSocketOptions, validateWSocketOptions } from './options';
import { DEFAULT_SETTINGS, SettingsChange, WSocketSettings, resolveSettings } from './settings';
import { SocketState } from './socket-state';

export interface WSocketEvents {
  sessionConnected: [];
  line: [line: string];
  data: [data: Buffer];
  dataSent: [];
  lineLimitExceeded: [length: number];
  sessionClosed: [error: Error | undefined];
  changeState: [state: SocketState, previous: SocketState];
  bgException: [error: unknown];
}

/** A connection's addresses as the system reported them (IPv4-mapped IPv6 kept). */
export interface SocketAddresses {
  readonly peerAddrRaw: string;
  readonly peerPort: number;
  readonly localAddrRaw: string;
  readonly localPort: number;
}

const NO_ADDRESSES: SocketAddresses = Object.freeze({ peerAddrRaw: '', peerPort: 0, localAddrRaw: '', localPort: 0 });

/** Node calls socket listeners with the socket as `this`; this key leads back to its TWSocket. */
const OWNER = Symbol('ics-ts.wsocket');
type OwnedSocket = net.Socket & { [OWNER]?: TWSocket };

const LF = 0x0a;

/**
 * TWSocket: one TCP (or TLS) connection, ICS style. Attach it to an accepted
 * socket (server side) or `connect()` it (client side); receive lines or raw
 * data through overridable methods (or the matching events); send with
 * backpressure; close gracefully, delayed, or at once.
 */
export class TWSocket extends EventEmitter<WSocketEvents> implements LineSink {
  private socket: OwnedSocket | undefined;
  private currentState: SocketState = SocketState.closed;
  private aborted = false;
  private error: Error | undefined;
  private splitter: LineSplitter | undefined;
  private editor: LineEditor | undefined;
  /** A line option changed inside a line handler: the rest of the packet needs a new splitter. */
  private reframe = false;
  private delivering = false;
  private lineModeOn: boolean;
  /** lineEnd, lineAcceptLf, lineLimit, lineEcho, lineEdit, encoding, noDelay, closeTimeout: shared, see settings.ts. */
  private settings: WSocketSettings;
  /** Read once when connected and kept: they stay readable after close. */
  private addresses: SocketAddresses = NO_ADDRESSES;
  /** A 'drain' listener is added at the first send that has to buffer, not per connection. */
  private drainWatched = false;

  constructor(options: WSocketOptions = {}) {
    super();
    // Node's emitter creates its listener store on the first on(): an idle
    // connection nobody listens to then holds none (about 200 bytes each).
    (this as unknown as { _events: undefined })._events = undefined;
    validateWSocketOptions(options);
    this.lineModeOn = options.lineMode ?? WSOCKET_DEFAULTS.lineMode;
    this.settings = resolveSettings(DEFAULT_SETTINGS, options);
  }

  /** Validates and applies a settings change. */
  private change(change: SettingsChange): void {
    validateWSocketOptions(change);
    this.settings = resolveSettings(this.settings, change);
  }

  /** Small writes go out at once (Nagle off). */
  get noDelay(): boolean {
    return this.settings.noDelay;
  }

  set noDelay(on: boolean) {
    this.change({ noDelay: on });
    if (this.socket && !this.socket.destroyed) this.socket.setNoDelay(on);
  }

  /** See WSocketOptions.closeTimeout. */
  get closeTimeout(): number {
    return this.settings.closeTimeout;
  }

  set closeTimeout(ms: number) {
    this.change({ closeTimeout: ms });
  }

  /** Send every received byte back (telnet-style clients that do not echo locally). */
  get lineEcho(): boolean {
    return this.settings.lineEcho;
  }

  set lineEcho(on: boolean) {
    this.change({ lineEcho: on });
  }

  /** Backspace/DEL erase, TAB expands (line mode). */
  get lineEdit(): boolean {
    return this.settings.lineEdit;
  }

  set lineEdit(on: boolean) {
    this.change({ lineEdit: on });
  }

  /** Encoding of lines delivered to `onLine` and of strings sent. */
  get encoding(): BufferEncoding {
    return this.settings.encoding;
  }

  set encoding(encoding: BufferEncoding) {
    this.change({ encoding });
  }

  // ---- configuration ---------------------------------------------------

  get lineMode(): boolean {
    return this.lineModeOn;
  }

  /**
   * Switching line mode off hands the bytes of an unfinished line to `onData`
   * (after the current line's handler returns, when switched inside it), so
   * nothing is lost or seen twice.
   */
  set lineMode(on: boolean) {
    validateWSocketOptions({ lineMode: on });
    if (on === this.lineModeOn) return;
    this.lineModeOn = on;
    if (!on && !this.delivering) {
      const pending = this.splitter?.flush();
      this.dropSplitter();
      if (pending && this.currentState === SocketState.connected) this.dispatchData(pending);
    }
  }

  get lineEnd(): string {
    return this.settings.lineEndText;
  }

  set lineEnd(value: string | Buffer) {
    this.change({ lineEnd: value });
    this.rebuildSplitter();
  }

  get lineAcceptLf(): boolean {
    return this.settings.lineAcceptLf;
  }

  set lineAcceptLf(on: boolean) {
    this.change({ lineAcceptLf: on });
    this.rebuildSplitter();
  }

  get lineLimit(): number {
    return this.settings.lineLimit;
  }

  set lineLimit(value: number) {
    this.change({ lineLimit: value });
    this.rebuildSplitter();
  }

  // ---- facts -------------------------------------------------------------

  get state(): SocketState {
    return this.currentState;
  }

  /** Peer address; IPv4 peers of a dual-stack listener read as plain IPv4. Kept after close. */
  get peerAddr(): string {
    return unmapIPv4(this.addresses.peerAddrRaw);
  }

  /** Peer address as the system reported it (`::ffff:127.0.0.1` on a dual-stack listener). */
  get peerAddrRaw(): string {
    return this.addresses.peerAddrRaw;
  }

  get peerPort(): number {
    return this.addresses.peerPort;
  }

  get localAddr(): string {
    return unmapIPv4(this.addresses.localAddrRaw);
  }

  /** Local address as the system reported it (`::ffff:127.0.0.1` on a dual-stack listener). */
  get localAddrRaw(): string {
    return this.addresses.localAddrRaw;
  }

  get localPort(): number {
    return this.addresses.localPort;
  }

  get bytesReceived(): number {
    return this.socket?.bytesRead ?? 0;
  }

  get bytesSent(): number {
    return this.socket?.bytesWritten ?? 0;
  }

  /** Bytes accepted by `send` and not yet handed to the system. */
  get bufferedBytes(): number {
    return this.socket?.writableLength ?? 0;
  }

  /** The error that ended the session, if one did. */
  get lastError(): Error | undefined {
    return this.error;
  }

  /** The underlying Node socket (a tls.TLSSocket on TLS listeners). */
  get rawSocket(): net.Socket | undefined {
    return this.socket;
  }

  // ---- opening ------------------------------------------------------------

  /**
   * Takes over an accepted (connected) socket: the server side. A server that
   * already knows the connection's addresses passes them, saving the system
   * calls that would read them again.
   */
  attach(socket: net.Socket, addresses?: SocketAddresses): void {
    if (this.socket) throw new Error('TWSocket.attach: this TWSocket already has a socket');
    this.bind(socket);
    this.markConnected(addresses);
  }

  /** Connects to host:port: the client side. Resolves once connected. */
  connect(host: string, port: number, options: Omit<net.TcpNetConnectOpts, 'host' | 'port'> = {}): Promise<void> {
    if (this.socket) return Promise.reject(new Error('TWSocket.connect: this TWSocket already has a socket'));
    const socket = net.connect({ ...options, host, port, allowHalfOpen: true });
    this.bind(socket);
    this.setState(SocketState.connecting);
    return new Promise((resolve, reject) => {
      const settle = (error?: Error) => {
        socket.removeListener('connect', onConnect);
        socket.removeListener('error', onError);
        socket.removeListener('close', onClose);
        if (error) reject(error);
        else resolve();
      };
      const onConnect = () => {
        settle();
        this.markConnected(undefined);
      };
      const onError = (error: Error) => settle(error);
      // abort() or close() while connecting destroys the socket without an error.
      const onClose = () => settle(new Error(`TWSocket.connect: closed before connecting to ${host}:${port}`));
      socket.once('connect', onConnect);
      socket.once('error', onError);
      socket.once('close', onClose);
    });
  }

  // ---- sending ------------------------------------------------------------

  /**
   * Queues bytes for sending. Returns false when the data had to be buffered
   * (await `drained()` before sending much more) or the socket is not open;
   * never throws on a closed socket.
   */
  send(data: Buffer | Uint8Array | string): boolean {
    const socket = this.socket;
    if (!socket || !socket.writable) return false;
    const flushed = typeof data === 'string' ? socket.write(data, this.settings.encoding) : socket.write(data);
    if (!flushed && !this.drainWatched) this.watchDrain(socket);
    return flushed;
  }

  sendStr(text: string): boolean {
    return this.send(text);
  }

  /** Sends `text` followed by `lineEnd`. */
  sendLine(text: string): boolean {
    const socket = this.socket;
    if (!socket || !socket.writable) return false;
    let flushed: boolean;
    const settings = this.settings;
    if (settings.lineEndAscii && ASCII_COMPATIBLE.has(settings.encoding)) {
      // One write (one string): the line end is text in this encoding.
      flushed = socket.write(text + settings.lineEndText, settings.encoding);
    } else {
      socket.cork();
      socket.write(text, settings.encoding);
      flushed = socket.write(settings.lineEndBytes);
      socket.uncork();
    }
    if (!flushed && !this.drainWatched) this.watchDrain(socket);
    return flushed;
  }

  /** onDataSent follows a send that had to buffer: Node's 'drain' comes only after such a write. */
  private watchDrain(socket: net.Socket): void {
    this.drainWatched = true;
    socket.on('drain', onSocketDrain);
  }

  /** Resolves when everything sent so far has been handed to the system (or the socket closed). */
  drained(): Promise<void> {
    const socket = this.socket;
    if (!socket || socket.writableLength === 0 || socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        socket.removeListener('finish', done);
        socket.removeListener('close', done);
        resolve();
      };
      socket.once('close', done);
      // 'drain' only follows a write that returned false; a write callback
      // runs once every earlier write has been handed over, whatever their size.
      if (socket.writable) socket.write(EMPTY, done);
      else socket.once('finish', done);
    });
  }

  // ---- closing ------------------------------------------------------------

  /** Graceful close: what was sent is flushed, then the connection ends. */
  close(): void {
    const socket = this.socket;
    if (!socket) return;
    if (this.currentState === SocketState.connecting) return this.abort();
    if (this.currentState !== SocketState.connected) return;
    this.setState(SocketState.closing);
    socket.end();
    const closeTimeout = this.settings.closeTimeout;
    if (closeTimeout > 0 && !socket.destroyed) {
      // A peer that never closes its side (or never reads) must not hold the connection for ever.
      socket.on('timeout', onSocketCloseTimeout);
      socket.setTimeout(closeTimeout);
    }
  }

  /** Closes after the current event has finished (safe inside a handler of this connection). */
  closeDelayed(): void {
    setImmediate(closeLater, this);
  }

  /** Destroys the connection at once; unsent data and any unfinished line are dropped. */
  abort(): void {
    const socket = this.socket;
    if (!socket || socket.destroyed) return;
    this.aborted = true;
    if (this.currentState !== SocketState.closed) this.setState(SocketState.closing);
    socket.destroy();
  }

  // ---- overridable behaviour -----------------------------------------------

  /** The connection is established (client side: connect succeeded; server side: attached). */
  protected onSessionConnected(): void {
    this.emit('sessionConnected');
  }

  /** A complete line in line mode, without its line end, decoded with `encoding`. */
  protected onLine(line: string): void {
    this.emit('line', line);
  }

  /** Raw data (line mode off). */
  protected onData(data: Buffer): void {
    this.emit('data', data);
  }

  /** Everything sent so far has been handed to the system after a send had to buffer. */
  protected onDataSent(): void {
    this.emit('dataSent');
  }

  /**
   * A line grew past `lineLimit`. 'discard' (the default, as ICS) drops it up to
   * its line end and goes on with the next line; 'keep' goes on collecting it;
   * 'close' closes the connection.
   */
  protected onLineLimitExceeded(length: number): LineLimitAction {
    this.emit('lineLimitExceeded', length);
    return 'discard';
  }

  /** The connection is gone; `error` says why when it did not end cleanly. */
  protected onSessionClosed(error: Error | undefined): void {
    this.emit('sessionClosed', error);
  }

  /**
   * An exception escaped one of this connection's handlers. The server routes
   * it to its `bgException` event; a standalone TWSocket emits `bgException`,
   * or rethrows when nobody listens. The connection is aborted either way.
   */
  protected handleBgException(error: unknown): void {
    this.abort();
    if (!this.emit('bgException', error)) {
      process.nextTick(rethrow, error);
    }
  }

  // ---- LineSink (called by the splitter) -------------------------------------

  /** @internal */
  deliverLine(line: Buffer): boolean {
    if (this.currentState !== SocketState.connected) return false;
    this.callLineHandler(line);
    return this.lineModeOn && !this.reframe && this.currentState === SocketState.connected;
  }

  /** @internal The text path is open to single-byte-compatible encodings. */
  textEncoding(): 'latin1' | 'utf8' | undefined {
    const encoding = this.settings.encoding;
    if (encoding === 'utf8' || encoding === 'utf-8' || encoding === 'ascii') return 'utf8';
    if (encoding === 'latin1' || encoding === 'binary') return 'latin1';
    return undefined;
  }

  /** @internal */
  deliverText(line: string): boolean {
    if (this.currentState !== SocketState.connected) return false;
    const head = this.lfHead;
    // Framed on LF alone: remove the rest of lineEnd (CR for CRLF) if the peer sent it.
    if (head !== undefined && line.endsWith(head)) line = line.slice(0, line.length - head.length);
    try {
      this.onLine(line);
    } catch (err) {
      this.handleBgException(err);
    }
    return this.lineModeOn && !this.reframe && this.currentState === SocketState.connected;
  }

  /** The part of lineEnd before its LF when the splitter frames on LF alone ('\r' for CRLF); else undefined. */
  private lfHead: string | undefined;

  /** @internal */
  lineLimitExceeded(length: number): LineLimitAction {
    let action: LineLimitAction = 'discard';
    try {
      action = this.onLineLimitExceeded(length);
    } catch (err) {
      this.handleBgException(err);
      return 'close';
    }
    if (action === 'close') this.close();
    return action;
  }

  // ---- internals ----------------------------------------------------------------

  private bind(socket: OwnedSocket): void {
    socket[OWNER] = this;
    this.socket = socket;
    socket.on('data', onSocketData);
    socket.on('end', onSocketEnd);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
  }

  private markConnected(addresses?: SocketAddresses): void {
    const socket = this.socket!;
    this.addresses = addresses ?? {
      peerAddrRaw: socket.remoteAddress ?? '',
      peerPort: socket.remotePort ?? 0,
      localAddrRaw: socket.localAddress ?? '',
      localPort: socket.localPort ?? 0,
    };
    if (this.settings.noDelay) socket.setNoDelay(true);
    this.setState(SocketState.connected);
    // A changeState listener may have failed and aborted the connection.
    if (this.currentState === SocketState.connected) this.guard(this.onSessionConnected);
  }

  /** @internal The graceful close did not complete in closeTimeout ms. */
  handleCloseTimeout(): void {
    if (this.currentState !== SocketState.closing || !this.socket) return;
    const error: NodeJS.ErrnoException = new Error(`close timed out after ${this.settings.closeTimeout} ms: the peer did not close its side`);
    error.code = 'ETIMEDOUT';
    this.socket.destroy(error); // reported as the session's error, like any other

  }

  /** @internal */
  handleSocketData(chunk: Buffer): void {
    if (this.currentState !== SocketState.connected) return;
    if (!this.lineModeOn) {
      this.dispatchData(chunk);
      return;
    }
    const splitter = (this.splitter ??= this.createSplitter());
    const settings = this.settings;
    if (settings.lineEdit) {
      const edited = (this.editor ??= new LineEditor(this.framingDelimiter())).edit(chunk, splitter, settings.lineEcho);
      if (edited.echo) this.send(edited.echo);
      chunk = edited.data;
    } else if (settings.lineEcho) {
      this.send(chunk);
    }
    this.feedLines(chunk);
  }

  /**
   * Runs bytes through the splitter. A line handler may switch line mode off
   * (the rest is raw data) or change a line option (the rest is framed anew);
   * the splitter then stops and hands back the bytes after that line.
   */
  private feedLines(input: Buffer | undefined): void {
    while (this.currentState === SocketState.connected) {
      if (!this.lineModeOn) {
        const raw = join(this.splitter?.flush(), input);
        this.dropSplitter();
        if (raw) this.dispatchData(raw);
        return;
      }
      if (this.reframe) {
        const pending = this.splitter?.flush();
        this.dropSplitter();
        input = join(pending, input);
      }
      if (!input || input.length === 0) return;
      const splitter = (this.splitter ??= this.createSplitter());
      this.delivering = true;
      try {
        input = splitter.push(input);
      } finally {
        this.delivering = false;
      }
    }
  }

  /**
   * @internal The peer sent FIN: deliver the unfinished line (its handler may
   * still answer), then end our side. The state goes from connected straight
   * to closed, as in ICS: `closing` means we began the close.
   */
  handleSocketEnd(): void {
    this.deliverFinalLine();
    this.socket?.end();
  }

  /** @internal */
  handleSocketClose(hadError: boolean): void {
    if (!this.aborted) this.deliverFinalLine();
    this.setState(SocketState.closed);
    const error = hadError ? this.error : undefined;
    this.guard(this.onSessionClosed, error);
  }

  /** @internal */
  handleSocketError(error: Error): void {
    this.error ??= error;
  }

  /** @internal */
  handleSocketDrain(): void {
    this.guard(this.onDataSent);
  }

  private deliverFinalLine(): void {
    if (!this.lineModeOn || !this.splitter) return;
    const pending = this.splitter.flush();
    if (pending) this.callLineHandler(pending);
  }

  private callLineHandler(line: Buffer): void {
    let end = line.length;
    const { lineEndBytes, encoding } = this.settings;
    if (end > 0 && lineEndBytes.length > 1 && this.framingDelimiter() === LF_BYTES) {
      // Framed on LF alone: remove the rest of lineEnd (CR for CRLF) if the peer sent it.
      const head = lineEndBytes.length - 1;
      if (end >= head && line.compare(lineEndBytes, 0, head, end - head, end) === 0) end -= head;
    }
    const text = line.toString(encoding, 0, end);
    try {
      this.onLine(text);
    } catch (err) {
      this.handleBgException(err);
    }
  }

  private dispatchData(data: Buffer): void {
    try {
      this.onData(data);
    } catch (err) {
      this.handleBgException(err);
    }
  }

  private guard<A extends unknown[]>(method: (...args: A) => void, ...args: A): void {
    try {
      method.apply(this, args);
    } catch (err) {
      this.handleBgException(err);
    }
  }

  private setState(state: SocketState): void {
    const previous = this.currentState;
    if (previous === state) return;
    this.currentState = state;
    try {
      this.emit('changeState', state, previous);
    } catch (err) {
      // Called from socket events: an escaping listener error would be uncaught.
      this.handleBgException(err);
    }
  }

  /** What the splitter looks for: LF alone when a bare LF is accepted, else lineEnd. */
  private framingDelimiter(): Buffer {
    const { lineAcceptLf, lineEndBytes } = this.settings;
    const lfOnly = lineAcceptLf && lineEndBytes[lineEndBytes.length - 1] === LF;
    return lfOnly ? LF_BYTES : lineEndBytes;
  }

  private createSplitter(): LineSplitter {
    const delimiter = this.framingDelimiter();
    const { lineEndBytes, lineEndText, lineLimit } = this.settings;
    this.lfHead = lineEndBytes.length > 1 && delimiter === LF_BYTES ? lineEndText.slice(0, -1) : undefined;
    return new LineSplitter(delimiter, lineLimit, this);
  }

  /** Nothing is held: the next splitter (and editor) is built with the options of that time. */
  private dropSplitter(): void {
    this.splitter = undefined;
    this.editor = undefined;
    this.reframe = false;
  }

  /**
   * A line option changed: carry the unfinished line over to a new splitter.
   * Inside a line handler this waits until the handler returns, and the rest
   * of the packet is framed with the new options.
   */
  private rebuildSplitter(): void {
    if (!this.splitter) return;
    this.reframe = true;
    if (!this.delivering) this.feedLines(undefined);
  }
}

const LF_BYTES = Buffer.from([LF]);
const EMPTY = Buffer.alloc(0);

const ASCII_COMPATIBLE = new Set<string>(['utf8', 'utf-8', 'ascii', 'latin1', 'binary']);

/** `::ffff:1.2.3.4` (an IPv4 peer on a dual-stack socket) reads as `1.2.3.4`. */
export function unmapIPv4(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** Bytes held before `rest`, as one buffer; undefined when both are empty. */
function join(held: Buffer | undefined, rest: Buffer | undefined): Buffer | undefined {
  if (!held || held.length === 0) return rest && rest.length > 0 ? rest : undefined;
  if (!rest || rest.length === 0) return held;
  return Buffer.concat([held, rest]);
}

function rethrow(error: unknown): void {
  throw error;
}

function closeLater(wsocket: TWSocket): void {
  wsocket.close();
}

function onSocketData(this: OwnedSocket, chunk: Buffer): void {
  this[OWNER]?.handleSocketData(chunk);
}

function onSocketEnd(this: OwnedSocket): void {
  this[OWNER]?.handleSocketEnd();
}

function onSocketError(this: OwnedSocket, error: Error): void {
  this[OWNER]?.handleSocketError(error);
}

function onSocketClose(this: OwnedSocket, hadError: boolean): void {
  this[OWNER]?.handleSocketClose(hadError);
}

function onSocketCloseTimeout(this: OwnedSocket): void {
  this[OWNER]?.handleCloseTimeout();
}

function onSocketDrain(this: OwnedSocket): void {
  this[OWNER]?.handleSocketDrain();
}
