import cluster from 'node:cluster';
import type { Worker } from 'node:cluster';
import { ICS_ERR, icsError } from '@ics-ts/wsocket';
import { ServiceHub } from '@ics-ts/wsocket-server';
import type { HubDeliverer } from '@ics-ts/wsocket-server';
import { checkInteger, checkOptionsObject, failType } from './checks';
import { IpcSender } from './ipc-sender';
import { BUS_TAG, CLUSTER_LIMITS, DROP_REASONS, checkBusRequest, isTagged } from './protocol';
import type { BusNotice, BusRequest, DropReason } from './protocol';

/** ClusterBusHost options. */
export interface ClusterBusHostOptions {
  /** The hub that holds the service's state. Default a new ServiceHub. */
  hub?: ServiceHub;
  /** Messages to one worker handed to its channel and not yet written; past it, what it is sent is dropped (counted 'backlog'). Default 10000. */
  maxQueuedMessages?: number;
  /** Characters of a published message; a longer one is dropped (counted 'size'). Default 1 MiB. */
  maxMessageLength?: number;
}

/** What ClusterBusHost.stats() shows. */
export interface ClusterBusHostStats {
  /** Workers that joined and are alive. */
  nodes: number;
  /** Slots held across the workers (the hub's clientCount()). */
  slots: number;
  /** Bus messages received from workers (acted on or dropped). */
  received: number;
  /** Messages published by one worker and sent to others. */
  delivered: number;
  /** Messages dropped, by reason: malformed ('shape'), over a bound ('size'), from a worker that has not joined
   * ('notJoined'), a join with a node id another worker holds ('nodeInUse'), to a worker whose channel does not drain ('backlog'). */
  dropped: Record<DropReason, number>;
}

/** One worker as the host knows it. */
interface WorkerLink {
  readonly worker: Worker;
  readonly sender: IpcSender;
  /** Its node id once it joined. */
  node: string | undefined;
  /** Topics it subscribes to: published messages go only to workers that want them. */
  readonly topics: Set<string>;
  readonly deliver: HubDeliverer;
}

const WHERE = 'ClusterBusHost';
const KNOWN_OPTIONS = new Set(['hub', 'maxQueuedMessages', 'maxMessageLength']);

/**
 * The primary's side of ClusterBus: answers the workers' bus requests from a
 * ServiceHub, fans published messages out to the other workers that
 * subscribe to the topic, and removes a worker's node from the hub the moment
 * the worker exits or its channel closes (its slots and presence entries
 * vanish with it: no ghosts). runWorkers() starts one; start one yourself
 * when you fork the workers with `node:cluster` directly.
 *
 * Every message is checked before it is acted on (shape, sizes, a worker may
 * act only for the node it joined as); a bad one is dropped and counted by
 * reason, and answered with an error when the worker waits for an answer.
 * Nothing a worker sends can throw in the primary.
 */
export class ClusterBusHost {
  readonly hub: ServiceHub;
  private readonly maxQueued: number;
  private readonly maxMessageLength: number;
  private readonly links = new Map<Worker, WorkerLink>();
  /** Node id -> the worker that joined as it. */
  private readonly nodes = new Map<string, WorkerLink>();
  private started = false;
  private received = 0;
  private delivered = 0;
  private readonly dropped = Object.fromEntries(DROP_REASONS.map((reason) => [reason, 0])) as Record<DropReason, number>;

  constructor(options: ClusterBusHostOptions = {}) {
    const given = checkOptionsObject(options, WHERE, KNOWN_OPTIONS) as ClusterBusHostOptions;
    if (given.hub !== undefined && !(given.hub instanceof ServiceHub)) failType(WHERE, 'option hub must be a ServiceHub');
    this.hub = given.hub ?? new ServiceHub();
    this.maxQueued = checkInteger(given.maxQueuedMessages ?? 10000, WHERE, 'maxQueuedMessages', 1);
    this.maxMessageLength = checkInteger(given.maxMessageLength ?? CLUSTER_LIMITS.maxMessageLength, WHERE, 'maxMessageLength', 1, CLUSTER_LIMITS.maxMessageLength);
  }

  /** Serves every worker of this primary, those forked before and after. Only in a cluster primary. */
  start(): this {
    if (!cluster.isPrimary) throw icsError(Error, ICS_ERR.INVALID_STATE, `${WHERE}: start() runs in the cluster primary, not in a worker`);
    if (this.started) return this;
    this.started = true;
    cluster.on('message', this.onMessage);
    cluster.on('exit', this.onGone);
    cluster.on('disconnect', this.onGone);
    return this;
  }

  /** Stops serving: every node is removed from the hub. Idempotent. */
  stop(): void {
    if (!this.started) return;
    this.started = false;
    cluster.off('message', this.onMessage);
    cluster.off('exit', this.onGone);
    cluster.off('disconnect', this.onGone);
    for (const worker of [...this.links.keys()]) this.onGone(worker);
  }

  stats(): ClusterBusHostStats {
    return { nodes: this.nodes.size, slots: this.hub.clientCount(), received: this.received, delivered: this.delivered, dropped: { ...this.dropped } };
  }

  private readonly onMessage = (worker: Worker, message: unknown): void => {
    if (!isTagged(message, BUS_TAG)) return; // the application's own message, or the supervisor's
    this.received++;
    const link = this.links.get(worker) ?? this.link(worker);
    const request = message as unknown as BusRequest & Record<string, unknown>;
    const bad = checkBusRequest(request, this.maxMessageLength);
    if (bad) return this.drop(link, request, bad);
    if (request.op === 'join') return this.join(link, request);
    const node = link.node;
    if (node === undefined) return this.drop(link, request, 'notJoined');
    switch (request.op) {
      case 'reserve':
        return this.reply(link, request, this.hub.reserveSlot(node, request.key!, request.max!, request.perIp!));
      case 'releaseSlot':
        return this.hub.releaseSlot(node, request.key!);
      case 'count':
        return this.reply(link, request, this.hub.clientCount());
      case 'claim': {
        const claimed = this.hub.claim(node, request.set!, request.key!, request.value!);
        // Without an id it is a rejoining worker's change: a refusal means another node took the key meanwhile.
        if (request.id === undefined && !claimed) this.send(link, { ics: BUS_TAG, op: 'lost', set: request.set!, key: request.key! });
        return this.reply(link, request, claimed);
      }
      case 'release':
        this.hub.release(node, request.set!, request.key!);
        return this.reply(link, request, null);
      case 'entries':
        return this.reply(link, request, this.hub.entries(request.set!));
      case 'publish':
        return this.hub.publish(node, request.topic!, request.message!);
      case 'subscribe':
        link.topics.add(request.topic!);
        return;
      case 'unsubscribe':
        link.topics.delete(request.topic!);
        return;
      case 'leave':
        this.unjoin(link);
        return this.reply(link, request, null);
    }
  };

  private readonly onGone = (worker: Worker): void => {
    const link = this.links.get(worker);
    if (link === undefined) return;
    this.links.delete(worker);
    this.unjoin(link);
  };

  private link(worker: Worker): WorkerLink {
    const sender = new IpcSender((message, callback) => worker.send(message as never, callback as never), this.maxQueued);
    const link: WorkerLink = {
      worker,
      sender,
      node: undefined,
      topics: new Set(),
      deliver: (topic, message, from) => {
        if (!link.topics.has(topic)) return;
        if (this.send(link, { ics: BUS_TAG, op: 'message', topic, message, from })) this.delivered++;
      },
    };
    this.links.set(worker, link);
    return link;
  }

  /**
   * A worker offers its whole state (at start, or back from an outage): what
   * the hub held for its node is replaced by it, so a slot granted by both
   * sides during the outage is counted once. Entries another node took
   * meanwhile are answered as lost.
   */
  private join(link: WorkerLink, request: BusRequest): void {
    const node = request.node!;
    const holder = this.nodes.get(node);
    if (holder !== undefined && holder !== link) return this.drop(link, request, 'nodeInUse');
    if (link.node !== undefined && link.node !== node) this.unjoin(link);
    this.hub.removeNode(node);
    link.node = node;
    this.nodes.set(node, link);
    for (const [key, count] of request.slots!) for (let i = 0; i < count; i++) this.hub.reserveSlot(node, key, 0, 0);
    const lost: Array<[string, string]> = [];
    for (const [set, key, value] of request.claims!) if (!this.hub.claim(node, set, key, value)) lost.push([set, key]);
    link.topics.clear();
    for (const topic of request.topics!) link.topics.add(topic);
    this.hub.attach(node, link.deliver);
    this.reply(link, request, { lost });
  }

  private unjoin(link: WorkerLink): void {
    if (link.node === undefined) return;
    this.hub.removeNode(link.node);
    this.nodes.delete(link.node);
    link.node = undefined;
    link.topics.clear();
  }

  private reply(link: WorkerLink, request: BusRequest, ok: unknown): void {
    if (request.id !== undefined) this.send(link, { ics: BUS_TAG, op: 'reply', id: request.id, ok });
  }

  private drop(link: WorkerLink, request: Partial<BusRequest>, reason: DropReason): void {
    this.dropped[reason]++;
    if (request.id !== undefined && Number.isSafeInteger(request.id)) {
      this.send(link, { ics: BUS_TAG, op: 'reply', id: request.id, error: `message dropped by the primary: ${reason}` });
    }
  }

  private send(link: WorkerLink, notice: BusNotice): boolean {
    if (!link.worker.isConnected()) return false;
    if (link.sender.trySend(notice)) return true;
    this.dropped.backlog++;
    return false;
  }
}
