import type { PresenceEntry, SlotVerdict } from './service-bus';

/** Delivers a message another node published (see ServiceHub.attach). */
export type HubDeliverer = (topic: string, message: string, fromNode: string) => void;

/** What the hub holds for one node. */
interface HubNode {
  /** Slots per address key (keys at 0 are dropped). */
  readonly slots: Map<string, number>;
  slotCount: number;
  /** Presence entries it holds: set name -> keys. */
  readonly claims: Map<string, Set<string>>;
  deliver: HubDeliverer | undefined;
}

interface HubEntry {
  readonly value: string;
  readonly node: string;
}

/**
 * The state of one service, for every node of it, in memory: client slots
 * (in all and per address key), presence sets, and the nodes messages go to.
 * Synchronous and node-scoped: every call names the node it acts for. It is
 * what LocalBus keeps for its one node, what HubBus shares between servers in
 * one process, and what the cluster primary keeps for its workers.
 *
 * Bounded by what the nodes hold, never by what was asked: per node, a count
 * per address key with at least one slot; per presence set, a map of the
 * keys held (a set with no entry is dropped); per node, one deliverer. A
 * release of something not held changes nothing; a refused reserve or claim
 * stores nothing; publish() keeps nothing.
 *
 * A deliverer that throws does not stop delivery to the other nodes: the
 * error is counted (`deliveryErrors`, the last one in `lastDeliveryError`).
 */
export class ServiceHub {
  private readonly byNode = new Map<string, HubNode>();
  /** Slots per address key across the nodes (keys at 0 are dropped). */
  private readonly slotsByKey = new Map<string, number>();
  private totalSlots = 0;
  /** Presence sets: set name -> key -> holder. */
  private readonly sets = new Map<string, Map<string, HubEntry>>();
  private nodeList: readonly string[] | undefined;
  /** Deliverers that threw (publish() carried on with the others). */
  deliveryErrors = 0;
  /** The last error a deliverer threw. */
  lastDeliveryError: unknown = undefined;

  /**
   * Takes a slot for `node` and address `key` if the service holds fewer than
   * `maxClients` slots in all and fewer than `maxClientsPerIp` for `key`
   * (0 = no limit). maxClients is checked first, as a single server does.
   */
  reserveSlot(node: string, key: string, maxClients: number, maxClientsPerIp: number): SlotVerdict {
    if (maxClients > 0 && this.totalSlots >= maxClients) return 'maxClients';
    const forKey = this.slotsByKey.get(key) ?? 0;
    if (maxClientsPerIp > 0 && forKey >= maxClientsPerIp) return 'perIp';
    const state = this.node(node);
    state.slots.set(key, (state.slots.get(key) ?? 0) + 1);
    state.slotCount++;
    this.slotsByKey.set(key, forKey + 1);
    this.totalSlots++;
    return 'ok';
  }

  /** Gives back one of `node`'s slots for `key`; nothing when it holds none. */
  releaseSlot(node: string, key: string): void {
    const state = this.byNode.get(node);
    const held = state?.slots.get(key);
    if (state === undefined || held === undefined) return;
    if (held <= 1) state.slots.delete(key);
    else state.slots.set(key, held - 1);
    state.slotCount--;
    this.dropKeySlots(key, 1);
  }

  /** Slots held across every node. */
  clientCount(): number {
    return this.totalSlots;
  }

  /** Slots `node` holds. */
  nodeSlots(node: string): number {
    return this.byNode.get(node)?.slotCount ?? 0;
  }

  /**
   * Claims `key` in presence set `set` for `node`: true when no node held it,
   * or `node` did (the value is replaced); false when another node holds it.
   */
  claim(node: string, set: string, key: string, value: string): boolean {
    let entries = this.sets.get(set);
    const holder = entries?.get(key);
    if (holder !== undefined && holder.node !== node) return false;
    if (entries === undefined) {
      entries = new Map();
      this.sets.set(set, entries);
    }
    entries.set(key, { value, node });
    const state = this.node(node);
    let keys = state.claims.get(set);
    if (keys === undefined) {
      keys = new Set();
      state.claims.set(set, keys);
    }
    keys.add(key);
    return true;
  }

  /** Releases `key` of `set` if `node` holds it. */
  release(node: string, set: string, key: string): void {
    const entries = this.sets.get(set);
    if (entries?.get(key)?.node !== node) return;
    this.dropEntry(set, entries, key);
    const keys = this.byNode.get(node)?.claims.get(set);
    keys?.delete(key);
    if (keys?.size === 0) this.byNode.get(node)!.claims.delete(set);
  }

  /** Every entry of `set`, across the nodes, in claim order. */
  entries(set: string): PresenceEntry[] {
    const entries = this.sets.get(set);
    if (entries === undefined) return [];
    const list: PresenceEntry[] = [];
    for (const [key, entry] of entries) list.push({ key, value: entry.value, node: entry.node });
    return list;
  }

  /** Where `node` receives what the other nodes publish (replaces its previous deliverer). */
  attach(node: string, deliver: HubDeliverer): void {
    this.node(node).deliver = deliver;
  }

  /** Delivers `message` to every attached node but `fromNode`, synchronously, in attach order. */
  publish(fromNode: string, topic: string, message: string): void {
    for (const [node, state] of this.byNode) {
      if (node === fromNode || state.deliver === undefined) continue;
      try {
        state.deliver(topic, message, fromNode);
      } catch (error) {
        this.deliveryErrors++;
        this.lastDeliveryError = error;
      }
    }
  }

  /** `node` is gone: its slots, presence entries and deliverer vanish. */
  removeNode(node: string): void {
    const state = this.byNode.get(node);
    if (state === undefined) return;
    this.byNode.delete(node);
    this.nodeList = undefined;
    for (const [key, count] of state.slots) this.dropKeySlots(key, count);
    for (const [set, keys] of state.claims) {
      const entries = this.sets.get(set);
      if (entries === undefined) continue;
      for (const key of keys) if (entries.get(key)?.node === node) this.dropEntry(set, entries, key);
    }
  }

  /** The nodes the hub knows: attached, or holding a slot or an entry, in order of first appearance. */
  get nodes(): readonly string[] {
    return (this.nodeList ??= Object.freeze([...this.byNode.keys()]));
  }

  private node(node: string): HubNode {
    let state = this.byNode.get(node);
    if (state === undefined) {
      state = { slots: new Map(), slotCount: 0, claims: new Map(), deliver: undefined };
      this.byNode.set(node, state);
      this.nodeList = undefined;
    }
    return state;
  }

  private dropKeySlots(key: string, count: number): void {
    const left = (this.slotsByKey.get(key) ?? 0) - count;
    if (left <= 0) this.slotsByKey.delete(key);
    else this.slotsByKey.set(key, left);
    this.totalSlots -= count;
  }

  private dropEntry(set: string, entries: Map<string, HubEntry>, key: string): void {
    entries.delete(key);
    if (entries.size === 0) this.sets.delete(set);
  }
}
