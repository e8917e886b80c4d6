/**
 * Test helpers: a plain `net.Socket` peer that collects what it receives,
 * servers on loopback port 0, and clean-up after every test (every peer
 * destroyed, every server shut down) so no handle outlives its test.
 */
import { once } from 'node:events';
import * as net from 'node:net';
import { TWSocketClient, TWSocketServer, WSocketServerOptions } from '@ics-ts/wsocket-server';

const peers = new Set<Peer>();
const servers = new Set<TWSocketServer<TWSocketClient>>();

afterEach(async () => {
  const closing: Promise<unknown>[] = [];
  for (const peer of peers) closing.push(peer.destroy());
  peers.clear();
  for (const server of servers) closing.push(server.shutdown(1000));
  servers.clear();
  await Promise.all(closing);
});

/** Registers a server for clean-up after the test. */
export function track<S extends TWSocketServer<TWSocketClient>>(server: S): S {
  servers.add(server as unknown as TWSocketServer<TWSocketClient>);
  return server;
}

/** A server on 127.0.0.1, port 0, listening, shut down after the test. */
export async function startServer<C extends TWSocketClient = TWSocketClient>(
  options: WSocketServerOptions<C> = {},
): Promise<TWSocketServer<C>> {
  const server = track(new TWSocketServer<C>({ addr: '127.0.0.1', port: 0, ...options }));
  await server.listen();
  return server;
}

/**
 * The other end of a connection: a raw net.Socket (default allowHalfOpen
 * false, so it ends its side when the server ends) that records everything.
 */
export class Peer {
  received = '';
  sawEnd = false;
  error: NodeJS.ErrnoException | undefined;
  /** Resolves when the server's FIN came (never, if it did not). */
  readonly ended: Promise<void>;
  /** Resolves when the socket is closed; the value is `hadError`. */
  readonly closed: Promise<boolean>;
  private lines: string[] = [];
  private buffer = '';
  private waiters: { resolve: (line: string) => void; reject: (e: Error) => void }[] = [];
  private isClosed = false;
  private port = 0;

  private constructor(readonly socket: net.Socket) {
    peers.add(this);
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      this.received += text;
      this.buffer += text;
      let idx: number;
      while ((idx = this.buffer.indexOf('\r\n')) >= 0) {
        this.lines.push(this.buffer.slice(0, idx));
        this.buffer = this.buffer.slice(idx + 2);
      }
      this.serveWaiters();
    });
    this.ended = new Promise((resolve) => {
      socket.once('end', () => {
        this.sawEnd = true;
        resolve();
      });
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.error ??= err;
    });
    this.closed = new Promise((resolve) => {
      socket.once('close', (hadError: boolean) => {
        this.isClosed = true;
        const waiters = this.waiters;
        this.waiters = [];
        for (const w of waiters) w.reject(new Error(`peer closed before a line came; received ${JSON.stringify(this.received)}`));
        resolve(hadError);
      });
    });
  }

  /** Connects; resolves once connected (rejects on error, e.g. ECONNREFUSED). */
  static connect(port: number, host = '127.0.0.1', options: { allowHalfOpen?: boolean } = {}): Promise<Peer> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host, ...options });
      const peer = new Peer(socket);
      const onError = (err: Error) => reject(err);
      socket.once('error', onError);
      socket.once('connect', () => {
        socket.removeListener('error', onError);
        peer.port = socket.localPort ?? 0;
        resolve(peer);
      });
    });
  }

  /** Our port (kept after close). */
  get localPort(): number {
    return this.port;
  }

  /** The next CRLF-terminated line (without CRLF). */
  nextLine(): Promise<string> {
    const line = this.lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.isClosed) return Promise.reject(new Error(`peer closed; received ${JSON.stringify(this.received)}`));
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  send(text: string): void {
    this.socket.write(text);
  }

  /** Sends a line and returns the next line received. */
  async ask(text: string): Promise<string> {
    this.send(`${text}\r\n`);
    return this.nextLine();
  }

  /** Ends our side and waits for the close. */
  async end(): Promise<boolean> {
    this.socket.end();
    return this.closed;
  }

  async destroy(): Promise<void> {
    peers.delete(this);
    if (!this.isClosed) {
      this.socket.destroy();
      await this.closed;
    }
  }

  private serveWaiters(): void {
    while (this.waiters.length > 0 && this.lines.length > 0) {
      this.waiters.shift()!.resolve(this.lines.shift()!);
    }
  }
}

/** A client class that echoes lines (`echo <line>`), in line mode, CRLF. */
export class EchoClient extends TWSocketClient {
  constructor() {
    super({ lineMode: true });
  }
  protected override onLine(line: string): void {
    this.sendLine(`echo ${line}`);
  }
}

/** Waits until `server` emitted `clientDisconnect` `count` times (counting from now). */
export function disconnects<C extends TWSocketClient>(s: TWSocketServer<C>, count: number): Promise<void> {
  return new Promise((resolve) => {
    if (count <= 0) return resolve();
    let seen = 0;
    const on = () => {
      if (++seen === count) {
        s.removeListener('clientDisconnect', on);
        resolve();
      }
    };
    s.on('clientDisconnect', on);
  });
}

/**
 * Connects a peer and returns it with the server's client object for it (its
 * clientConnect). Use one at a time: the next clientConnect is taken as ours.
 */
export async function connectClient<C extends TWSocketClient>(
  server: TWSocketServer<C>,
  host = '127.0.0.1',
  options: { allowHalfOpen?: boolean } = {},
): Promise<{ peer: Peer; client: C }> {
  const connected = once(server, 'clientConnect') as Promise<[C]>;
  const peer = await Peer.connect(server.bindPort, host, options);
  const [client] = await connected;
  expect(client.peerPort).toBe(peer.localPort);
  return { peer, client };
}

export { once };
