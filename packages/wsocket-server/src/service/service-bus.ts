/**
 * What the processes and machines serving one service share: client slots
 * counted service-wide, messages to every node, and presence entries that
 * vanish with the node that owns them.
 *
 * A "node" is one TWSocketServer in one process. The in-process bus
 * (LocalBus, the default) makes a node a service of its own; HubBus shares a
 * ServiceHub between servers in one process; the cluster-IPC bus
 * (@ics-ts/cluster, workers of one primary) and the Redis bus
 * (@ics-ts/redis-bus, any number of machines) share them.
 *
 * How the server uses it: a bus whose `status` is 'local' when the server is
 * made is not shared, and the server keeps its client slots itself,
 * synchronously (it never calls reserveSlot/releaseSlot then); a shared bus
 * must therefore never report 'local'. With a shared bus, each connection
 * that passed the server's own limits waits for reserveSlot() (bounded by
 * the server's serviceSlotTimeout; a rejection or a timeout admits it on the
 * server's own limits), and each client that got 'ok' calls releaseSlot()
 * once when it leaves. Rooms (server.room()) use claim/release/entries on
 * the set `room:<name>` and publish/subscribe on the topic of that name.
 *
 * Failure rule for every shared bus: when the shared store or the primary is
 * unreachable, the bus says so (`status` 'down', a 'status' event with the
 * reason), and every call keeps working on what this node knows alone:
 * slots against this node's own clients, messages to this node only,
 * presence of this node's entries. When it is reachable again it rejoins:
 * it writes back this node's slots and presence entries, resumes
 * subscriptions, and goes 'up'.
 */
export interface ServiceBus {
  /** This node's id, unique in the service (e.g. `host:pid:random`). */
  readonly nodeId: string;
  /** 'local' (LocalBus: nothing is shared), 'up' (shared), 'down' (shared store unreachable: serving alone). */
  readonly status: ServiceBusStatus;
  /** The bus's kind for logs and stats: 'local', 'cluster', 'redis'. */
  readonly kind: string;

  /**
   * Joins the service. The server calls it once, from its first listen();
   * resolves when the bus is usable ('up', or 'down' with the reason reported
   * if the store cannot be reached within the bus's connect timeout: the
   * server still starts and serves alone).
   */
  start(): Promise<void>;
  /**
   * Leaves the service: this node's slots and presence entries are removed
   * from the shared store, subscriptions end, connections close. The server
   * calls it at the end of shutdown(). Idempotent.
   */
  stop(): Promise<void>;

  /**
   * Takes one client slot for an address key (ipKey(): an IPv4 address, an
   * IPv6 /64) if the service holds fewer than `maxClients` clients in all and
   * fewer than `maxClientsPerIp` from that key (0 = no limit for either).
   * Atomic across the service: two nodes cannot both take the last slot.
   */
  reserveSlot(key: string, maxClients: number, maxClientsPerIp: number): Promise<SlotVerdict>;
  /** Gives back a slot reserveSlot() granted for `key`. */
  releaseSlot(key: string): void;
  /** Clients across the service (the sum of every live node's slots); this node's count when 'down'. */
  clientCount(): Promise<number>;

  /**
   * Sends `message` to every other node's subscribers of `topic` (never back
   * to this node: the caller delivers locally itself). At most once, in order
   * per sending node; lost while 'down'.
   */
  publish(topic: string, message: string): void;
  /** Calls `handler` for each message another node publishes on `topic`; returns the unsubscribe. */
  subscribe(topic: string, handler: (message: string, fromNode: string) => void): () => void;

  /**
   * Claims `key` in presence set `set` with `value`, for this node, if no
   * node holds it (compared as given: normalise case before). Resolves true
   * when claimed (or already held by this node: the value is replaced).
   * Entries live until released or until their node is gone (the bus's
   * expiry: a dead node's entries disappear within `presenceTtl`).
   */
  claim(set: string, key: string, value: string): Promise<boolean>;
  /** Releases a key this node holds (nothing if it does not). */
  release(set: string, key: string): Promise<void>;
  /** Every live entry of `set` across the service; this node's own when 'down'. */
  entries(set: string): Promise<PresenceEntry[]>;

  /** 'status' when `status` changes (reason: why it went down, or how it came back). */
  on(event: 'status', listener: (status: ServiceBusStatus, reason: string) => void): this;
  off(event: 'status', listener: (status: ServiceBusStatus, reason: string) => void): this;

  /** What stats() shows of the bus. */
  stats(): ServiceBusStats;
}

export type ServiceBusStatus = 'local' | 'up' | 'down';

/** reserveSlot()'s answer: a slot, or the limit that refused it. */
export type SlotVerdict = 'ok' | 'maxClients' | 'perIp';

export interface PresenceEntry {
  readonly key: string;
  readonly value: string;
  /** The node holding it. */
  readonly node: string;
}

export interface ServiceBusStats {
  kind: string;
  nodeId: string;
  status: ServiceBusStatus;
  /** Times it went down since start. */
  outages: number;
  /** Why it last went down ('' if never). */
  lastError: string;
  /** Slots this node holds (its clients, as the bus counts them). */
  slots: number;
  published: number;
  received: number;
}
