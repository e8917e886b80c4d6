import type * as tls from 'node:tls';
import { expireHandshakes } from './handshake';

/** The shortest and longest pause between two sweeps. */
const SWEEP_MIN_MS = 10;
const SWEEP_MAX_MS = 1000;

/**
 * Handshake deadlines for one server: one timer looks over the pending
 * handshakes, instead of a timer per socket (a Timeout object, a bound
 * callback, and a refresh at every read and write of the handshake). It runs
 * only while handshakes are pending, every quarter of the timeout (10 ms to
 * 1 s), so a handshake ends between its deadline and a quarter later.
 */
export class HandshakeSweep {
  private timer: NodeJS.Timeout | undefined;
  private everyMs = 0;

  constructor(private readonly pending: Set<tls.TLSSocket>) {}

  /** Makes sure the sweep runs, often enough for `timeoutMs`. */
  ensure(timeoutMs: number): void {
    const every = Math.min(SWEEP_MAX_MS, Math.max(SWEEP_MIN_MS, Math.floor(timeoutMs / 4)));
    if (this.timer && every >= this.everyMs) return;
    this.stop();
    this.everyMs = every;
    this.timer = setInterval(sweepNow, every, this);
    this.timer.unref();
  }

  /** @internal Ends the handshakes past their deadline; stops when none is pending. */
  sweep(): void {
    expireHandshakes(this.pending, Date.now());
    if (this.pending.size === 0) this.stop();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.everyMs = 0;
  }
}

function sweepNow(sweep: HandshakeSweep): void {
  sweep.sweep();
}
