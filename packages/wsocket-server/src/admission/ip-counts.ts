import { ipKey } from './ip-key';

/** How many connections each address (an IPv6 /64 as one) holds now; addresses at 0 are dropped. */
export class IpCounts {
  private readonly byKey = new Map<string, number>();

  /** The count for the address's key. */
  get(address: string): number {
    return this.byKey.get(ipKey(address)) ?? 0;
  }

  add(address: string): void {
    const key = ipKey(address);
    this.byKey.set(key, (this.byKey.get(key) ?? 0) + 1);
  }

  remove(address: string): void {
    const key = ipKey(address);
    const count = this.byKey.get(key);
    if (count === undefined) return;
    if (count <= 1) this.byKey.delete(key);
    else this.byKey.set(key, count - 1);
  }

  /** Addresses (keys) holding at least one connection. */
  get size(): number {
    return this.byKey.size;
  }
}
