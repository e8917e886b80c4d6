import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import { MAX_TIMER_MS } from '@ics-ts/wsocket';
import { checkPositive, closeServer, listenOn } from './responder-listener';

/** Finds the key authorization for a request path: `manager.http01Response`, or several managers'. */
export type Http01Lookup = (path: string) => string | undefined;

export interface Http01ResponderOptions {
  /** Time for a peer to send its request head, in ms. Default 10000. */
  timeoutMs?: number;
  /** Connections at once; more are closed at accept. Default 64. */
  maxConnections?: number;
}

/** What a request got: each is counted. */
export type Http01Outcome = 'answered' | 'notFound' | 'badMethod' | 'malformed' | 'tooLarge' | 'timeout';

export interface Http01ResponderEvents {
  /** A request was answered (with the key authorization, or an error status). */
  request: [outcome: Http01Outcome, path: string];
}

/** A request head larger than this is refused (431): a CA's check sends a few hundred bytes. */
export const MAX_HTTP01_HEAD_BYTES = 4096;

const OWNER = Symbol('Http01Responder');
const HEAD = Symbol('requestHead');
type Peer = net.Socket & { [OWNER]: Http01Responder; [HEAD]: Buffer | undefined };
const CRLFCRLF = Buffer.from('\r\n\r\n');
const REQUEST_LINE = /^([A-Z]{1,16}) (\/[\x21-\x7e]{0,2000}) HTTP\/1\.[01]$/;

const STATUS: Record<Exclude<Http01Outcome, 'answered' | 'timeout'>, string> = {
  notFound: '404 Not Found',
  badMethod: '405 Method Not Allowed',
  malformed: '400 Bad Request',
  tooLarge: '431 Request Header Fields Too Large',
};

/**
 * The http-01 answer (RFC 8555 8.3) without a web server: one request per connection, its head
 * read up to MAX_HTTP01_HEAD_BYTES within timeoutMs, `GET /.well-known/acme-challenge/TOKEN`
 * answered with the key authorization, anything else with a status line, then the connection is
 * closed. The body, if any, is never read.
 */
export class Http01Responder extends EventEmitter<Http01ResponderEvents> {
  readonly server: net.Server;
  readonly timeoutMs: number;
  readonly counters: Record<Http01Outcome, number> = { answered: 0, notFound: 0, badMethod: 0, malformed: 0, tooLarge: 0, timeout: 0 };

  /** `lookup` may be replaced later (a server whose host table changed). */
  constructor(public lookup: Http01Lookup, options: Http01ResponderOptions = {}) {
    super();
    this.timeoutMs = checkPositive(options.timeoutMs ?? 10_000, 'Http01Responder', 'timeoutMs', MAX_TIMER_MS);
    this.server = net.createServer(onConnection);
    this.server.maxConnections = checkPositive(options.maxConnections ?? 64, 'Http01Responder', 'maxConnections');
    (this.server as net.Server & { [OWNER]: Http01Responder })[OWNER] = this;
  }

  /** Listens on a port (0 picks one) and an address; resolves with the port. */
  listen(port: number, host = '127.0.0.1'): Promise<number> {
    return listenOn(this.server, port, host);
  }

  close(): Promise<void> {
    return closeServer(this.server);
  }

  /** @internal The head is complete (up to the blank line): answer it. */
  answer(peer: net.Socket, head: Buffer): void {
    const lineEnd = head.indexOf('\r\n');
    const match = REQUEST_LINE.exec(head.toString('latin1', 0, lineEnd));
    if (!match) return this.reply(peer, 'malformed', '');
    const [, method, target] = match;
    const path = target.split('?', 1)[0];
    if (method !== 'GET' && method !== 'HEAD') return this.reply(peer, 'badMethod', path);
    const body = this.lookup(path);
    if (body === undefined) return this.reply(peer, 'notFound', path);
    this.count('answered', path);
    const length = Buffer.byteLength(body);
    peer.end(
      `HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${length}\r\nConnection: close\r\n\r\n` +
        (method === 'GET' ? body : ''),
    );
  }

  /** @internal */
  reply(peer: net.Socket, outcome: Exclude<Http01Outcome, 'answered' | 'timeout'>, path: string): void {
    this.count(outcome, path);
    peer.end(`HTTP/1.1 ${STATUS[outcome]}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
  }

  /** @internal */
  count(outcome: Http01Outcome, path: string): void {
    this.counters[outcome]++;
    if (this.listenerCount('request') > 0) this.emit('request', outcome, path);
  }
}


function onConnection(this: net.Server & { [OWNER]: Http01Responder }, socket: net.Socket): void {
  const peer = socket as Peer;
  peer[OWNER] = this[OWNER];
  peer[HEAD] = undefined;
  peer.setTimeout(this[OWNER].timeoutMs, onTimeout);
  peer.on('data', onData);
  peer.on('error', onError);
}

function onData(this: Peer, chunk: Buffer): void {
  const held = this[HEAD];
  // Search only where the blank line can end: the new chunk and the three bytes before it.
  const from = held ? Math.max(0, held.length - 3) : 0;
  const head = held ? Buffer.concat([held, chunk]) : chunk;
  const end = head.indexOf(CRLFCRLF, from);
  if (end < 0 && head.length >= MAX_HTTP01_HEAD_BYTES) return stop(this, 'tooLarge');
  if (end < 0) {
    this[HEAD] = head;
    return;
  }
  if (end + 4 > MAX_HTTP01_HEAD_BYTES) return stop(this, 'tooLarge');
  stop(this);
  this[OWNER].answer(this, head.subarray(0, end + 2));
}

/** Reads no more (a body or a pipelined request is not ours to read); a refusal is answered. */
function stop(peer: Peer, refusal?: 'tooLarge'): void {
  peer.removeListener('data', onData);
  peer[HEAD] = undefined;
  peer.setTimeout(peer[OWNER].timeoutMs, onTimeout);
  peer.resume(); // drain what else comes so that our reply and FIN are not answered by an RST
  if (refusal) peer[OWNER].reply(peer, refusal, '');
}

function onTimeout(this: Peer): void {
  if (this[HEAD] !== undefined || this.listenerCount('data') > 0) this[OWNER].count('timeout', '');
  this.destroy();
}

function onError(): void {
  // The socket is destroyed with its error; there is nothing to answer.
}
