import { Redis, type RedisOptions } from 'ioredis';
import type { ResolvedRedisBusOptions } from './options';
import { SCRIPTS as SCRIPT_TABLE } from './scripts';

/** The longest pause between two reconnection attempts, in ms (shorter with a short presenceTtl). */
const MAX_RETRY_DELAY = 2000;

export interface ConnectionEvents {
  /** Connected, and Redis answers. */
  ready(): void;
  /** The connection closed or cannot be made; ioredis tries again after the back-off. */
  lost(reason: string): void;
}

/**
 * One ioredis connection as the bus needs it: nothing queued while it is
 * down (enableOfflineQueue off: a command then fails at once and the bus
 * answers from this node's knowledge), nothing resent after a reconnection
 * (the bus writes its state back instead: a resent increment would count
 * twice), every command bounded by commandTimeout, reconnection forever with
 * a back-off bounded by min(2 s, presenceTtl / 3).
 */
export class BusConnection {
  readonly client: Redis;
  /** The last error ioredis reported ('' if none). */
  lastError = '';
  private readonly maxDelay: number;

  constructor(readonly role: 'command' | 'subscriber', options: ResolvedRedisBusOptions, events: ConnectionEvents) {
    this.maxDelay = Math.max(50, Math.min(MAX_RETRY_DELAY, Math.floor(options.presenceTtl / 3)));
    const enforced: RedisOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      autoResubscribe: false,
      // in-flight commands fail when the connection closes, instead of waiting for the next one
      maxRetriesPerRequest: 0,
      connectTimeout: options.connectTimeout,
      commandTimeout: options.commandTimeout,
      retryStrategy: (attempt) => this.retryDelay(attempt),
      reconnectOnError: null,
    };
    this.client = typeof options.url === 'string' ? new Redis(options.url, enforced) : new Redis({ ...options.url, ...enforced });
    for (const [name, { lua, numberOfKeys }] of Object.entries(SCRIPT_TABLE))
      this.client.defineCommand(name, numberOfKeys < 0 ? { lua } : { lua, numberOfKeys });
    this.client.on('error', (err: Error) => (this.lastError = err.message || String(err)));
    this.client.on('ready', () => events.ready());
    this.client.on('close', () => events.lost(`redis ${role} connection lost${this.lastError ? `: ${this.lastError}` : ''}`));
  }

  get ready(): boolean {
    return this.client.status === 'ready';
  }

  /** The pause before attempt `attempt` (1, 2...): 100 ms more each time, up to the bound. */
  retryDelay(attempt: number): number {
    return Math.min(100 * attempt, this.maxDelay);
  }

  open(): void {
    // a first failure rejects this promise; ioredis keeps trying with the back-off and says 'ready' when it gets through
    this.client.connect().catch(() => undefined);
  }

  /** Drops the connection and makes a new one (after a command timed out: the link is not trusted). */
  reconnect(): void {
    this.client.disconnect(true);
  }

  close(): void {
    this.client.disconnect();
  }
}
