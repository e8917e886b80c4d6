import { createHash, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import * as http from 'node:http';
import * as net from 'node:net';
import type { AdminTarget } from './admin-target';
import { AdminOptions, ResolvedAdminOptions, resolveAdminOptions } from './admin-options';
import { metricFamilies } from './metric-families';
import { PROMETHEUS_CONTENT_TYPE, writePrometheusText } from './prom-text';
import { StatsHistory } from './stats-history';
import { STATUS_PAGE_CSP, STATUS_PAGE_HTML } from './status-page';

/** Bounds on what a peer may send: the admin listener faces the same hostile input as the server. */
const LIMITS = {
  /** Request line and headers together (Node's maxHeaderSize). */
  headerBytes: 8 * 1024,
  headerCount: 40,
  /** A path longer than this is no route of ours. */
  pathLength: 256,
  /** A peer that has not sent its whole header by then is dropped (slowloris). */
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  /** A socket silent this long is closed. */
  socketIdleMs: 30_000,
  connections: 32,
  requestsPerSocket: 1_000,
} as const;

const SECURITY_HEADERS: Record<string, string> = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-resource-policy': 'same-origin',
};

type Reply = { status: number; type: string; body: string; headers?: Record<string, string> };

const DISCONNECT = /^\/clients\/(\d{1,10})\/disconnect$/;
const LISTENER_ACTION = /^\/listeners\/(-1|\d{1,6})\/(close|open)$/;

function json(status: number, value: unknown): Reply {
  return { status, type: 'application/json; charset=utf-8', body: JSON.stringify(value) };
}

function text(status: number, body: string, headers?: Record<string, string>): Reply {
  return { status, type: 'text/plain; charset=utf-8', body: `${body}\n`, headers };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * A Host header we serve: an IP literal (with or without port), `localhost`,
 * or a configured name. Other names are what DNS rebinding looks like: a page
 * on evil.example whose name now points at 127.0.0.1.
 */
function hostAllowed(host: string, allowed: ReadonlySet<string>): boolean {
  let name = host.toLowerCase();
  if (name.startsWith('[')) {
    const end = name.indexOf(']');
    return end > 0 && net.isIPv6(name.slice(1, end));
  }
  const colon = name.lastIndexOf(':');
  if (colon >= 0) name = name.slice(0, colon);
  return net.isIPv4(name) || name === 'localhost' || allowed.has(name);
}

const OWNER = Symbol('ics-ts.admin');
type OwnedHttpServer = http.Server & { [OWNER]?: AdminServer };

/**
 * The admin listener: a node:http server on a loopback address by default,
 * with `/metrics` (Prometheus), `/stats` (the snapshot as JSON), `/history`
 * (the samples behind the charts), `/` (the status page) and four token-gated
 * actions. See AdminOptions for the token rule.
 */
export class AdminServer {
  readonly options: ResolvedAdminOptions;
  private readonly http: OwnedHttpServer;
  private readonly history: StatsHistory;
  private readonly tokenDigest: Buffer | undefined;
  private sampleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly target: AdminTarget,
    options: AdminOptions,
  ) {
    this.options = resolveAdminOptions(options);
    this.tokenDigest = this.options.token === undefined ? undefined : digest(this.options.token);
    this.history = new StatsHistory(this.options.samplesKept);
    this.http = http.createServer({
      maxHeaderSize: LIMITS.headerBytes,
      headersTimeout: LIMITS.headersTimeoutMs,
      requestTimeout: LIMITS.requestTimeoutMs,
      keepAliveTimeout: LIMITS.keepAliveTimeoutMs,
      // The header and request deadlines are enforced by this sweep (Node's default is every 30 s).
      connectionsCheckingInterval: 1_000,
      joinDuplicateHeaders: false,
    });
    this.http[OWNER] = this;
    this.http.maxHeadersCount = LIMITS.headerCount;
    this.http.maxConnections = LIMITS.connections;
    this.http.maxRequestsPerSocket = LIMITS.requestsPerSocket;
    this.http.timeout = LIMITS.socketIdleMs;
    this.http.on('request', onRequest);
    this.http.on('clientError', onClientError);
  }

  /** `http://127.0.0.1:9323` once listening. */
  get url(): string {
    const address = this.http.address();
    if (!address || typeof address === 'string') return '';
    const host = net.isIPv6(address.address) ? `[${address.address}]` : address.address;
    return `http://${host}:${address.port}`;
  }

  get port(): number {
    const address = this.http.address();
    return address && typeof address !== 'string' ? address.port : 0;
  }

  async listen(): Promise<void> {
    this.http.listen(this.options.port, this.options.addr);
    await once(this.http, 'listening');
    this.sample();
    this.sampleTimer = setInterval(sampleTick, this.options.sampleIntervalMs, this);
    this.sampleTimer.unref();
  }

  async close(): Promise<void> {
    if (this.sampleTimer) clearInterval(this.sampleTimer);
    this.sampleTimer = undefined;
    if (!this.http.listening) return;
    const closed = once(this.http, 'close');
    this.http.close();
    this.http.closeAllConnections();
    await closed;
  }

  /** @internal */
  sample(): void {
    try {
      this.history.add(this.target.stats({ maxClients: 0 }));
    } catch {
      // A snapshot that fails now leaves a gap in the chart; /stats reports the error to whoever asks.
    }
  }

  /** @internal */
  async handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    let reply: Reply;
    try {
      reply = await this.route(request);
    } catch (error) {
      reply = json(500, { error: error instanceof Error ? error.message : 'internal error' });
    }
    if (response.destroyed) return;
    const headers: Record<string, string> = { ...SECURITY_HEADERS, 'content-type': reply.type, ...reply.headers };
    // No route reads a body: after a refused one the connection cannot be reused.
    if (hasBody(request)) headers.connection = 'close';
    response.writeHead(reply.status, headers);
    response.end(reply.body);
  }

  private async route(request: http.IncomingMessage): Promise<Reply> {
    const host = request.headers.host;
    if (host !== undefined && !hostAllowed(host, this.options.allowedHosts)) return text(421, 'unknown Host: add it to admin.allowedHosts');
    const target = request.url ?? '/';
    if (target.length > LIMITS.pathLength) return text(414, 'URI too long');
    if (hasBody(request)) return text(413, 'no route takes a request body');
    const query = target.indexOf('?');
    const path = query < 0 ? target : target.slice(0, query);
    const method = request.method ?? 'GET';

    if (path === '/' || path === '/metrics' || path === '/stats' || path === '/history') {
      if (method !== 'GET' && method !== 'HEAD') return text(405, 'use GET', { allow: 'GET, HEAD' });
      if (path === '/') return { status: 200, type: 'text/html; charset=utf-8', body: STATUS_PAGE_HTML, headers: { 'content-security-policy': STATUS_PAGE_CSP } };
      if (this.options.readsNeedToken) {
        const refused = this.checkToken(request);
        if (refused) return refused;
      }
      if (path !== '/history') await this.target.refreshService?.();
      if (path === '/metrics') {
        return { status: 200, type: PROMETHEUS_CONTENT_TYPE, body: writePrometheusText(metricFamilies(this.target.stats({ maxClients: 0 }))) };
      }
      if (path === '/history') return json(200, { intervalMs: this.options.sampleIntervalMs, samples: this.history.samples() });
      const limit = clientsAsked(query < 0 ? '' : target.slice(query + 1), this.options.maxClientsListed);
      if (limit === undefined) return text(400, `clients must be an integer from 0 to ${this.options.maxClientsListed}`);
      return json(200, this.target.stats({ maxClients: limit }));
    }

    const disconnect = DISCONNECT.exec(path);
    const listener = disconnect ? null : LISTENER_ACTION.exec(path);
    if (!disconnect && !listener && path !== '/recheck') return text(404, 'no such route');
    if (method !== 'POST') return text(405, 'use POST', { allow: 'POST' });
    const refused = this.checkToken(request);
    if (refused) return refused;

    if (disconnect) {
      const cliId = Number(disconnect[1]);
      const done = await this.target.disconnectClient(cliId);
      return done ? json(200, { disconnected: cliId }) : json(404, { error: `no client ${cliId}` });
    }
    if (listener) {
      const index = Number(listener[1]);
      try {
        if (listener[2] === 'close') await this.target.closeListener(index);
        else await this.target.openListener(index);
      } catch (error) {
        if (error instanceof RangeError) return json(404, { error: `no listener ${index}` });
        return json(409, { error: error instanceof Error ? error.message : String(error) });
      }
      return json(200, { listener: index, action: listener[2] });
    }
    return json(200, await this.target.recheckCerts());
  }

  /** undefined when the request carries the token; else the reply (see AdminOptions for the rule). */
  private checkToken(request: http.IncomingMessage): Reply | undefined {
    if (!this.tokenDigest) return json(403, { error: 'admin actions are disabled: no admin.token is configured' });
    const header = request.headers.authorization;
    const challenge = { 'www-authenticate': 'Bearer realm="ics-ts admin"' };
    if (typeof header !== 'string' || !header.startsWith('Bearer ')) return { ...json(401, { error: 'Authorization: Bearer <token> required' }), headers: challenge };
    // Digests have one length whatever was sent: the comparison takes the same time for any wrong token.
    if (!timingSafeEqual(digest(header.slice(7).trim()), this.tokenDigest)) return { ...json(401, { error: 'wrong token' }), headers: challenge };
    return undefined;
  }
}

function hasBody(request: http.IncomingMessage): boolean {
  const length = request.headers['content-length'];
  return (length !== undefined && length !== '0') || request.headers['transfer-encoding'] !== undefined;
}

/** `clients=N` from a query string, bounded; the bound when absent; undefined when malformed. */
function clientsAsked(query: string, max: number): number | undefined {
  const params = new URLSearchParams(query);
  const value = params.get('clients');
  if (value === null) return max;
  if (!/^\d{1,6}$/.test(value)) return undefined;
  const n = Number(value);
  return n <= max ? n : undefined;
}

function onRequest(this: OwnedHttpServer, request: http.IncomingMessage, response: http.ServerResponse): void {
  void this[OWNER]!.handle(request, response);
}

/** A request Node could not parse (too large headers, garbage): a short answer, no echo, and the socket closed. */
function onClientError(error: NodeJS.ErrnoException, socket: net.Socket): void {
  if (!socket.writable) return void socket.destroy();
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
  socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
}

function sampleTick(admin: AdminServer): void {
  admin.sample();
}
