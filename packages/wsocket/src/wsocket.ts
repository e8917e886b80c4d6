import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import { connectionSweep } from './connection-sweep';
import { WSocketError, WSocketErrorCode, ICS_ERR, icsError, icsSystemError } from './errors';
import { LineEditor } from './line-editor';
import { LineLimitAction, LineSplitter } from './line-splitter';
import { ReadRateAction, WSOCKET_DEFAULTS, WSocketOptions, validateWSocketOptions } from './options';
import { DEFAULT_SETTINGS, SettingsChange, WSocketSettings, applyDefaults, resolveSettings, sweepInterval } from './settings';
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
  timeout: [kind: TimeoutKind];
  readRateExceeded: [overMs: number];
}

/** Which deadline passed: nothing received or sent ('idle'), or a line begun and not finished ('line'). */
export type TimeoutKind = 'idle' | 'line';

/** Options a server gives every connection that did not set its own (every option but lineMode). */
export type WSocketDefaults = SettingsChange;

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

// Why reading is paused (bits of `flags`): our output to the peer is over
// sendHighWater, the peer is over its read rate, the application asked.
const PAUSED_OUTPUT = 1;
const PAUSED_RATE = 2;
const PAUSED_APP = 4;
const PAUSED = PAUSED_OUTPUT | PAUSED_RATE | PAUSED_APP;
/** closeGracefully() was called: finish the lines already read, then close. */
const GRACEFUL = 8;
/** A policy (a timeout, the read rate) closed the connection: its error goes to onSessionClosed. */
const POLICY_CLOSE = 16;
/** abort() (or a failure) ended the connection: no final line. */
const ABORTED = 32;
/** A line option changed inside a line handler: the rest of the packet needs a new splitter. */
const REFRAME = 64;
/** The splitter is delivering (a line handler is running). */
const DELIVERING = 128;
/** A 'drain' listener is added at the first send that has to buffer, not per connection. */
const DRAIN_WATCHED = 256;
const LINE_MODE = 512;

/** idleMs: there was activity since the sweep's last look (counting starts at the next look). */
const ACTIVE = -1;
/** lineMs: no line (or close) is being timed. */
const NOT_TIMING = -1;
/** lineMs: a line (or the close) began since the sweep's last look. */
const STARTED = -2;

/** The token buckets of a connection with a read rate (only those carry one). */
class ReadRate {
  bytes: number;
  lines: number;
  /** ms the peer has been throttled in every look since it last was not. */
  overMs = 0;
  /** Throttled since the sweep's last look. */
  throttled = false;

  constructor(settings: WSocketSettings) {
    this.bytes = settings.readBytesPerSecond > 0 ? settings.bytesBucket : Infinity;
    this.lines = settings.readLinesPerSecond > 0 ? settings.linesBucket : Infinity;
  }
}

/**
 * TWSocket: one TCP (or TLS) connection, ICS style. Attach it to an accepted
 * socket (server side) or `connect()` it (client side); receive lines or raw
 * data through overridable methods (or the matching events); send with
 * backpressure; close gracefully, delayed, or at once.
 */
// It is the splitter's LineSink and the sweep's Swept (checked where it is handed to them), without
// `implements`: those members are marked internal, so they are stripped from the published typings.
export class TWSocket extends EventEmitter<WSocketEvents> {
  private socket: OwnedSocket | undefined;
  private currentState: SocketState = SocketState.closed;
  private error: Error | undefined;
  private splitter: LineSplitter | undefined;
  private editor: LineEditor | undefined;
  /** lineEnd, lineAcceptLf, lineLimit, lineEcho, lineEdit, encoding, noDelay, closeTimeout: shared, see settings.ts. */
  private settings: WSocketSettings;
  /** Read once when connected and kept: they stay readable after close. */
  private addresses: SocketAddresses = NO_ADDRESSES;
  /**
   * PAUSED_* reasons, GRACEFUL, POLICY_CLOSE, and the booleans of the
   * connection (ABORTED, REFRAME, DELIVERING, DRAIN_WATCHED, LINE_MODE): one
   * small integer instead of a field each (8 bytes a field per idle connection).
   */
  private flags = 0;
  /** Bytes of a chunk already received that were not framed yet because delivery paused. */
  private held: Buffer | undefined = undefined;
  /** ms with nothing received or sent, as the sweep counts them (ACTIVE: activity since its last look). */
  private idleMs = ACTIVE;
  /** ms since the unfinished line began (NOT_TIMING: none); while closing, ms since the close began. */
  private lineMs = NOT_TIMING;
  private rate: ReadRate | undefined = undefined;

  constructor(options: WSocketOptions = {}) {
    super();
    // Node's emitter creates its listener store on the first on(): an idle
    // connection nobody listens to then holds none (about 200 bytes each).
    (this as unknown as { _events: undefined })._events = undefined;
    validateWSocketOptions(options);
    if (options.lineMode ?? WSOCKET_DEFAULTS.lineMode) this.flags = LINE_MODE;
    this.settings = resolveSettings(DEFAULT_SETTINGS, options);
  }

  /** Validates and applies a settings change. */
  private change(change: SettingsChange): void {
    validateWSocketOptions(change);
    this.settings = resolveSettings(this.settings, change);
    if (this.currentState !== SocketState.closed) this.applyLifeSettings();
  }

  /** The read rate and the sweep follow the settings of the moment. */
  private applyLifeSettings(): void {
    const settings = this.settings;
    if (!settings.readRateOn) {
      this.rate = undefined;
      this.resumeFor(PAUSED_RATE);
    } else if (!this.rate) {
      this.rate = new ReadRate(settings);
    }
    this.watchSweep();
  }

  // ---- connection life options (see WSocketOptions and docs/hardening.md) ----

  get sendHighWater(): number {
    return this.settings.sendHighWater;
  }

  set sendHighWater(bytes: number) {
    this.change({ sendHighWater: bytes });
  }

  get sendLimit(): number {
    return this.settings.sendLimit;
  }

  set sendLimit(bytes: number) {
    this.change({ sendLimit: bytes });
  }

  get idleTimeout(): number {
    return this.settings.idleTimeout;
  }

  set idleTimeout(ms: number) {
    this.change({ idleTimeout: ms });
  }

  get lineTimeout(): number {
    return this.settings.lineTimeout;
  }

  set lineTimeout(ms: number) {
    this.change({ lineTimeout: ms });
  }

  get readBytesPerSecond(): number {
    return this.settings.readBytesPerSecond;
  }

  set readBytesPerSecond(bytes: number) {
    this.change({ readBytesPerSecond: bytes });
  }

  get readBytesBurst(): number {
    return this.settings.readBytesBurst;
  }

  set readBytesBurst(bytes: number) {
    this.change({ readBytesBurst: bytes });
  }

  get readLinesPerSecond(): number {
    return this.settings.readLinesPerSecond;
  }

  set readLinesPerSecond(lines: number) {
    this.change({ readLinesPerSecond: lines });
  }

  get readLinesBurst(): number {
    return this.settings.readLinesBurst;
  }

  set readLinesBurst(lines: number) {
    this.change({ readLinesBurst: lines });
  }

  get readRateAction(): ReadRateAction {
    return this.settings.readRateAction;
  }

  set readRateAction(action: ReadRateAction) {
    this.change({ readRateAction: action });
  }

  get readRateCloseAfter(): number {
    return this.settings.readRateCloseAfter;
  }

  set readRateCloseAfter(ms: number) {
    this.change({ readRateCloseAfter: ms });
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
    return (this.flags & LINE_MODE) !== 0;
  }

  /**
   * Switching line mode off hands the bytes of an unfinished line to `onData`
   * (after the current line's handler returns, when switched inside it), so
   * nothing is lost or seen twice.
   */
  set lineMode(on: boolean) {
    validateWSocketOptions({ lineMode: on });
    if (on === ((this.flags & LINE_MODE) !== 0)) return;
    this.flags = on ? this.flags | LINE_MODE : this.flags & ~LINE_MODE;
    if (!on && (this.flags & DELIVERING) === 0) {
      const pending = join(this.splitter?.flush(), this.held);
      this.held = undefined;
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

  /** Reading is paused: by backpressure (sendHighWater), the read rate, or pauseReading(). */
  get readingPaused(): boolean {
    return (this.flags & PAUSED) !== 0;
  }

  /** Bytes already received and held, not yet framed, while delivery is paused. */
  get heldBytes(): number {
    return this.held?.length ?? 0;
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
  attach(socket: net.Socket, addresses?: SocketAddresses, defaults?: WSocketDefaults): void {
    if (this.socket) throw icsError(Error, ICS_ERR.INVALID_STATE, 'TWSocket.attach: this TWSocket already has a socket');
    // Before bind: bad defaults leave the socket untouched.
    if (defaults !== undefined) this.useDefaults(defaults);
    this.bind(socket);
    this.markConnected(addresses);
  }

  /**
   * Server-given defaults (per server, per listener): each applies to the
   * options this connection did not set itself, in its constructor or by a
   * setter. Validated once per defaults object; see docs/hardening.md for the
   * precedence.
   */
  useDefaults(defaults: WSocketDefaults): void {
    this.settings = applyDefaults(this.settings, defaults);
    if (this.currentState !== SocketState.closed) this.applyLifeSettings();
  }

  /** Connects to host:port: the client side. Resolves once connected. */
  connect(host: string, port: number, options: Omit<net.TcpNetConnectOpts, 'host' | 'port'> = {}): Promise<void> {
    if (this.socket) return Promise.reject(icsError(Error, ICS_ERR.INVALID_STATE, 'TWSocket.connect: this TWSocket already has a socket'));
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
      const onClose = () => settle(icsError(Error, ICS_ERR.CONNECT_CLOSED, `TWSocket.connect: closed before connecting to ${host}:${port}`));
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
    const settings = this.settings;
    if (socket.writableLength > settings.sendLimitBytes) return this.failSendLimit(socket);
    const flushed = typeof data === 'string' ? socket.write(data, settings.encoding) : socket.write(data);
    this.idleMs = ACTIVE;
    if (!flushed) this.backlogged(socket);
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
    if (socket.writableLength > settings.sendLimitBytes) return this.failSendLimit(socket);
    if (settings.lineEndAscii && ASCII_COMPATIBLE.has(settings.encoding)) {
      // One write (one string): the line end is text in this encoding.
      flushed = socket.write(text + settings.lineEndText, settings.encoding);
    } else {
      socket.cork();
      socket.write(text, settings.encoding);
      flushed = socket.write(settings.lineEndBytes);
      socket.uncork();
    }
    this.idleMs = ACTIVE;
    if (!flushed) this.backlogged(socket);
    return flushed;
  }

  /**
   * A write had to buffer (Node's queue is over its writableHighWaterMark).
   * Over sendHighWater, reading stops until the queue drains: a peer that does
   * not read cannot make us queue replies without end. 'drain' (queue empty)
   * follows only a write that returned false, which this one did.
   */
  private backlogged(socket: net.Socket): void {
    if ((this.flags & DRAIN_WATCHED) === 0) {
      this.flags |= DRAIN_WATCHED;
      socket.on('drain', onSocketDrain);
    }
    if ((this.flags & PAUSED_OUTPUT) === 0 && socket.writableLength >= this.settings.sendHighWater) this.pauseFor(PAUSED_OUTPUT);
  }

  /** Over sendLimit: the peer does not read, and the queue must not grow further. */
  private failSendLimit(socket: net.Socket): false {
    const limit = this.settings.sendLimit;
    this.abortWith(
      new WSocketError(
        WSocketErrorCode.SEND_LIMIT,
        `${socket.writableLength} bytes queued to a peer that does not read them, over sendLimit (${limit} bytes): connection aborted`,
      ),
    );
    return false;
  }

  // ---- reading: pause and resume ------------------------------------------------

  /**
   * Stops reading from the peer (no more data events, no further line of a
   * chunk already received) until resumeReading(). Independent of the pauses
   * backpressure and the read rate make.
   */
  pauseReading(): void {
    if (this.socket && this.currentState === SocketState.connected) this.pauseFor(PAUSED_APP);
  }

  /** Undoes pauseReading(); delivery resumes where it stopped, in order. */
  resumeReading(): void {
    this.resumeFor(PAUSED_APP);
  }

  private pauseFor(reason: number): void {
    // Closing, input is read and dropped: a paused socket would leave it unread (and the close a reset).
    if (this.currentState !== SocketState.connected) return;
    const flags = this.flags;
    this.flags = flags | reason;
    if (reason === PAUSED_RATE) this.rate!.throttled = true;
    if ((flags & PAUSED) === 0) this.socket?.pause();
  }

  private resumeFor(reason: number): void {
    const flags = this.flags;
    if ((flags & reason) === 0) return;
    this.flags = flags & ~reason;
    if ((this.flags & PAUSED) === 0) this.continueReading();
  }

  /**
   * No pause reason is left: frame the held bytes first (a line handler may
   * pause again), then read from the socket again. Inside a line handler the
   * feed in progress carries on by itself.
   */
  private continueReading(): void {
    if (this.currentState !== SocketState.connected) return;
    if ((this.flags & DELIVERING) === 0) {
      const held = this.held;
      if (held) {
        this.held = undefined;
        this.feedLines(held);
        if ((this.flags & PAUSED) !== 0 || this.currentState !== SocketState.connected) return;
      }
      if ((this.flags & GRACEFUL) !== 0) return this.close();
    }
    this.socket?.resume();
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

  /**
   * Graceful close: what was sent is flushed, then the connection ends (FIN).
   * Lines received and not yet delivered are dropped; what the peer still
   * sends is read and dropped, so the close is never a reset. `closeTimeout`
   * bounds it.
   */
  close(): void {
    const socket = this.socket;
    if (!socket) return;
    if (this.currentState === SocketState.connecting) return this.abort();
    if (this.currentState !== SocketState.connected) return;
    this.setState(SocketState.closing);
    if ((this.flags & ABORTED) !== 0) return; // a changeState listener aborted it
    // A graceful close's clock runs from closeGracefully().
    if ((this.flags & GRACEFUL) === 0) this.lineMs = STARTED;
    this.held = undefined;
    socket.end();
    if ((this.flags & PAUSED) !== 0) {
      this.flags &= ~PAUSED;
      socket.resume(); // read and drop: unread input would make the kernel answer with RST
    }
    this.watchSweep();
  }

  /**
   * The socket side of a graceful shutdown: lines already received (held while
   * reading was paused) are still delivered and answered, respecting
   * backpressure; then our side ends as with close(): the replies are flushed,
   * FIN is sent, what the peer still sends is read and dropped. `closeTimeout`,
   * counted from this call, bounds all of it; then the connection is aborted.
   */
  closeGracefully(): void {
    if (!this.socket) return;
    if (this.currentState === SocketState.connecting) return this.abort();
    if (this.currentState !== SocketState.connected || (this.flags & GRACEFUL) !== 0) return;
    this.flags = (this.flags | GRACEFUL) & ~(PAUSED_RATE | PAUSED_APP);
    this.lineMs = STARTED;
    this.watchSweep();
    // In a handler: the feed in progress delivers the rest of its chunk, then closes.
    if ((this.flags & DELIVERING) !== 0) return;
    if ((this.flags & PAUSED) === 0) this.continueReading();
  }

  /** Closes after the current event has finished (safe inside a handler of this connection). */
  closeDelayed(): void {
    setImmediate(closeLater, this);
  }

  /** Destroys the connection at once; unsent data and any unfinished line are dropped. */
  abort(): void {
    this.abortWith(undefined);
  }

  private abortWith(error: Error | undefined): void {
    const socket = this.socket;
    if (!socket || socket.destroyed) return;
    if (error) this.error ??= error;
    this.flags |= ABORTED;
    this.held = undefined;
    if (this.currentState !== SocketState.closed) this.setState(SocketState.closing);
    socket.destroy(error);
  }

  /** A policy ends the connection gracefully; `error` says which, to onSessionClosed too. */
  private closeFor(error: WSocketError): void {
    if (this.currentState !== SocketState.connected) return;
    this.error ??= error;
    this.flags |= POLICY_CLOSE;
    this.close();
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

  /**
   * A deadline passed: nothing received or sent for `idleTimeout` ms ('idle'),
   * or a line begun and not finished within `lineTimeout` ms ('line'). The
   * default emits `timeout` and closes gracefully, with an ICS_ERR_IDLE_TIMEOUT
   * or ICS_ERR_LINE_TIMEOUT error for onSessionClosed. An override that keeps
   * the connection restarts that clock.
   */
  protected onTimeout(kind: TimeoutKind): void {
    this.emit('timeout', kind);
    if (kind === 'idle') {
      const ms = this.settings.idleTimeout;
      this.closeFor(new WSocketError(WSocketErrorCode.IDLE_TIMEOUT, `idle timeout: nothing received or sent for ${ms} ms`));
    } else {
      const ms = this.settings.lineTimeout;
      this.closeFor(new WSocketError(WSocketErrorCode.LINE_TIMEOUT, `line timeout: a line was not finished within ${ms} ms`));
    }
  }

  /**
   * The peer has been over its read rate for `readRateCloseAfter` ms
   * (`overMs`). The default emits `readRateExceeded` and applies
   * `readRateAction`: 'throttle' goes on throttling, 'close' closes
   * gracefully, 'abort' aborts, both with ICS_ERR_READ_RATE.
   */
  protected onReadRateExceeded(overMs: number): void {
    this.emit('readRateExceeded', overMs);
    const action = this.settings.readRateAction;
    if (action === 'throttle') return;
    const { readBytesPerSecond, readLinesPerSecond } = this.settings;
    const limits = [readBytesPerSecond > 0 ? `${readBytesPerSecond} bytes/s` : '', readLinesPerSecond > 0 ? `${readLinesPerSecond} lines/s` : '']
      .filter(Boolean)
      .join(', ');
    const error = new WSocketError(WSocketErrorCode.READ_RATE, `read rate: the peer stayed over ${limits} for ${overMs} ms`);
    if (action === 'close') this.closeFor(error);
    else this.abortWith(error);
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
    const rate = this.rate;
    if (rate !== undefined && --rate.lines < 1) this.pauseFor(PAUSED_RATE);
    return (this.flags & LINE_MODE) !== 0 && (this.flags & REFRAME) === 0 && this.currentState === SocketState.connected && (this.flags & PAUSED) === 0;
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
    const rate = this.rate;
    if (rate !== undefined && --rate.lines < 1) this.pauseFor(PAUSED_RATE);
    return (this.flags & LINE_MODE) !== 0 && (this.flags & REFRAME) === 0 && this.currentState === SocketState.connected && (this.flags & PAUSED) === 0;
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
    if (this.currentState === SocketState.connected) this.applyLifeSettings();
    // A changeState listener may have failed and aborted the connection.
    if (this.currentState === SocketState.connected) this.guard(this.onSessionConnected);
  }

  /** The close did not complete in closeTimeout ms. */
  private closeTimedOut(): void {
    const socket = this.socket;
    if (!socket || socket.destroyed) return;
    const error = icsSystemError(ICS_ERR.CLOSE_TIMEOUT, 'ETIMEDOUT', `close timed out after ${this.settings.closeTimeout} ms: the peer did not close its side`);
    this.error ??= error; // a policy that began the close stays the reason
    this.flags |= ABORTED;
    this.held = undefined;
    if (this.currentState === SocketState.connected) this.setState(SocketState.closing);
    socket.destroy(error);
  }

  /** The sweep looks at this connection from now on, as often as its settings and state need. */
  private watchSweep(): void {
    const every = this.sweepEvery();
    if (every > 0) connectionSweep.watch(this, every);
  }

  private sweepEvery(): number {
    const state = this.currentState;
    if (state === SocketState.closing || (this.flags & GRACEFUL) !== 0) {
      return (this.flags & ABORTED) !== 0 ? 0 : sweepInterval(this.settings.closeTimeout);
    }
    return state === SocketState.connected ? this.settings.sweepEveryMs : 0;
  }

  /**
   * @internal The sweep's look: `elapsed` ms since the last one. Counts the
   * idle, line and close clocks, refills the read-rate buckets; returns how
   * often it wants looking at (0: no more).
   */
  sweepTick(elapsed: number): number {
    const settings = this.settings;
    if (this.currentState === SocketState.closing || (this.flags & GRACEFUL) !== 0) {
      const limit = settings.closeTimeout;
      if (limit === 0 || (this.flags & ABORTED) !== 0) return 0;
      if (this.lineMs < 0) this.lineMs = 0;
      else if ((this.lineMs += elapsed) >= limit) this.closeTimedOut();
      return this.sweepEvery();
    }
    if (this.currentState !== SocketState.connected) return 0;
    const reading = (this.flags & PAUSED) === 0;
    if (settings.idleTimeout > 0) {
      if (this.idleMs < 0) this.idleMs = 0;
      else if ((this.idleMs += elapsed) >= settings.idleTimeout) {
        this.idleMs = 0;
        this.timedOut('idle');
      }
    }
    // A line held by our own pause is not the peer's delay.
    if (settings.lineTimeout > 0 && reading && this.currentState === SocketState.connected) this.lookAtLine(settings.lineTimeout, elapsed);
    const rate = this.rate;
    if (rate !== undefined && this.currentState === SocketState.connected) this.refill(rate, settings, elapsed);
    return this.sweepEvery();
  }

  /**
   * The slow drip: a line's clock runs from its first byte, however many bytes
   * follow. Looked at by the sweep, not per chunk: a line that began since the
   * last look is counted from this look (late, never early).
   */
  private lookAtLine(lineTimeout: number, elapsed: number): void {
    const splitter = this.splitter;
    if (splitter === undefined || (this.flags & LINE_MODE) === 0 || !splitter.midLine) {
      this.lineMs = NOT_TIMING;
      splitter?.takeLineBegan();
    } else if (splitter.takeLineBegan() || this.lineMs < 0) {
      this.lineMs = 0;
    } else if ((this.lineMs += elapsed) >= lineTimeout) {
      this.lineMs = 0;
      this.timedOut('line');
    }
  }

  private timedOut(kind: TimeoutKind): void {
    try {
      this.onTimeout(kind);
    } catch (err) {
      this.handleBgException(err);
    }
  }

  /** Token buckets refilled for `elapsed` ms; reading resumes once both hold a token again. */
  private refill(rate: ReadRate, settings: WSocketSettings, elapsed: number): void {
    const over = rate.throttled || (this.flags & PAUSED_RATE) !== 0;
    rate.throttled = false;
    if (settings.readBytesPerSecond > 0) {
      rate.bytes = Math.min(settings.bytesBucket, rate.bytes + (settings.readBytesPerSecond * elapsed) / 1000);
    }
    if (settings.readLinesPerSecond > 0) {
      rate.lines = Math.min(settings.linesBucket, rate.lines + (settings.readLinesPerSecond * elapsed) / 1000);
    }
    rate.overMs = over ? rate.overMs + elapsed : 0;
    if (rate.overMs >= settings.readRateCloseAfter && settings.readRateCloseAfter > 0) {
      const overMs = rate.overMs;
      rate.overMs = 0;
      try {
        this.onReadRateExceeded(overMs);
      } catch (err) {
        this.handleBgException(err);
      }
      if (this.currentState !== SocketState.connected) return;
    }
    if (rate.bytes > 0 && rate.lines >= 1) this.resumeFor(PAUSED_RATE);
  }

  /** @internal */
  handleSocketData(chunk: Buffer): void {
    if (this.currentState !== SocketState.connected) return;
    this.idleMs = ACTIVE;
    if (this.held !== undefined) {
      // Node delivered a chunk after the pause (it should not): keep the order.
      this.held = Buffer.concat([this.held, chunk]);
      return;
    }
    const rate = this.rate;
    if (rate !== undefined && (rate.bytes -= chunk.length) <= 0) this.pauseFor(PAUSED_RATE);
    if ((this.flags & LINE_MODE) === 0) {
      this.dispatchData(chunk);
      if ((this.flags & GRACEFUL) !== 0) this.close();
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
    // closeGracefully() in a line handler: the rest of the chunk was delivered, now close.
    if ((this.flags & (GRACEFUL | PAUSED)) === GRACEFUL) this.close();
  }

  /**
   * Runs bytes through the splitter. A line handler may switch line mode off
   * (the rest is raw data) or change a line option (the rest is framed anew);
   * the splitter then stops and hands back the bytes after that line.
   */
  private feedLines(input: Buffer | undefined): void {
    while (this.currentState === SocketState.connected) {
      if ((this.flags & LINE_MODE) === 0) {
        const raw = join(this.splitter?.flush(), input);
        this.dropSplitter();
        if (raw) this.dispatchData(raw);
        return;
      }
      if ((this.flags & REFRAME) !== 0) {
        const pending = this.splitter?.flush();
        this.dropSplitter();
        input = join(pending, input);
      }
      if (!input || input.length === 0) return;
      if ((this.flags & PAUSED) !== 0) {
        // Kept as it came (a view of the chunk, no copy) until reading resumes.
        this.held = input;
        return;
      }
      const splitter = (this.splitter ??= this.createSplitter());
      this.flags |= DELIVERING;
      try {
        input = splitter.push(input);
      } finally {
        this.flags &= ~DELIVERING;
      }
    }
  }

  /**
   * @internal The peer sent FIN: deliver the unfinished line (its handler may
   * still answer), then end our side. The state goes from connected straight
   * to closed, as in ICS: `closing` means we began the close.
   */
  handleSocketEnd(): void {
    if (this.currentState === SocketState.connected) this.deliverFinalLine();
    this.socket?.end();
  }

  /**
   * The socket closed: deliver the unfinished line, onSessionClosed. Called by
   * the socket's 'close' listener; not for application code. Public (not
   * stripped from the typings) because a server's client class extends it.
   */
  handleSocketClose(hadError: boolean): void {
    connectionSweep.unwatch(this);
    const held = this.held;
    if (held && (this.flags & ABORTED) === 0 && this.currentState === SocketState.connected) {
      // The peer went away while delivery was paused: its lines were received, deliver them.
      this.held = undefined;
      this.flags &= ~PAUSED;
      this.feedLines(held);
    }
    this.held = undefined;
    // After our own close the unfinished line is a fragment of what we no longer read: dropped.
    if ((this.flags & ABORTED) === 0 && this.currentState === SocketState.connected) this.deliverFinalLine();
    this.setState(SocketState.closed);
    const error = hadError || (this.flags & POLICY_CLOSE) !== 0 ? this.error : undefined;
    this.guard(this.onSessionClosed, error);
  }

  /** @internal */
  handleSocketError(error: Error): void {
    this.error ??= error;
  }

  /** @internal Node's queue is empty: onDataSent, then reading resumes if backpressure paused it. */
  handleSocketDrain(): void {
    this.guard(this.onDataSent);
    const socket = this.socket;
    if ((this.flags & PAUSED_OUTPUT) !== 0 && socket && socket.writableLength < this.settings.sendHighWater) {
      this.resumeFor(PAUSED_OUTPUT);
    }
  }

  private deliverFinalLine(): void {
    if ((this.flags & LINE_MODE) === 0 || !this.splitter) return;
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
    this.flags &= ~REFRAME;
  }

  /**
   * A line option changed: carry the unfinished line over to a new splitter.
   * Inside a line handler this waits until the handler returns, and the rest
   * of the packet is framed with the new options.
   */
  private rebuildSplitter(): void {
    if (!this.splitter) return;
    this.flags |= REFRAME;
    if ((this.flags & DELIVERING) === 0) {
      const held = this.held;
      this.held = undefined;
      this.feedLines(held);
    }
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

function onSocketDrain(this: OwnedSocket): void {
  this[OWNER]?.handleSocketDrain();
}
