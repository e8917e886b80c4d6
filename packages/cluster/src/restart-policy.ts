/** What to do about a worker that died unexpectedly. */
export type RestartDecision = { restart: true; delay: number } | { restart: false; restartsInWindow: number };

/** The window restarts are counted in. */
export const RESTART_WINDOW_MS = 60_000;

/**
 * When to restart a worker that died: after an exponential back-off per
 * worker slot (restartDelay, doubled at each consecutive death, at most
 * maxRestartDelay; back to restartDelay once a worker has lived stableAfter
 * ms), and never more than maxRestartsPerMinute times within a minute across
 * all slots: past it the supervisor gives up, so a worker that dies at start
 * cannot make the primary fork without end. Memory: one death count per slot,
 * at most maxRestartsPerMinute + 1 timestamps.
 */
export class RestartPolicy {
  private readonly consecutive: number[];
  private readonly recent: number[] = [];

  constructor(
    slots: number,
    private readonly restartDelay: number,
    private readonly maxRestartDelay: number,
    private readonly stableAfter: number,
    private readonly maxRestartsPerMinute: number,
  ) {
    this.consecutive = new Array<number>(slots).fill(0);
  }

  /** Slot `slot`'s worker died after living `lived` ms, at time `now` (ms, monotonic). */
  decide(slot: number, lived: number, now: number): RestartDecision {
    while (this.recent.length > 0 && now - this.recent[0] >= RESTART_WINDOW_MS) this.recent.shift();
    if (this.recent.length >= this.maxRestartsPerMinute) return { restart: false, restartsInWindow: this.recent.length };
    this.recent.push(now);
    if (lived >= this.stableAfter) this.consecutive[slot] = 0;
    const deaths = this.consecutive[slot]++;
    return { restart: true, delay: Math.min(this.maxRestartDelay, this.restartDelay * 2 ** Math.min(deaths, 30)) };
  }
}
