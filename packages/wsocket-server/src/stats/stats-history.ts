import type { ServerStats } from './stats-types';

/** One point of the status page's charts. */
export interface StatsSample {
  /** Milliseconds since the Unix epoch. */
  t: number;
  clients: number;
  accepted: number;
  /** All refusals so far (every reason). */
  refused: number;
  /** All failed TLS handshakes so far. */
  handshakesFailed: number;
}

function total(record: Record<string, number>): number {
  let sum = 0;
  for (const key of Object.keys(record)) sum += record[key];
  return sum;
}

/** The last N samples in a fixed ring: memory bounded whatever the uptime. */
export class StatsHistory {
  private readonly ring: (StatsSample | undefined)[];
  private next = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    this.ring = new Array(capacity);
  }

  add(stats: ServerStats): void {
    this.ring[this.next] = {
      t: Date.parse(stats.at),
      clients: stats.totals.clientsNow,
      accepted: stats.totals.accepted,
      refused: total(stats.totals.refused),
      handshakesFailed: total(stats.totals.handshakesFailed),
    };
    this.next = (this.next + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
  }

  /** Oldest first. */
  samples(): StatsSample[] {
    const out: StatsSample[] = [];
    const start = (this.next - this.count + this.capacity) % this.capacity;
    for (let i = 0; i < this.count; i++) out.push(this.ring[(start + i) % this.capacity]!);
    return out;
  }
}
