/**
 * A real TCP peer on loopback for the facade tests: collects what it receives
 * as text, waits for text or for the close on events (never on timers), and is
 * destroyed after every test so no handle outlives its test.
 */
import * as net from 'node:net';

const peers = new Set<Peer>();

afterEach(() => {
  for (const peer of peers) peer.destroy();
  peers.clear();
});

export class Peer {
  readonly socket: net.Socket;
  received = '';
  /** Resolves once connected; rejects on a connect error. */
  readonly connected: Promise<void>;
  /** Resolves once the socket closed (true when with an error). */
  readonly closed: Promise<boolean>;
  private waiters: (() => void)[] = [];

  constructor(port: number, host = '127.0.0.1') {
    this.socket = net.connect({ port, host });
    peers.add(this);
    this.socket.setEncoding('utf8');
    this.socket.on('data', (text: string) => {
      this.received += text;
      this.wake();
    });
    this.socket.on('error', () => {});
    this.connected = new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
    this.closed = new Promise((resolve) =>
      this.socket.once('close', (hadError) => {
        this.wake();
        resolve(hadError);
      }),
    );
  }

  write(text: string | Buffer): void {
    this.socket.write(text);
  }

  /** Resolves once `text` has been received; rejects if the socket closes first. */
  waitFor(text: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.received.includes(text)) {
          this.waiters = this.waiters.filter((w) => w !== check);
          resolve();
        } else if (this.socket.closed) {
          this.waiters = this.waiters.filter((w) => w !== check);
          reject(new Error(`closed before ${JSON.stringify(text)} came; received ${JSON.stringify(this.received)}`));
        }
      };
      this.waiters.push(check);
      check();
    });
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

/** Resolves with the arguments of the next `event` of `emitter`. */
export function next<T extends unknown[] = unknown[]>(
  emitter: object,
  event: string,
): Promise<T> {
  return new Promise((resolve) => (emitter as NodeJS.EventEmitter).once(event, (...args: unknown[]) => resolve(args as T)));
}
