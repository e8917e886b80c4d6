import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import { MAX_TIMER_MS, describe } from '@ics-ts/wsocket';
import type { PresenceEntry, ServiceBus, ServiceBusStats, ServiceBusStatus, SlotVerdict } from '@ics-ts/wsocket-server';
import { checkInteger, checkName, checkOptionsObject, checkString, failType } from './checks';
import { IpcSender } from './ipc-sender';
import { PendingRequests } from './pending-requests';
import type { Pending } from './pending-requests';
import { BUS_TAG, CLUSTER_LIMITS, isCount, isName, isTagged } from './protocol';
import type { BusOp, BusRequest } from './protocol';

/** ClusterBus options: every one optional; the defaults are CLUSTER_BUS_DEFAULTS. */
export interface ClusterBusOptions {
  /** This node's id, unique in the service. Default `hostname:pid:random`. */
  nodeId?: string;
  /**
   * ms a request to the primary may wait; then the bus goes 'down' and answers alone. Keep it below the
   * server's `serviceSlotTimeout` (default 2000), so that a connection is answered by the bus's rule first. Default 1000.
   */
  requestTimeout?: number;
  /** ms between attempts to rejoin the primary while 'down'. Default 1000. */
  rejoinInterval?: number;
  /** Requests that may wait for the primary at once; one more takes the bus 'down' (the primary does not keep up). Default 10000. */
  maxPending?: number;
  /** Messages handed to the IPC channel and not yet written; past it the bus goes 'down'. Default 10000. */
  maxQueuedMessages?: number;
  /** Characters of a published message; publish() refuses a longer one with a RangeError. Default 1 MiB. */
  maxMessageLength?: number;
}

/** The defaults of the ClusterBus options. */
export const CLUSTER_BUS_DEFAULTS = {
  requestTimeout: 1000,
  rejoinInterval: 1000,
  maxPending: 10000,
  maxQueuedMessages: 10000,
  maxMessageLength: CLUSTER_LIMITS.maxMessageLength,
} as const;

/** What ClusterBus.stats() shows: the contract's figures and the channel's. */
export interface ClusterBusStats extends ServiceBusStats {
  /** Requests waiting for the primary now. */
  pending: number;
  /** Requests the primary did not answer in time. */
  timeouts: number;
  /** Messages published while 'down' (lost, as the contract says). */
  lostMessages: number;
  /** Presence entries written back after an outage that another node had taken meanwhile (dropped here). */
  presenceConflicts: number;
  /** Messages from the primary that were ours but malformed (dropped). */
  badMessages: number;
  /** Exceptions thrown by subscribe() handlers (each also a process warning). */
  handlerErrors: number;
}

type StatusListener = (status: ServiceBusStatus, reason: string) => void;
type Handler = (message: string, fromNode: string) => void;

/** One request waiting for the primary: what it asked, so it can be answered alone if the primary does not. */
interface BusPending extends Pending {
  readonly op: BusOp;
  readonly key: string;
  readonly set: string;
  readonly value: string;
  readonly max: number;
  readonly perIp: number;
  readonly resolve: (value: never) => void;
}

const WHERE = 'ClusterBus';
const KNOWN_OPTIONS = new Set(['nodeId', 'requestTimeout', 'rejoinInterval', 'maxPending', 'maxQueuedMessages', 'maxMessageLength']);
const VERDICTS: ReadonlySet<unknown> = new Set<SlotVerdict>(['ok', 'maxClients', 'perIp']);

/**
 * The ServiceBus of a cluster worker (kind 'cluster'): client slots, messages
 * and presence shared with the other workers through the primary, which keeps
 * them in a ServiceHub (ClusterBusHost, which runWorkers() starts). Requests
 * go over the worker's IPC channel with an id and are answered by the
 * primary; slot releases, publications and subscriptions need no answer (the
 * channel keeps their order).
 *
 * Failure rule (the contract's): a request unanswered within
 * `requestTimeout`, more than `maxPending` waiting, a channel that does not
 * drain or closes: the bus goes 'down' with the reason, answers every waiting
 * request from what this worker knows alone (its own slots and presence
 * entries, messages to itself only), and every `rejoinInterval` offers the
 * primary its whole state again (a join: the primary drops what it held for
 * this node and takes the worker's state, so nothing granted during the
 * outage is counted twice); the primary's answer takes it back 'up'. A
 * process that is no cluster worker (no IPC channel), or whose primary serves
 * no hub, starts 'down' and serves alone, with that reason.
 */
export class ClusterBus implements ServiceBus {
  readonly nodeId: string;
  readonly kind = 'cluster';
  private statusNow: ServiceBusStatus = 'down';
  private readonly pending: PendingRequests<BusPending>;
  private readonly sender: IpcSender | undefined;
  private readonly rejoinInterval: number;
  private readonly maxMessageLength: number;
  private nextId = 1;
  /** The id of the join waiting for its answer (0: none). */
  private joinId = 0;
  private rejoinTimer: NodeJS.Timeout | undefined;
  private startPromise: Promise<void> | undefined;
  private firstJoin: (() => void) | undefined;
  private stopped = false;
  /** A 'status' event was emitted (start()'s outcome is reported even when it is 'down', the status before it). */
  private reported = false;
  private readonly statusListeners: StatusListener[] = [];
  // What this node holds: the truth it serves from when 'down' and writes back on rejoin.
  private readonly slotsByKey = new Map<string, number>();
  private slotTotal = 0;
  private readonly presence = new Map<string, Map<string, string>>();
  private readonly subscribers = new Map<string, Set<Handler>>();
  private readonly counters = {
    outages: 0,
    lastError: 'not started',
    published: 0,
    received: 0,
    timeouts: 0,
    lostMessages: 0,
    presenceConflicts: 0,
    badMessages: 0,
    handlerErrors: 0,
  };

  constructor(options: ClusterBusOptions = {}) {
    const given = checkOptionsObject(options, WHERE, KNOWN_OPTIONS) as ClusterBusOptions;
    const settings = { ...CLUSTER_BUS_DEFAULTS, ...stripUndefined(given) };
    this.nodeId =
      given.nodeId === undefined
        ? `${os.hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`
        : checkName(checkString(given.nodeId, WHERE, 'nodeId'), WHERE, 'option nodeId', CLUSTER_LIMITS.maxNameLength);
    const timeout = checkInteger(settings.requestTimeout, WHERE, 'requestTimeout', 1, MAX_TIMER_MS);
    const maxPending = checkInteger(settings.maxPending, WHERE, 'maxPending', 1);
    const maxQueued = checkInteger(settings.maxQueuedMessages, WHERE, 'maxQueuedMessages', 1);
    this.rejoinInterval = checkInteger(settings.rejoinInterval, WHERE, 'rejoinInterval', 1, MAX_TIMER_MS);
    this.maxMessageLength = checkInteger(settings.maxMessageLength, WHERE, 'maxMessageLength', 1, CLUSTER_LIMITS.maxMessageLength);
    this.pending = new PendingRequests<BusPending>(timeout, maxPending, this.onExpired);
    const send = process.send;
    this.sender = send === undefined ? undefined : new IpcSender(send.bind(process) as never, maxQueued);
  }

  get status(): ServiceBusStatus {
    return this.statusNow;
  }

  /**
   * Joins the primary's hub: resolves 'up' when it answers, or 'down' (with
   * the reason in the 'status' event and stats().lastError) when this process
   * has no IPC channel or the primary does not answer within requestTimeout.
   */
  start(): Promise<void> {
    if (this.startPromise !== undefined) return this.startPromise;
    this.stopped = false;
    this.startPromise = new Promise<void>((resolve) => {
      if (this.sender === undefined || !process.connected) {
        this.goDown('no IPC channel to a primary (not a cluster worker): serving alone', false);
        return resolve();
      }
      process.on('message', this.onMessage);
      process.on('disconnect', this.onDisconnect);
      this.firstJoin = resolve;
      this.sendJoin();
    });
    return this.startPromise;
  }

  /**
   * Leaves the hub (the primary drops this node's slots and entries at once)
   * and stops listening; what this node held is forgotten. Idempotent; start()
   * joins again (a server that listens again after its shutdown).
   */
  async stop(): Promise<void> {
    if (this.stopped || this.startPromise === undefined) return;
    this.stopped = true;
    clearTimeout(this.rejoinTimer);
    this.rejoinTimer = undefined;
    if (this.statusNow === 'up') await this.request('leave', '', '', '', 0, 0);
    else if (this.joinId !== 0) this.notify({ ics: BUS_TAG, op: 'leave' }); // a join on its way: undo it
    this.joinId = 0;
    this.firstJoin = undefined;
    this.startPromise = undefined;
    this.pending.close();
    for (const request of this.pending.takeAll()) this.answerAlone(request);
    process.off('message', this.onMessage);
    process.off('disconnect', this.onDisconnect);
    this.slotsByKey.clear();
    this.slotTotal = 0;
    this.presence.clear();
    this.setStatus('down', 'stopped');
  }

  reserveSlot(key: string, maxClients: number, maxClientsPerIp: number): Promise<SlotVerdict> {
    checkName(key, WHERE, 'reserveSlot key', CLUSTER_LIMITS.maxNameLength);
    checkInteger(maxClients, WHERE, 'reserveSlot maxClients', 0);
    checkInteger(maxClientsPerIp, WHERE, 'reserveSlot maxClientsPerIp', 0);
    if (this.statusNow === 'up') return this.request('reserve', key, '', '', maxClients, maxClientsPerIp);
    const verdict = this.reserveAlone(key, maxClients, maxClientsPerIp);
    // A rejoin under way has sent this node's state: what changes after it follows on the channel.
    if (verdict === 'ok' && this.joinId !== 0) this.notify({ ics: BUS_TAG, op: 'reserve', key, max: 0, perIp: 0 });
    return Promise.resolve(verdict);
  }

  releaseSlot(key: string): void {
    const held = this.slotsByKey.get(key);
    if (held === undefined) return;
    if (held <= 1) this.slotsByKey.delete(key);
    else this.slotsByKey.set(key, held - 1);
    this.slotTotal--;
    if (this.linked) this.notify({ ics: BUS_TAG, op: 'releaseSlot', key });
  }

  clientCount(): Promise<number> {
    if (this.statusNow === 'up') return this.request('count', '', '', '', 0, 0);
    return Promise.resolve(this.slotTotal);
  }

  publish(topic: string, message: string): void {
    checkName(topic, WHERE, 'publish topic', CLUSTER_LIMITS.maxNameLength);
    if (typeof message !== 'string') failType(WHERE, `publish message must be a string, got ${describe(message)}`);
    if (message.length > this.maxMessageLength) checkName(message, WHERE, 'publish message', this.maxMessageLength);
    if (this.statusNow === 'up' && this.notify({ ics: BUS_TAG, op: 'publish', topic, message })) this.counters.published++;
    else this.counters.lostMessages++;
  }

  subscribe(topic: string, handler: (message: string, fromNode: string) => void): () => void {
    checkName(topic, WHERE, 'subscribe topic', CLUSTER_LIMITS.maxNameLength);
    if (typeof handler !== 'function') failType(WHERE, `subscribe handler must be a function, got ${describe(handler)}`);
    let handlers = this.subscribers.get(topic);
    if (handlers === undefined) {
      handlers = new Set();
      this.subscribers.set(topic, handlers);
      if (this.linked) this.notify({ ics: BUS_TAG, op: 'subscribe', topic });
    }
    handlers.add(handler);
    return () => this.unsubscribe(topic, handler);
  }

  claim(set: string, key: string, value: string): Promise<boolean> {
    checkName(set, WHERE, 'claim set', CLUSTER_LIMITS.maxNameLength);
    checkName(key, WHERE, 'claim key', CLUSTER_LIMITS.maxNameLength);
    if (typeof value !== 'string') failType(WHERE, `claim value must be a string, got ${describe(value)}`);
    if (value.length > CLUSTER_LIMITS.maxValueLength) checkName(value, WHERE, 'claim value', CLUSTER_LIMITS.maxValueLength);
    if (this.statusNow === 'up') return this.request('claim', key, set, value, 0, 0);
    this.holdEntry(set, key, value);
    if (this.joinId !== 0) this.notify({ ics: BUS_TAG, op: 'claim', set, key, value });
    return Promise.resolve(true);
  }

  release(set: string, key: string): Promise<void> {
    checkName(set, WHERE, 'release set', CLUSTER_LIMITS.maxNameLength);
    checkName(key, WHERE, 'release key', CLUSTER_LIMITS.maxNameLength);
    const entries = this.presence.get(set);
    if (entries === undefined || !entries.delete(key)) return Promise.resolve();
    if (entries.size === 0) this.presence.delete(set);
    if (this.statusNow === 'up') return this.request('release', key, set, '', 0, 0);
    if (this.joinId !== 0) this.notify({ ics: BUS_TAG, op: 'release', set, key });
    return Promise.resolve();
  }

  entries(set: string): Promise<PresenceEntry[]> {
    checkName(set, WHERE, 'entries set', CLUSTER_LIMITS.maxNameLength);
    if (this.statusNow === 'up') return this.request('entries', '', set, '', 0, 0);
    return Promise.resolve(this.ownEntries(set));
  }

  on(event: 'status', listener: (status: ServiceBusStatus, reason: string) => void): this {
    if (event !== 'status') failType(WHERE, `the only event is 'status', got ${describe(event)}`);
    this.statusListeners.push(listener);
    return this;
  }

  off(event: 'status', listener: (status: ServiceBusStatus, reason: string) => void): this {
    const index = event === 'status' ? this.statusListeners.indexOf(listener) : -1;
    if (index >= 0) this.statusListeners.splice(index, 1);
    return this;
  }

  stats(): ClusterBusStats {
    const { outages, lastError, published, received, timeouts, lostMessages, presenceConflicts, badMessages, handlerErrors } = this.counters;
    return {
      kind: this.kind,
      nodeId: this.nodeId,
      status: this.statusNow,
      outages,
      lastError,
      slots: this.slotTotal,
      published,
      received,
      pending: this.pending.size,
      timeouts,
      lostMessages,
      presenceConflicts,
      badMessages,
      handlerErrors,
    };
  }

  // ---- the channel ---------------------------------------------------------------

  /** Up, or a join under way: the primary follows this node's changes. */
  private get linked(): boolean {
    return this.statusNow === 'up' || this.joinId !== 0;
  }

  /** Sends a message that needs no answer; a channel that does not drain takes the bus down. */
  private notify(message: BusRequest): boolean {
    if (this.sender!.trySend(message)) return true;
    this.goDown(`the IPC channel to the primary does not drain (${this.sender!.inFlight} messages queued)`, true);
    return false;
  }

  private request<T>(op: BusOp, key: string, set: string, value: string, max: number, perIp: number): Promise<T> {
    return new Promise<T>((resolve) => {
      const request: BusPending = { id: this.nextId++, deadline: this.pending.deadlineFromNow(), op, key, set, value, max, perIp, resolve: resolve as (value: never) => void };
      if (this.pending.full) {
        this.goDown(`${this.pending.size} requests wait for the primary: it does not keep up`, true);
        return this.answerAlone(request);
      }
      const message: BusRequest = { ics: BUS_TAG, op, id: request.id };
      if (op === 'reserve') Object.assign(message, { key, max, perIp });
      else if (op === 'claim') Object.assign(message, { set, key, value });
      else if (op === 'release') Object.assign(message, { set, key });
      else if (op === 'entries') message.set = set;
      this.pending.add(request);
      if (!this.sender!.trySend(message)) {
        this.pending.take(request.id);
        this.goDown(`the IPC channel to the primary does not drain (${this.sender!.inFlight} messages queued)`, true);
        this.answerAlone(request);
      }
    });
  }

  private sendJoin(): void {
    if (this.joinId !== 0 || this.stopped || !process.connected) return;
    const id = this.nextId++;
    const claims: Array<[string, string, string]> = [];
    for (const [set, entries] of this.presence) for (const [key, value] of entries) claims.push([set, key, value]);
    const message: BusRequest = { ics: BUS_TAG, op: 'join', id, node: this.nodeId, slots: [...this.slotsByKey], claims, topics: [...this.subscribers.keys()] };
    const join: BusPending = { id, deadline: this.pending.deadlineFromNow(), op: 'join', key: '', set: '', value: '', max: 0, perIp: 0, resolve: noop };
    this.pending.add(join);
    if (this.sender!.trySend(message)) this.joinId = id;
    else {
      this.pending.take(id);
      this.joinFailed(`the IPC channel to the primary does not drain (${this.sender!.inFlight} messages queued)`);
    }
  }

  private readonly onMessage = (message: unknown): void => {
    if (!isTagged(message, BUS_TAG)) return; // the application's own message
    const notice = message as Record<string, unknown>;
    switch (notice.op) {
      case 'reply':
        return this.onReply(notice);
      case 'message':
        if (typeof notice.topic !== 'string' || typeof notice.message !== 'string' || typeof notice.from !== 'string') return this.bad();
        return this.deliver(notice.topic, notice.message, notice.from);
      case 'lost':
        if (typeof notice.set !== 'string' || typeof notice.key !== 'string') return this.bad();
        return this.lose(notice.set, notice.key);
      default:
        return this.bad();
    }
  };

  private readonly onDisconnect = (): void => {
    clearTimeout(this.rejoinTimer);
    this.goDown('the IPC channel to the primary closed', false);
  };

  private onReply(reply: Record<string, unknown>): void {
    if (!isCount(reply.id)) return this.bad();
    const request = this.pending.take(reply.id);
    if (request === undefined) return; // answered alone already (a timeout): the next join sets the primary right
    if (typeof reply.error === 'string') {
      if (request.op === 'join') return this.joinFailed(`the primary refused the join: ${reply.error.slice(0, 200)}`);
      this.goDown(`the primary refused a ${request.op}: ${reply.error.slice(0, 200)}`, true);
      return this.answerAlone(request);
    }
    const answer = this.acceptAnswer(request, reply.ok);
    if (answer === BAD) {
      this.bad();
      this.goDown(`the primary answered a ${request.op} with a malformed reply`, true);
      return this.answerAlone(request);
    }
    request.resolve(answer as never);
  }

  /** The primary's answer to `request`, applied to what this node holds; BAD if it is not one. */
  private acceptAnswer(request: BusPending, ok: unknown): unknown {
    switch (request.op) {
      case 'join':
        return this.joined(ok);
      case 'reserve':
        if (!VERDICTS.has(ok)) return BAD;
        if (ok === 'ok') this.holdSlot(request.key);
        return ok;
      case 'count':
        return isCount(ok) ? ok : BAD;
      case 'claim':
        if (typeof ok !== 'boolean') return BAD;
        if (ok) this.holdEntry(request.set, request.key, request.value);
        return ok;
      case 'entries':
        return isEntryList(ok) ? ok : BAD;
      default:
        return undefined; // leave, release: nothing to read
    }
  }

  private joined(ok: unknown): unknown {
    const lost = (ok as { lost?: unknown } | null)?.lost;
    if (!Array.isArray(lost)) return BAD;
    this.joinId = 0;
    for (const item of lost as unknown[]) {
      if (Array.isArray(item) && typeof item[0] === 'string' && typeof item[1] === 'string') this.lose(item[0], item[1]);
    }
    const wasStarting = this.firstJoin !== undefined;
    this.setStatus('up', wasStarting ? `joined the primary as ${this.nodeId}` : 'rejoined the primary: this node\'s slots and presence written back');
    this.resolveStart();
    return undefined;
  }

  private joinFailed(reason: string): void {
    this.joinId = 0;
    this.goDown(reason, true);
  }

  // ---- down: serving alone -----------------------------------------------------------

  private readonly onExpired = (oldest: BusPending): void => {
    this.counters.timeouts++;
    const what = oldest.op === 'join' ? 'a join' : `a ${oldest.op}`;
    if (oldest.op === 'join') this.joinId = 0;
    const hint = this.firstJoin !== undefined ? ' (is it running runWorkers() or a ClusterBusHost?)' : '';
    this.goDown(`the primary did not answer ${what} within ${this.pending.timeout} ms${hint}`, true);
  };

  /** Goes (or stays) 'down': every waiting request is answered alone; a rejoin is planned if the channel is open. */
  private goDown(reason: string, rejoin: boolean): void {
    this.counters.lastError = reason;
    if (this.statusNow === 'up') this.counters.outages++;
    this.joinId = 0;
    const waiting = this.pending.takeAll();
    this.setStatus('down', reason);
    for (const request of waiting) this.answerAlone(request);
    this.resolveStart();
    if (rejoin && !this.stopped && process.connected && this.rejoinTimer === undefined) {
      this.rejoinTimer = setTimeout(this.rejoin, this.rejoinInterval).unref();
    }
  }

  private readonly rejoin = (): void => {
    this.rejoinTimer = undefined;
    if (this.statusNow === 'down') this.sendJoin();
  };

  private answerAlone(request: BusPending): void {
    switch (request.op) {
      case 'reserve':
        return request.resolve(this.reserveAlone(request.key, request.max, request.perIp) as never);
      case 'count':
        return request.resolve(this.slotTotal as never);
      case 'claim':
        this.holdEntry(request.set, request.key, request.value);
        return request.resolve(true as never);
      case 'entries':
        return request.resolve(this.ownEntries(request.set) as never);
      default:
        return request.resolve(undefined as never);
    }
  }

  private reserveAlone(key: string, maxClients: number, maxClientsPerIp: number): SlotVerdict {
    if (maxClients > 0 && this.slotTotal >= maxClients) return 'maxClients';
    if (maxClientsPerIp > 0 && (this.slotsByKey.get(key) ?? 0) >= maxClientsPerIp) return 'perIp';
    this.holdSlot(key);
    return 'ok';
  }

  private holdSlot(key: string): void {
    this.slotsByKey.set(key, (this.slotsByKey.get(key) ?? 0) + 1);
    this.slotTotal++;
  }

  private holdEntry(set: string, key: string, value: string): void {
    let entries = this.presence.get(set);
    if (entries === undefined) {
      entries = new Map();
      this.presence.set(set, entries);
    }
    entries.set(key, value);
  }

  private lose(set: string, key: string): void {
    const entries = this.presence.get(set);
    if (entries === undefined || !entries.delete(key)) return;
    if (entries.size === 0) this.presence.delete(set);
    this.counters.presenceConflicts++;
  }

  private ownEntries(set: string): PresenceEntry[] {
    const entries = this.presence.get(set);
    if (entries === undefined) return [];
    const list: PresenceEntry[] = [];
    for (const [key, value] of entries) list.push({ key, value, node: this.nodeId });
    return list;
  }

  private unsubscribe(topic: string, handler: Handler): void {
    const handlers = this.subscribers.get(topic);
    if (handlers === undefined || !handlers.delete(handler) || handlers.size > 0) return;
    this.subscribers.delete(topic);
    if (this.linked) this.notify({ ics: BUS_TAG, op: 'unsubscribe', topic });
  }

  private deliver(topic: string, message: string, from: string): void {
    const handlers = this.subscribers.get(topic);
    if (handlers === undefined) return;
    this.counters.received++;
    for (const handler of handlers) {
      try {
        handler(message, from);
      } catch (error) {
        // A handler's bug must not stop the others, nor the channel.
        if (this.counters.handlerErrors++ === 0) process.emitWarning(`ClusterBus: a subscribe() handler for ${describe(topic)} threw: ${String(error)}`);
      }
    }
  }

  private bad(): void {
    this.counters.badMessages++;
  }

  /** Emits 'status' on a change, and once for the first outcome of start() (which may be 'down', as before it). */
  private setStatus(status: ServiceBusStatus, reason: string): void {
    const report = status !== this.statusNow || !this.reported;
    this.statusNow = status;
    if (!report) return;
    this.reported = true;
    for (const listener of [...this.statusListeners]) {
      try {
        listener(status, reason);
      } catch (error) {
        process.emitWarning(`ClusterBus: a 'status' listener threw: ${String(error)}`);
      }
    }
  }

  private resolveStart(): void {
    const resolve = this.firstJoin;
    this.firstJoin = undefined;
    resolve?.();
  }
}

const BAD = Symbol('bad answer');

function noop(): void {}

function isEntryList(value: unknown): value is PresenceEntry[] {
  return Array.isArray(value) && value.every((entry: unknown) => {
    const item = entry as PresenceEntry | null;
    return typeof item === 'object' && item !== null && typeof item.key === 'string' && typeof item.value === 'string' && isName(item.node);
  });
}

function stripUndefined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}
