/**
 * The messages a worker and its primary exchange over the cluster IPC channel,
 * and the checks the receiving side makes before it acts on one. Every message
 * of ours carries `ics: 'bus'` (the ServiceBus) or `ics: 'worker'` (the
 * supervisor's lifecycle), so an application's own `process.send()` messages
 * pass through untouched and ours never reach its handlers' checks.
 */

/** Tag of the bus messages. */
export const BUS_TAG = 'bus';
/** Tag of the lifecycle messages (ready, shutdown, shutdown done). */
export const WORKER_TAG = 'worker';

/**
 * Bounds on what one message may carry. The primary drops (and counts) a
 * message over them; the worker's bus refuses a call over them with a
 * RangeError, so a caller learns it at once instead of through a lost message.
 */
export const CLUSTER_LIMITS = {
  /** Characters of a node id, an address key, a presence set or key, a topic. */
  maxNameLength: 1024,
  /** Characters of a presence value. */
  maxValueLength: 64 * 1024,
  /** Characters of a published message (the default of `maxMessageLength`). */
  maxMessageLength: 1024 * 1024,
  /** Slots, presence entries or topics one join may write back (a worker's whole state). */
  maxJoinItems: 1_000_000,
} as const;

/** Operations a worker's bus sends; those with an `id` are answered by a `reply`. */
export type BusOp =
  | 'join'
  | 'leave'
  | 'reserve'
  | 'releaseSlot'
  | 'count'
  | 'claim'
  | 'release'
  | 'entries'
  | 'publish'
  | 'subscribe'
  | 'unsubscribe';

/** Every field a bus request may carry (which ones depends on `op`). */
export interface BusRequest {
  ics: typeof BUS_TAG;
  op: BusOp;
  /** Present when the worker waits for a reply. */
  id?: number;
  node?: string;
  key?: string;
  max?: number;
  perIp?: number;
  set?: string;
  value?: string;
  topic?: string;
  message?: string;
  /** join: the worker's slots as [address key, count]. */
  slots?: Array<[string, number]>;
  /** join: the worker's presence entries as [set, key, value]. */
  claims?: Array<[string, string, string]>;
  /** join: the topics it subscribes to. */
  topics?: string[];
}

/** What the primary sends a worker's bus. */
export type BusNotice =
  | { ics: typeof BUS_TAG; op: 'reply'; id: number; ok: unknown }
  | { ics: typeof BUS_TAG; op: 'reply'; id: number; error: string }
  | { ics: typeof BUS_TAG; op: 'message'; topic: string; message: string; from: string }
  /** A presence entry written back after an outage that another node took meanwhile. */
  | { ics: typeof BUS_TAG; op: 'lost'; set: string; key: string };

/** Lifecycle messages between the supervisor and a worker. */
export type WorkerMessage =
  | { ics: typeof WORKER_TAG; op: 'ready' }
  | { ics: typeof WORKER_TAG; op: 'shutdown'; timeout: number; notice?: string }
  | { ics: typeof WORKER_TAG; op: 'shutdownDone'; clients: number; closed: number; aborted: number };

/** Why the primary dropped a bus message (the key of its `dropped` counts). */
export type DropReason = 'shape' | 'size' | 'notJoined' | 'nodeInUse' | 'backlog';

/** The reasons, in the order stats list them. */
export const DROP_REASONS: readonly DropReason[] = ['shape', 'size', 'notJoined', 'nodeInUse', 'backlog'];

/** True for an object that carries our tag `tag` (anything else is the application's own message). */
export function isTagged(message: unknown, tag: string): message is { ics: string; op: unknown } {
  return typeof message === 'object' && message !== null && (message as { ics?: unknown }).ics === tag;
}

/** A name field: a non-empty string within maxNameLength. */
export function isName(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= CLUSTER_LIMITS.maxNameLength;
}

/** A request id or a count: a safe integer >= 0. */
export function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/**
 * Checks a bus request as it came off the channel: 'shape' when a field has
 * the wrong type or the op is unknown, 'size' when a field is over its bound,
 * undefined when it may be acted on. Never throws, whatever the input.
 */
export function checkBusRequest(request: { op: unknown } & Record<string, unknown>, maxMessageLength: number): 'shape' | 'size' | undefined {
  if (request.id !== undefined && !isCount(request.id)) return 'shape';
  switch (request.op) {
    case 'join':
      return checkJoin(request);
    case 'leave':
    case 'count':
      return undefined;
    case 'reserve':
      if (!isCount(request.max) || !isCount(request.perIp)) return 'shape';
      return nameField(request.key);
    case 'releaseSlot':
      return nameField(request.key);
    case 'claim':
      if (typeof request.value !== 'string') return 'shape';
      if (request.value.length > CLUSTER_LIMITS.maxValueLength) return 'size';
      return nameField(request.set) ?? nameField(request.key);
    case 'release':
      return nameField(request.set) ?? nameField(request.key);
    case 'entries':
      return nameField(request.set);
    case 'publish':
      if (typeof request.message !== 'string') return 'shape';
      if (request.message.length > maxMessageLength) return 'size';
      return nameField(request.topic);
    case 'subscribe':
    case 'unsubscribe':
      return nameField(request.topic);
    default:
      return 'shape';
  }
}

function nameField(value: unknown): 'shape' | 'size' | undefined {
  if (typeof value !== 'string' || value.length === 0) return 'shape';
  return value.length > CLUSTER_LIMITS.maxNameLength ? 'size' : undefined;
}

function checkJoin(request: Record<string, unknown>): 'shape' | 'size' | undefined {
  const bad = nameField(request.node);
  if (bad) return bad;
  const { slots, claims, topics } = request;
  if (!Array.isArray(slots) || !Array.isArray(claims) || !Array.isArray(topics)) return 'shape';
  let total = claims.length + topics.length;
  if (total > CLUSTER_LIMITS.maxJoinItems) return 'size';
  for (const slot of slots as unknown[]) {
    if (!Array.isArray(slot) || slot.length !== 2 || !isCount(slot[1])) return 'shape';
    const badKey = nameField(slot[0]);
    if (badKey) return badKey;
    total += slot[1] as number;
    if (total > CLUSTER_LIMITS.maxJoinItems) return 'size';
  }
  for (const claim of claims as unknown[]) {
    if (!Array.isArray(claim) || claim.length !== 3 || typeof claim[2] !== 'string') return 'shape';
    if ((claim[2] as string).length > CLUSTER_LIMITS.maxValueLength) return 'size';
    const badName = nameField(claim[0]) ?? nameField(claim[1]);
    if (badName) return badName;
  }
  for (const topic of topics as unknown[]) {
    const badTopic = nameField(topic);
    if (badTopic) return badTopic;
  }
  return undefined;
}
