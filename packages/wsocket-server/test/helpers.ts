/**
 * Test helpers: a plain `net.Socket` peer that collects what it receives
 * (on LinePeer, which the TLS peer in tls-peer.ts shares), servers on
 * loopback port 0, connecting a peer and getting the server's client for it,
 * and clean-up after every test (every peer destroyed, every server shut
 * down) so no handle outlives its test.
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

/** A server on 127.0.0.1, port 0 (unless `options` say otherwise), not listening yet, shut down after the test. */
export function newServer<C extends TWSocketClient = TWSocketClient>(options: WSocketServerOptions<C> = {}): TWSocketServer<C> {
  return track(new TWSocketServer<C>({ addr: '127.0.0.1', port: 0, ...options }));
}

/** A server on 127.0.0.1, port 0, listening, shut down after the test. */
export async function startServer<C extends TWSocketClient = TWSocketClient>(
  options: WSocketServerOptions<C> = {},
): Promise<TWSocketServer<C>> {
  const server = newServer(options);
  await server.listen();
  return server;
}

/**
 * The CRLF lines of a text stream, each handed to the first who waits for
 * one; `received` keeps all the text that came. `closedText` starts the
 * messages the waiters are rejected with once the stream closed.
 */
class LineQueue {
  received = '';
  private lines: string[] = [];
  private buffer = '';
  private waiters: { resolve: (line: string) => void; reject: (e: Error) => void }[] = [];
  private isClosed = false;

  constructor(private readonly closedText: string) {}

  /** Text that came: completes lines and serves the waiters. */
  add(text: string): void {
    this.received += text;
    this.buffer += text;
    let idx: number;
    while ((idx = this.buffer.indexOf('\r\n')) >= 0) {
      this.lines.push(this.buffer.slice(0, idx));
      this.buffer = this.buffer.slice(idx + 2);
    }
    while (this.waiters.length > 0 && this.lines.length > 0) this.waiters.shift()!.resolve(this.lines.shift()!);
  }

  /** The next CRLF-terminated line (without CRLF). */
  next(): Promise<string> {
    const line = this.lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.isClosed) return Promise.reject(new Error(`${this.closedText}; received ${JSON.stringify(this.received)}`));
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** The stream closed: no more lines; whoever waits is rejected. */
  close(): void {
    this.isClosed = true;
    for (const w of this.waiters.splice(0)) w.reject(new Error(`${this.closedText} before a line came; received ${JSON.stringify(this.received)}`));
  }
}

/**
 * What the test peers share: a socket read as utf8 whose CRLF lines are
 * queued for nextLine(), its first error, and clean-up through `tracked` (a
 * set an afterEach destroys). A subclass makes `closed` and calls
 * markClosed() on the socket's close.
 */
export abstract class LinePeer<S extends net.Socket, Closed> {
  error: NodeJS.ErrnoException | undefined;
  /** Resolves when the socket is closed. */
  abstract readonly closed: Promise<Closed>;
  protected isClosed = false;
  private readonly incoming: LineQueue;

  protected constructor(
    readonly socket: S,
    private readonly tracked: Set<LinePeer<S, Closed>>,
    closedText: string,
  ) {
    tracked.add(this);
    this.incoming = new LineQueue(closedText);
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => this.incoming.add(text));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.error ??= err;
    });
  }

  /** Everything received so far. */
  get received(): string {
    return this.incoming.received;
  }

  /** The next CRLF-terminated line (without CRLF). */
  nextLine(): Promise<string> {
    return this.incoming.next();
  }

  /** Sends a line and returns the next line received. */
  async ask(text: string): Promise<string> {
    this.socket.write(`${text}\r\n`);
    return this.nextLine();
  }

  /** Ends our side and waits for the close. */
  async end(): Promise<Closed> {
    this.socket.end();
    return this.closed;
  }

  async destroy(): Promise<void> {
    this.tracked.delete(this);
    if (!this.isClosed) {
      this.socket.destroy();
      await this.closed;
    }
  }

  /** The socket closed: no more lines. */
  protected markClosed(): void {
    this.isClosed = true;
    this.incoming.close();
  }
}

/**
 * The other end of a connection: a raw net.Socket (default allowHalfOpen
 * false, so it ends its side when the server ends) that records everything.
 */
export class Peer extends LinePeer<net.Socket, boolean> {
  sawEnd = false;
  /** Resolves when the server's FIN came (never, if it did not). */
  readonly ended: Promise<void>;
  /** Resolves when the socket is closed; the value is `hadError`. */
  readonly closed: Promise<boolean>;
  private port = 0;

  private constructor(socket: net.Socket) {
    super(socket, peers, 'peer closed');
    this.ended = new Promise((resolve) => {
      socket.once('end', () => {
        this.sawEnd = true;
        resolve();
      });
    });
    this.closed = new Promise((resolve) => {
      socket.once('close', (hadError: boolean) => {
        this.markClosed();
        resolve(hadError);
      });
    });
  }

  /** Connects; resolves once connected (rejects on error, e.g. ECONNREFUSED). */
  static connect(port: number, host = '127.0.0.1', options: { allowHalfOpen?: boolean; localAddress?: string } = {}): Promise<Peer> {
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

  send(text: string): void {
    this.socket.write(text);
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
 * Opens a connection with `open` and returns its peer with the server's
 * client object for it (its clientConnect). Use one at a time: the next
 * clientConnect is taken as ours.
 */
export async function withClient<C extends TWSocketClient, P>(
  server: TWSocketServer<C>,
  open: () => P | Promise<P>,
): Promise<{ peer: P; client: C }> {
  const connected = once(server, 'clientConnect') as Promise<[C]>;
  const peer = await open();
  const [client] = await connected;
  return { peer, client };
}

/** withClient(), checking that the client is the peer's: its peerPort is the peer's local port. */
export async function connectPeer<C extends TWSocketClient, P extends { localPort: number }>(
  server: TWSocketServer<C>,
  open: () => Promise<P>,
): Promise<{ peer: P; client: C }> {
  const { peer, client } = await withClient(server, open);
  expect(client.peerPort).toBe(peer.localPort);
  return { peer, client };
}

/**
 * Connects a peer to `host`:`port` (the server's main port unless given) and
 * returns it with the server's client object for it (its clientConnect). Use
 * one at a time: the next clientConnect is taken as ours.
 */
export function connectClient<C extends TWSocketClient>(
  server: TWSocketServer<C>,
  host = '127.0.0.1',
  options: { allowHalfOpen?: boolean } = {},
  port = server.bindPort,
): Promise<{ peer: Peer; client: C }> {
  return connectPeer(server, () => Peer.connect(port, host, options));
}

export { once };
