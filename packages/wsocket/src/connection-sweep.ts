import { performance } from 'node:perf_hooks';

/** What the sweep looks at: a connection with timeouts, a read rate, or a close deadline. */
export interface Swept {
  /**
   * `elapsedMs` (a whole number) passed since the previous look. Returns how
   * often it wants to be looked at from now on (ms), or 0 to be dropped.
   */
  sweepTick(elapsedMs: number): number;
}

/**
 * One timer for the idle, line and close deadlines and the read-rate refills of
 * every connection in the process, instead of a timer per connection (a Timeout
 * object, a callback, and a re-arm at every read and write). It runs only while
 * some connection needs it, as often as the most demanding one asks (10 ms to
 * 1 s), unref'd so that it never keeps the process alive.
 *
 * Connections do not stamp a clock on activity: they set a marker (one store),
 * and the sweep starts counting a quiet connection at its first look after the
 * marker. A deadline therefore fires between its time and two looks later,
 * never early.
 */
export class ConnectionSweep {
  private readonly watched = new Set<Swept>();
  private timer: NodeJS.Timeout | undefined;
  private everyMs = 0;
  private lastLook = 0;

  /** Connections looked at. */
  get size(): number {
    return this.watched.size;
  }

  /** The sweep's timer is running. */
  get running(): boolean {
    return this.timer !== undefined;
  }

  /** Looks at `item` from now on, at least every `everyMs`. */
  watch(item: Swept, everyMs: number): void {
    this.watched.add(item);
    if (!this.timer || everyMs < this.everyMs) this.arm(everyMs);
  }

  unwatch(item: Swept): void {
    if (this.watched.delete(item) && this.watched.size === 0) this.stop();
  }

  /** @internal One look at every connection. */
  sweep(): void {
    const now = performance.now();
    const elapsed = Math.round(now - this.lastLook);
    this.lastLook = now;
    let need = Infinity;
    for (const item of this.watched) {
      let every = 0;
      try {
        every = item.sweepTick(elapsed);
      } catch (error) {
        // Connections guard their handlers; a failure here must still not stop the others' deadlines.
        process.emitWarning(`connection sweep: ${error instanceof Error ? error.message : String(error)}`);
      }
      if (every <= 0) this.watched.delete(item);
      else if (every < need) need = every;
    }
    if (this.watched.size === 0) this.stop();
    // The demanding connections left: look less often (a shorter need re-arms in watch()).
    else if (need > this.everyMs * 2) this.arm(need);
  }

  private arm(everyMs: number): void {
    if (this.timer) clearInterval(this.timer);
    else this.lastLook = performance.now();
    this.everyMs = everyMs;
    this.timer = setInterval(sweepNow, everyMs, this);
    this.timer.unref();
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.everyMs = 0;
  }
}

/** The process's one sweep. */
export const connectionSweep = new ConnectionSweep();

function sweepNow(sweep: ConnectionSweep): void {
  sweep.sweep();
}
