import { performance } from 'node:perf_hooks';

/** A request waiting for its reply. */
export interface Pending {
  readonly id: number;
  /** performance.now() past which it has waited too long. */
  readonly deadline: number;
}

/**
 * The requests a bus waits on, by id, bounded in number and in time. Every
 * request gets the same timeout, so insertion order is deadline order: one
 * timer, armed for the oldest, checks them (no timer per request).
 */
export class PendingRequests<T extends Pending> {
  private readonly byId = new Map<number, T>();
  private timer: NodeJS.Timeout | undefined;

  /**
   * @param timeout ms a request may wait
   * @param limit requests that may wait at once
   * @param onExpired called (once per timer run) with the oldest request when it is past its deadline;
   *   it is still in the table: the callback decides what becomes of it and of the others.
   */
  constructor(
    readonly timeout: number,
    readonly limit: number,
    private readonly onExpired: (oldest: T) => void,
  ) {}

  get size(): number {
    return this.byId.size;
  }

  get full(): boolean {
    return this.byId.size >= this.limit;
  }

  /** A deadline for a request sent now. */
  deadlineFromNow(): number {
    return performance.now() + this.timeout;
  }

  add(request: T): void {
    this.byId.set(request.id, request);
    this.timer ??= this.arm(this.timeout);
  }

  /** Removes and returns the request `id` (undefined for an id no longer waited on: a late reply). */
  take(id: number): T | undefined {
    const request = this.byId.get(id);
    if (request !== undefined) this.byId.delete(id);
    return request;
  }

  /** Removes and returns every request, oldest first. */
  takeAll(): T[] {
    const all = [...this.byId.values()];
    this.byId.clear();
    return all;
  }

  /** Stops the timer (the table may still hold requests: takeAll() them). */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(delay: number): NodeJS.Timeout {
    return setTimeout(this.check, Math.max(1, Math.ceil(delay))).unref();
  }

  private readonly check = (): void => {
    this.timer = undefined;
    const oldest = this.byId.values().next().value;
    if (oldest === undefined) return;
    const late = oldest.deadline - performance.now();
    if (late <= 0) this.onExpired(oldest);
    const next = this.byId.values().next().value;
    if (next !== undefined) this.timer ??= this.arm(next.deadline - performance.now());
  };
}
