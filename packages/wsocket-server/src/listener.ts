import * as net from 'node:net';
import type { SocketFamily } from './server-options';

export type ListenerState = 'closed' | 'listening' | 'failed';

/** What a listener needs of the server it feeds. */
export interface ConnectionAcceptor {
  acceptConnection(socket: net.Socket, listener: Listener): void;
  listenerError(listener: Listener, error: Error): void;
}

export interface ListenerSpec {
  /** -1 for the server's main addr/port, else the multiListenSockets index. */
  index: number;
  addr: string;
  /** The port as asked (0 = the system picks one). */
  port: number;
  socketFamily: SocketFamily;
  ipv6Only: boolean;
  listenBacklog: number;
}

const OWNER = Symbol('ics-ts.listener');
type OwnedServer = net.Server & { [OWNER]?: Listener };

/** One listening socket (one address and port): opens, accepts, reports, closes. */
export class Listener {
  private netServer: OwnedServer | undefined;
  private currentState: ListenerState = 'closed';
  private boundPort = 0;
  private error: Error | undefined;

  constructor(
    readonly spec: ListenerSpec,
    private readonly acceptor: ConnectionAcceptor,
  ) {}

  get index(): number {
    return this.spec.index;
  }

  get state(): ListenerState {
    return this.currentState;
  }

  /** The port actually bound (the real one when 0 was asked); 0 when not listening. */
  get bindPort(): number {
    return this.boundPort;
  }

  get lastError(): Error | undefined {
    return this.error;
  }

  /** `tcp://127.0.0.1:2323`, `tcp://[::1]:2323` */
  get url(): string {
    const host = net.isIPv6(this.spec.addr) ? `[${this.spec.addr}]` : this.spec.addr;
    return `tcp://${host}:${this.boundPort || this.spec.port}`;
  }

  open(): Promise<void> {
    if (this.currentState === 'listening') return Promise.resolve();
    const server: OwnedServer = net.createServer({ allowHalfOpen: true });
    server[OWNER] = this;
    server.on('connection', onConnection);
    const { addr, port, listenBacklog, ipv6Only } = this.spec;
    return new Promise((resolve, reject) => {
      const onStartError = (err: NodeJS.ErrnoException) => {
        server.removeListener('listening', onListening);
        server.close();
        const error = listenError(err, this.url);
        this.error = error;
        this.currentState = 'failed';
        reject(error);
      };
      const onListening = () => {
        server.removeListener('error', onStartError);
        server.on('error', onRunError);
        this.netServer = server;
        this.boundPort = (server.address() as net.AddressInfo).port;
        this.error = undefined;
        this.currentState = 'listening';
        resolve();
      };
      server.once('error', onStartError);
      server.once('listening', onListening);
      server.listen({ host: addr, port, backlog: listenBacklog, ipv6Only: ipv6Only || undefined });
    });
  }

  /** Stops accepting; connections already accepted are not touched. */
  close(): void {
    const server = this.netServer;
    this.netServer = undefined;
    this.boundPort = 0;
    if (this.currentState === 'listening') this.currentState = 'closed';
    if (server) server.close();
  }

  /** @internal */
  handleConnection(socket: net.Socket): void {
    this.acceptor.acceptConnection(socket, this);
  }

  /** @internal */
  handleRunError(error: Error): void {
    this.error = error;
    this.acceptor.listenerError(this, error);
  }
}

function onConnection(this: OwnedServer, socket: net.Socket): void {
  this[OWNER]?.handleConnection(socket);
}

function onRunError(this: OwnedServer, error: Error): void {
  this[OWNER]?.handleRunError(error);
}

const REASONS: Record<string, string> = {
  EADDRINUSE: 'address already in use (another server is listening there)',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'address not available on this machine',
  EAFNOSUPPORT: 'address family not supported',
};

/** An error that names the address and port, keeping the system code (`err.code`). */
function listenError(err: NodeJS.ErrnoException, url: string): NodeJS.ErrnoException {
  const code = err.code ?? 'ERROR';
  const error: NodeJS.ErrnoException = new Error(`listen on ${url} failed: ${code}, ${REASONS[code] ?? err.message}`, {
    cause: err,
  });
  error.code = err.code;
  error.errno = err.errno;
  error.syscall = err.syscall;
  return error;
}
