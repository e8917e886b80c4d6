import { ICS_ERR, MAX_TIMER_MS, icsError } from '@ics-ts/wsocket';
/** Time and timers, injectable so that a test drives the clock instead of waiting. */
export interface LogClock {
  now(): number;
  /** Calls `callback` once after `ms`; returns a function that cancels it. */
  schedule(callback: () => void, ms: number): () => void;
}

/** The real clock; its timer never keeps the process alive. */
export const REAL_CLOCK: LogClock = {
  now: () => Date.now(),
  schedule(callback, ms) {
    const timer = setTimeout(callback, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
};

export interface RateLimitedLogOptions {
  /** Where lines go (the CLI: stderr). */
  write(line: string): void;
  /** Entries written in full per interval. Default 5. */
  burst?: number;
  /** The interval, in ms. Default 10000. */
  intervalMs?: number;
  /** What an entry is, for the summary line: `N more ${noun} suppressed...`. Default 'exceptions'. */
  noun?: string;
  /** Default: the real clock. */
  clock?: LogClock;
}

/**
 * A log that a flood cannot fill: in each interval the first `burst` entries
 * are written in full, the others only counted, and one line at the end of
 * the interval says how many were left out: `37 more exceptions suppressed in
 * the last 10s`. So whatever a peer provokes, the output is at most `burst`
 * entries and one line per interval.
 *
 * An interval opens with the first entry after a quiet one; its timer exists
 * only while entries are being suppressed. `close()` writes the pending count
 * (call it before the process exits, or the last count is lost).
 */
export class RateLimitedLog {
  private readonly writeLine: (line: string) => void;
  private readonly burst: number;
  private readonly intervalMs: number;
  private readonly noun: string;
  private readonly clock: LogClock;
  /** When the current interval opened; undefined between intervals. */
  private intervalStart: number | undefined;
  private written = 0;
  private suppressedCount = 0;
  private cancelTimer: (() => void) | undefined;
  /** Entries left out since the log was made (the summaries add up to it). */
  totalSuppressed = 0;

  constructor(options: RateLimitedLogOptions) {
    const { burst = 5, intervalMs = 10_000, noun = 'exceptions' } = options;
    if (!Number.isInteger(burst) || burst < 1) throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `RateLimitedLog: option burst must be an integer >= 1, got ${burst}`);
    if (!Number.isInteger(intervalMs) || intervalMs < 1 || intervalMs > MAX_TIMER_MS) {
      throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `RateLimitedLog: option intervalMs must be an integer number of ms in 1..2147483647, got ${intervalMs}`);
    }
    this.writeLine = options.write;
    this.burst = burst;
    this.intervalMs = intervalMs;
    this.noun = noun;
    this.clock = options.clock ?? REAL_CLOCK;
  }

  /** Logs `text` (a stack, several lines maybe) or counts it. Returns whether it was written. */
  log(text: string): boolean {
    const now = this.clock.now();
    if (this.intervalStart !== undefined && now - this.intervalStart >= this.intervalMs) this.endInterval();
    if (this.intervalStart === undefined) {
      this.intervalStart = now;
      this.written = 0;
    }
    if (this.written < this.burst) {
      this.written++;
      this.writeLine(text);
      return true;
    }
    this.suppressedCount++;
    this.totalSuppressed++;
    // The count is written at the end of the interval even if nothing else comes.
    this.cancelTimer ??= this.clock.schedule(() => this.onTimer(), this.intervalStart + this.intervalMs - now);
    return false;
  }

  /** Writes the pending count, if any, and stops the timer. The log may still be used afterwards. */
  close(): void {
    if (this.intervalStart !== undefined) this.endInterval();
  }

  private onTimer(): void {
    this.cancelTimer = undefined;
    this.endInterval();
  }

  private endInterval(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    const start = this.intervalStart!;
    this.intervalStart = undefined;
    if (this.suppressedCount === 0) return;
    const seconds = Math.max(1, Math.round((this.clock.now() - start) / 1000));
    const count = this.suppressedCount;
    this.suppressedCount = 0;
    this.writeLine(`${count} more ${this.noun} suppressed in the last ${seconds}s`);
  }
}
