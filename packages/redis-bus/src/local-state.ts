import type { SlotVerdict } from '@ics-ts/wsocket-server';

/**
 * This node's own knowledge: the truth the bus writes back to Redis when it
 * rejoins, and what it answers from while Redis is unreachable. Redis holds
 * a copy of it that deltas keep current between rejoins.
 */
export class LocalSlots {
  private count = 0;
  private readonly byKey = new Map<string, number>();

  get total(): number {
    return this.count;
  }

  /** The verdict against this node's counts alone (serving while 'down'). */
  verdict(key: string, maxClients: number, maxClientsPerIp: number): SlotVerdict {
    if (maxClients > 0 && this.count >= maxClients) return 'maxClients';
    if (maxClientsPerIp > 0 && (this.byKey.get(key) ?? 0) >= maxClientsPerIp) return 'perIp';
    return 'ok';
  }

  take(key: string): void {
    this.count++;
    this.byKey.set(key, (this.byKey.get(key) ?? 0) + 1);
  }

  /** False when no slot is held for `key` (a release without a reservation: nothing changes). */
  give(key: string): boolean {
    const held = this.byKey.get(key);
    if (held === undefined) return false;
    if (held <= 1) this.byKey.delete(key);
    else this.byKey.set(key, held - 1);
    this.count--;
    return true;
  }

  /** [address key, count] pairs, for writing them back. */
  entries(): IterableIterator<[string, number]> {
    return this.byKey.entries();
  }

  get keys(): number {
    return this.byKey.size;
  }
}

/** The presence entries this node holds: set -> key -> value. */
export class LocalPresence {
  private readonly sets = new Map<string, Map<string, string>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(set: string, key: string): string | undefined {
    return this.sets.get(set)?.get(key);
  }

  set(set: string, key: string, value: string): void {
    let entries = this.sets.get(set);
    if (!entries) this.sets.set(set, (entries = new Map()));
    if (!entries.has(key)) this.count++;
    entries.set(key, value);
  }

  delete(set: string, key: string): boolean {
    const entries = this.sets.get(set);
    if (!entries?.delete(key)) return false;
    this.count--;
    if (entries.size === 0) this.sets.delete(set);
    return true;
  }

  /** The entries of one set. */
  entries(set: string): IterableIterator<[string, string]> {
    return (this.sets.get(set) ?? new Map<string, string>()).entries();
  }

  /** Every set with entries. */
  setNames(): IterableIterator<string> {
    return this.sets.keys();
  }

  clear(): void {
    this.sets.clear();
    this.count = 0;
  }
}
