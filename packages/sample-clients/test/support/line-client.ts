import * as net from 'node:net';

/**
 * A test peer: a real TCP connection that reads lines (CRLF or LF) and hands
 * them out in order. Every wait is on an event: a line arriving, or the close.
 */
export class LineClient {
  readonly socket: net.Socket;
  /** Resolves once connected. */
  readonly connected: Promise<void>;
  /** Resolves when the connection is fully closed (either side). */
  readonly closed: Promise<void>;
  private buffer = '';
  private readonly lines: string[] = [];
  private waiters: { resolve: (line: string) => void; reject: (error: Error) => void }[] = [];
  private ended = false;

  /** `localAddress`: the source address (127.0.0.2...: another peer for per-address limits and /who). */
  constructor(port: number, host = '127.0.0.1', localAddress?: string) {
    this.socket = net.connect({ port, host, noDelay: true, localAddress });
    this.socket.setEncoding('utf8');
    this.connected = new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
    this.closed = new Promise((resolve) => this.socket.once('close', () => resolve()));
    this.socket.on('error', () => {}); // reported through `closed` and pending line waits
    this.socket.on('data', (chunk: string) => this.receive(chunk));
    this.socket.on('end', () => this.finish());
    this.socket.on('close', () => this.finish());
  }

  /** The next line, without its line end; rejects if the connection ends first. */
  line(): Promise<string> {
    const line = this.lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.ended) return Promise.reject(new Error(`connection ended, no more lines (partial: ${JSON.stringify(this.buffer)})`));
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** The next `count` lines. */
  async take(count: number): Promise<string[]> {
    const lines: string[] = [];
    for (let i = 0; i < count; i++) lines.push(await this.line());
    return lines;
  }

  /** Lines until one matches, all of them (the matching one last). */
  async until(predicate: (line: string) => boolean): Promise<string[]> {
    const lines: string[] = [];
    for (;;) {
      const line = await this.line();
      lines.push(line);
      if (predicate(line)) return lines;
    }
  }

  /** Every line still to come, once the server closes. */
  async rest(): Promise<string[]> {
    await this.closed;
    return this.lines.splice(0);
  }

  send(text: string): void {
    this.socket.write(text);
  }

  sendLine(text: string, lineEnd = '\r\n'): void {
    this.socket.write(text + lineEnd);
  }

  /** Whatever was received after the last complete line. */
  get partial(): string {
    return this.buffer;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private receive(chunk: string): void {
    this.buffer += chunk;
    for (;;) {
      const lf = this.buffer.indexOf('\n');
      if (lf < 0) break;
      const line = this.buffer.slice(0, lf).replace(/\r$/, '');
      this.buffer = this.buffer.slice(lf + 1);
      const waiter = this.waiters.shift();
      if (waiter) waiter.resolve(line);
      else this.lines.push(line);
    }
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter.reject(new Error(`connection ended, no more lines (partial: ${JSON.stringify(this.buffer)})`));
  }
}
