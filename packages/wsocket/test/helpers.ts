import { EventEmitter, once } from 'node:events';
import * as net from 'node:net';
import { TWSocket } from '../src';

export const LOOPBACK = '127.0.0.1';

/** A connection under test: our TWSocket on the accepted side, a raw socket as the peer. */
export interface Pair<T extends TWSocket> {
  wsocket: T;
  peer: net.Socket;
  server: net.Server;
}

/**
 * Owns every server and socket a test opens, so that `dispose()` (in afterEach)
 * leaves no handle behind even when an assertion failed half-way.
 */
export class Loopback {
  private readonly servers = new Set<net.Server>();
  private readonly sockets = new Set<net.Socket>();
  private readonly wsockets = new Set<TWSocket>();

  /** Half-open allowed, as TWSocket expects: a peer's end() must not end our side before we answered. */
  async listen(onConnection: (socket: net.Socket) => void = () => {}, host = LOOPBACK): Promise<net.Server> {
    const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
      this.track(socket);
      onConnection(socket);
    });
    this.servers.add(server);
    server.listen(0, host);
    await once(server, 'listening');
    return server;
  }

  /** A raw client socket, half-open allowed so that it can still read after its own end(). */
  async connectRaw(server: net.Server, host = LOOPBACK): Promise<net.Socket> {
    const socket = this.track(net.connect({ host, port: portOf(server), allowHalfOpen: true, noDelay: true }));
    await once(socket, 'connect');
    return socket;
  }

  async pair<T extends TWSocket>(wsocket: T, host = LOOPBACK): Promise<Pair<T>> {
    this.wsockets.add(wsocket);
    let accepted!: () => void;
    const attached = new Promise<void>((resolve) => (accepted = resolve));
    const server = await this.listen((socket) => {
      // Attach inside the connection event, before any byte can be emitted.
      wsocket.attach(socket);
      accepted();
    }, host);
    const peer = await this.connectRaw(server, host);
    await attached;
    return { wsocket, peer, server };
  }

  own<T extends TWSocket>(wsocket: T): T {
    this.wsockets.add(wsocket);
    return wsocket;
  }

  track(socket: net.Socket): net.Socket {
    this.sockets.add(socket);
    // A peer reset after abort() is expected; without a listener it would crash the run.
    socket.on('error', () => {});
    return socket;
  }

  async dispose(): Promise<void> {
    const closing: Promise<unknown>[] = [];
    for (const wsocket of this.wsockets) {
      const raw = wsocket.rawSocket;
      if (raw) this.track(raw);
      wsocket.abort();
    }
    for (const socket of this.sockets) {
      if (!socket.closed) {
        closing.push(once(socket, 'close'));
        socket.destroy();
      }
    }
    for (const server of this.servers) {
      if (server.listening) {
        closing.push(once(server, 'close'));
        server.close();
      }
    }
    await Promise.all(closing);
    this.servers.clear();
    this.sockets.clear();
    this.wsockets.clear();
  }
}

export function portOf(server: net.Server): number {
  return (server.address() as net.AddressInfo).port;
}

/** A port nothing listens on: one the system just gave out and took back. */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, LOOPBACK);
  await once(server, 'listening');
  const port = portOf(server);
  server.close();
  await once(server, 'close');
  return port;
}

/** Waits on data events, never on timers. */
export class Received {
  private chunks: Buffer[] = [];
  private length = 0;
  private waiters: (() => boolean)[] = [];
  ended = false;

  constructor(socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.length += chunk.length;
      this.check();
    });
    socket.on('end', () => {
      this.ended = true;
      this.check();
    });
    socket.on('close', () => {
      this.ended = true;
      this.check();
    });
  }

  get bytes(): Buffer {
    if (this.chunks.length !== 1) this.chunks = [Buffer.concat(this.chunks, this.length)];
    return this.chunks[0];
  }

  get text(): string {
    return this.bytes.toString('latin1');
  }

  get byteCount(): number {
    return this.length;
  }

  /** Rejects if the stream ends first, so a missing reply fails fast instead of timing out. */
  untilText(text: string): Promise<void> {
    return this.until(() => this.bytes.includes(text, 0, 'latin1'), `text ${JSON.stringify(text)}`);
  }

  untilBytes(count: number): Promise<void> {
    return this.until(() => this.length >= count, `${count} bytes`);
  }

  async untilEnd(): Promise<Buffer> {
    await this.until(() => this.ended, 'end');
    return this.bytes;
  }

  private until(done: () => boolean, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const settled = () => {
        if (done()) resolve();
        else if (this.ended) reject(new Error(`stream ended before ${what}; received ${JSON.stringify(this.text.slice(0, 200))}`));
        else return false;
        return true;
      };
      if (!settled()) this.waiters.push(settled);
    });
  }

  private check(): void {
    if (this.waiters.length > 0) this.waiters = this.waiters.filter((settled) => !settled());
  }
}

export class Recorder<T> {
  readonly values: T[] = [];
  private waiters: { count: number; resolve: () => void }[] = [];

  constructor(emitter: EventEmitter, event: string, pick: (...args: any[]) => T = (value: T) => value) {
    emitter.on(event, (...args: unknown[]) => {
      this.values.push(pick(...args));
      this.waiters = this.waiters.filter((w) => {
        if (this.values.length < w.count) return true;
        w.resolve();
        return false;
      });
    });
  }

  count(count: number): Promise<T[]> {
    if (this.values.length >= count) return Promise.resolve(this.values);
    return new Promise((resolve) => this.waiters.push({ count, resolve: () => resolve(this.values) }));
  }
}

/** Writes and resolves once the bytes were handed to the system, so successive writes tend to be separate packets. */
export function writeNow(socket: net.Socket, data: Buffer | string): Promise<void> {
  return new Promise((resolve, reject) => socket.write(data, (err) => (err ? reject(err) : resolve())));
}

export async function serverReceived(wsocket: TWSocket, count: number): Promise<void> {
  const raw = wsocket.rawSocket!;
  while (raw.bytesRead < count) await once(raw, 'data');
}

/** Deterministic pseudo-random numbers (mulberry32), so a failing case can be replayed. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomInt(rnd: () => number, min: number, max: number): number {
  return min + Math.floor(rnd() * (max - min + 1));
}
