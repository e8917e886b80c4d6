import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { ICS_ERR, describe, icsError } from '@ics-ts/wsocket';
import type { PresenceEntry, ServiceBus, ServiceBusStatus, SlotVerdict } from '@ics-ts/wsocket-server';
import type { ChainableCommander } from 'ioredis';
import { BusConnection } from './connection';
import { DROP_REASONS, type DropReason, decodeEnvelope, encodeEnvelope } from './envelope';
import { BusKeys, checkAddressKey, checkLimit, checkName, checkPresenceKey, checkPresenceValue } from './keys';
import { LocalPresence, LocalSlots } from './local-state';
import { type RedisBusOptions, type ResolvedRedisBusOptions, describeTarget, resolveRedisBusOptions } from './options';
import type { RedisBusStats } from './stats';

/** Entries one CLAIM script call carries (the heartbeat and the rejoin send as many calls as needed, pipelined). */
const CLAIM_BATCH = 256;
/** Address keys one HSET carries when the slots are written back. */
const SLOTS_BATCH = 1000;
/** Channels one SUBSCRIBE carries when the subscriptions are restored. */
const SUBSCRIBE_BATCH = 1000;
/** PUBLISH commands sent and not yet answered; past it a message is dropped (counted), not queued: a slow Redis cannot grow memory. */
export const MAX_PENDING_PUBLISHES = 10_000;

type MessageHandler = (message: string, fromNode: string) => void;

/**
 * The Redis ServiceBus: the servers of one service, on any number of
 * machines, share one Redis. Client slots are counted per node in Redis and
 * summed over the live nodes by a Lua script, atomically; messages go by
 * Redis pub/sub; presence entries are keys that expire with the node that
 * holds them (`presenceTtl`, renewed by its heartbeat).
 *
 * When Redis cannot be reached the bus goes 'down' (a 'status' event with the
 * reason) and serves from what this node knows alone; when Redis is back it
 * writes this node's slots and presence entries back, resubscribes, and goes
 * 'up'. A presence key another node claimed meanwhile is dropped from this
 * node with a 'lost' event. A call made while a write-back is under way waits
 * for it, so its answer already counts this node's slots and entries.
 */
export class RedisBus extends EventEmitter implements ServiceBus {
  readonly kind = 'redis';
  readonly nodeId: string;
  private readonly options: ResolvedRedisBusOptions;
  private readonly keys: BusKeys;
  private readonly slots = new LocalSlots();
  private readonly presence = new LocalPresence();
  private readonly handlers = new Map<string, Set<MessageHandler>>();
  private readonly entriesReads = new Map<string, { writes: number; list: Promise<PresenceEntry[] | undefined> }>();
  /** Claims and releases sent to Redis: an entries() read sent before the latest one cannot answer for after it. */
  private presenceWrites = 0;
  private command: BusConnection | undefined;
  private subscriber: BusConnection | undefined;

  private currentStatus: ServiceBusStatus = 'down';
  /** The command connection is ready and every call goes to Redis (after the rejoin's write-back, in order). */
  private linked = false;
  /** The write-back after the command connection's last 'ready' succeeded. */
  private rejoined = false;
  /** The subscriber connection is ready and every topic subscribed again. */
  private listening = false;
  /** `<nodeId>#<random>`: this node's name in Redis since its last write-back ('' before the first). */
  private incarnation = '';
  private rejoining: Promise<void> | undefined;
  private rejoinTimer: NodeJS.Timeout | undefined;
  private rejoinAttempts = 0;
  private heartbeat: NodeJS.Timeout | undefined;
  private beating = false;
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;

  private outages = 0;
  private lastError = '';
  private published = 0;
  private received = 0;
  private publishDropped = 0;
  private pendingPublishes = 0;
  private readonly dropped: Record<DropReason, number> = { malformed: 0, oversize: 0, notSubscribed: 0 };
  private handlerErrors = 0;
  private lostClaims = 0;
  private rejoins = 0;
  private remoteFailures = 0;

  constructor(options: RedisBusOptions) {
    super();
    this.options = resolveRedisBusOptions(options);
    this.nodeId = this.options.nodeId;
    this.keys = new BusKeys(this.options.service);
  }

  get status(): ServiceBusStatus {
    return this.currentStatus;
  }

  /** The resolved options (defaults applied). */
  get settings(): ResolvedRedisBusOptions {
    return this.options;
  }

  /** Joins the service; after a stop(), joins it again (new connections, the subscriptions kept). */
  start(): Promise<void> {
    return (this.starting ??= this.restart());
  }

  private async restart(): Promise<void> {
    await this.stopping;
    this.stopping = undefined;
    await this.connect();
  }

  private async connect(): Promise<void> {
    const { connectTimeout } = this.options;
    this.linked = false;
    this.rejoined = false;
    this.listening = false;
    // a closed connection's late events (after a stop() and a new start()) are not the current link's
    const command: BusConnection = new BusConnection('command', this.options, {
      ready: () => command === this.command && this.onCommandReady(),
      lost: (reason) => command === this.command && this.onCommandLost(reason),
    });
    const subscriber: BusConnection = new BusConnection('subscriber', this.options, {
      ready: () => subscriber === this.subscriber && this.onSubscriberReady(),
      lost: (reason) => subscriber === this.subscriber && this.onSubscriberLost(reason),
    });
    subscriber.client.on('messageBuffer', (channel: Buffer, raw: Buffer) => this.onMessage(channel, raw));
    this.command = command;
    this.subscriber = subscriber;
    this.heartbeat = setInterval(() => this.beat(), Math.max(100, Math.floor(this.options.presenceTtl / 3)));
    this.heartbeat.unref();
    const up = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, connectTimeout);
      timer.unref();
      const onStatus = (status: ServiceBusStatus): void => {
        if (status !== 'up') return;
        clearTimeout(timer);
        this.off('status', onStatus);
        resolve();
      };
      this.on('status', onStatus);
    });
    this.command.open();
    this.subscriber.open();
    await up;
    if (this.currentStatus !== 'up' && !this.stopping) {
      const why = this.lastError || this.command.lastError || this.subscriber.lastError || 'no answer';
      this.setStatus('down', `${describeTarget(this.options.url)} not reachable within ${connectTimeout} ms: ${why}`, true);
    }
  }

  stop(): Promise<void> {
    return (this.stopping ??= this.leave());
  }

  /** The node's slots and entries out of Redis, the connections closed; the handlers stay for a later start(). */
  private async leave(): Promise<void> {
    const started = this.starting;
    this.starting = undefined;
    await started?.catch(() => undefined);
    clearInterval(this.heartbeat);
    clearTimeout(this.rejoinTimer);
    const command = this.command;
    if (command && this.linked) {
      const pipeline = command.client.multi();
      pipeline.del(this.keys.slots(this.incarnation));
      pipeline.zrem(this.keys.nodes, this.incarnation);
      for (const set of this.presence.setNames()) {
        for (const [key] of this.presence.entries(set))
          scriptIn(pipeline, 'icsBusReleaseEntry', this.keys.presenceEntries(set), this.nodeId, key);
      }
      await pipeline.exec().catch(() => undefined);
    }
    this.linked = false;
    this.listening = false;
    if (command) this.setStatus('down', 'stopped');
    // released in Redis above: the server's clients are gone by now (its slots are kept, and written back by a new start())
    this.presence.clear();
    command?.close();
    this.subscriber?.close();
    this.command = undefined;
    this.subscriber = undefined;
  }

  // ---- slots ----

  async reserveSlot(key: string, maxClients: number, maxClientsPerIp: number): Promise<SlotVerdict> {
    checkAddressKey(key);
    checkLimit('maxClients', maxClients);
    checkLimit('maxClientsPerIp', maxClientsPerIp);
    if (this.rejoining) await this.rejoining;
    for (let attempt = 0; this.linked && attempt < 2; attempt++) {
      let answer: unknown;
      const sentAs = this.incarnation;
      try {
        answer = await this.script('icsBusReserve', this.keys.nodes, this.keys.slots(sentAs), sentAs, key, maxClients, maxClientsPerIp,
          this.options.presenceTtl, this.keys.slotsPrefix);
      } catch (err) {
        this.remoteFailed(err);
        break;
      }
      if (answer === 'ok') {
        this.slots.take(key);
        // granted to the previous incarnation, after the write-back's count: add it to the current one
        if (sentAs !== this.incarnation && this.linked) this.addSlot(key);
      }
      if (answer === 'ok' || answer === 'maxClients' || answer === 'perIp') return answer;
      // 'stale': this node's heartbeat had expired (a stall longer than presenceTtl): write back, then ask again
      await this.rejoin();
    }
    const verdict = this.slots.verdict(key, maxClients, maxClientsPerIp);
    if (verdict === 'ok') this.slots.take(key);
    return verdict;
  }

  releaseSlot(key: string): void {
    if (!this.slots.give(key) || !this.linked) return;
    this.script('icsBusReleaseSlot', this.keys.slots(this.incarnation), key).catch((err) => this.remoteFailed(err));
  }

  private addSlot(key: string): void {
    const slotsKey = this.keys.slots(this.incarnation);
    this.command!.client.multi().hincrby(slotsKey, '*', 1).hincrby(slotsKey, key, 1).pexpire(slotsKey, this.options.presenceTtl).exec()
      .then((results) => {
        const failed = results?.find(([err]) => err);
        if (!results || failed) throw failed?.[0] ?? new Error('a slot count transaction was discarded');
      })
      .catch((err) => this.remoteFailed(err));
  }

  async clientCount(): Promise<number> {
    if (this.linked) {
      try {
        return Number(await this.script('icsBusCount', this.keys.nodes, this.keys.slotsPrefix));
      } catch (err) {
        this.remoteFailed(err);
      }
    }
    return this.slots.total;
  }

  // ---- messages ----

  publish(topic: string, message: string): void {
    checkName('topic', topic);
    if (typeof message !== 'string') throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `RedisBus: a message must be a string, got ${describe(message)}`);
    const bytes = Buffer.byteLength(message);
    if (bytes > this.options.maxMessageBytes)
      throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `RedisBus: a message of ${bytes} bytes is over maxMessageBytes (${this.options.maxMessageBytes})`);
    if (!this.linked || !this.command || this.pendingPublishes >= MAX_PENDING_PUBLISHES) {
      this.publishDropped++;
      return;
    }
    this.pendingPublishes++;
    this.command.client.publish(this.keys.channel(topic), encodeEnvelope(this.nodeId, message)).then(
      () => {
        this.pendingPublishes--;
        this.published++;
      },
      (err) => {
        this.pendingPublishes--;
        this.publishDropped++;
        this.remoteFailed(err);
      },
    );
  }

  subscribe(topic: string, handler: (message: string, fromNode: string) => void): () => void {
    checkName('topic', topic);
    if (typeof handler !== 'function') throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `RedisBus: a handler must be a function, got ${describe(handler)}`);
    let set = this.handlers.get(topic);
    if (!set) {
      this.handlers.set(topic, (set = new Set()));
      // sent whenever the connection is ready (a resubscription under way may not have this topic yet: twice is harmless)
      if (this.subscriber?.ready) this.subscriber.client.subscribe(this.keys.channel(topic)).catch((err) => this.subscriberFailed(err));
    }
    set.add(handler);
    return () => {
      const current = this.handlers.get(topic);
      if (!current?.delete(handler) || current.size > 0) return;
      this.handlers.delete(topic);
      if (this.subscriber?.ready) this.subscriber.client.unsubscribe(this.keys.channel(topic)).catch((err) => this.subscriberFailed(err));
    };
  }

  private onMessage(channelBytes: Buffer, raw: Buffer | null | undefined): void {
    const topic = this.keys.topicOf(channelBytes.toString('utf8'));
    const handlers = topic === undefined ? undefined : this.handlers.get(topic);
    if (!handlers) {
      this.dropped.notSubscribed++;
      return;
    }
    const decoded = raw ? decodeEnvelope(raw, this.options.maxMessageBytes) : ({ dropped: 'malformed' } as const);
    if ('dropped' in decoded) {
      this.dropped[decoded.dropped]++;
      return;
    }
    if (decoded.from === this.nodeId) return; // Redis hands every subscriber its own messages too
    this.received++;
    for (const handler of handlers) {
      try {
        handler(decoded.message, decoded.from);
      } catch {
        // a handler's fault is the handler's: the other handlers and the bus go on
        this.handlerErrors++;
      }
    }
  }

  // ---- presence ----

  async claim(set: string, key: string, value: string): Promise<boolean> {
    checkName('set', set);
    checkPresenceKey(key);
    checkPresenceValue(value);
    if (this.rejoining) await this.rejoining;
    for (let attempt = 0; this.linked && attempt < 2; attempt++) {
      let answer: unknown;
      this.presenceWrites++;
      try {
        answer = await this.claimBatch(set, [[key, value]]);
      } catch (err) {
        this.remoteFailed(err);
        break;
      }
      if (Array.isArray(answer)) {
        const holder = String(answer[0]);
        if (holder === '') {
          this.presence.set(set, key, value);
          return true;
        }
        this.lose(set, key, nodeOf(holder));
        return false;
      }
      // 'stale': this node's heartbeat had expired: write back, then ask again
      await this.rejoin();
    }
    // alone: this node knows only its own entries, so the key is free as far as it can tell
    this.presence.set(set, key, value);
    return true;
  }

  async release(set: string, key: string): Promise<void> {
    checkName('set', set);
    checkPresenceKey(key);
    if (!this.presence.delete(set, key) || !this.linked) return;
    // a write-back under way may be claiming this key again: the release goes after it
    if (this.rejoining) await this.rejoining;
    if (!this.linked) return;
    this.presenceWrites++;
    try {
      await this.script('icsBusReleaseEntry', this.keys.presenceEntries(set), this.nodeId, key);
    } catch (err) {
      // the entry stays in Redis until this node's next write-back or its end (the rejoin writes only what it holds)
      this.remoteFailed(err);
    }
  }

  async entries(set: string): Promise<PresenceEntry[]> {
    checkName('set', set);
    if (this.rejoining) await this.rejoining;
    if (this.linked) {
      // one script call per set at a time, shared by the callers meanwhile (a burst of /who costs Redis one scan),
      // unless this node claimed or released since it was sent: a caller always sees its own writes
      let reading = this.entriesReads.get(set);
      if (!reading || reading.writes !== this.presenceWrites) {
        const read = { writes: this.presenceWrites, list: this.readEntries(set) };
        read.list.finally(() => this.entriesReads.get(set) === read && this.entriesReads.delete(set)).catch(() => undefined);
        this.entriesReads.set(set, (reading = read));
      }
      const list = await reading.list;
      if (list) return list.slice();
    }
    const own: PresenceEntry[] = [];
    for (const [key, value] of this.presence.entries(set)) {
      if (own.length >= this.options.entriesLimit) break;
      own.push({ key, value, node: this.nodeId });
    }
    return own;
  }

  /** The live entries of `set` in Redis; undefined when Redis failed (the caller answers from this node). */
  private async readEntries(set: string): Promise<PresenceEntry[] | undefined> {
    try {
      const flat = (await this.script('icsBusEntries', this.keys.presenceEntries(set), this.keys.nodes, this.options.entriesLimit)) as string[];
      const list: PresenceEntry[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const entry = flat[i + 1];
        const newline = entry.indexOf('\n');
        if (newline > 0) list.push({ key: flat[i], node: nodeOf(entry.slice(0, newline)), value: entry.slice(newline + 1) });
      }
      return list;
    } catch (err) {
      this.remoteFailed(err);
      return undefined;
    }
  }

  /** Sends one CLAIM call per CLAIM_BATCH entries of one set; resolves with each entry's holder ('' = this node). */
  private claimBatch(set: string, batch: ReadonlyArray<readonly [string, string]>): Promise<unknown> {
    return this.script('icsBusClaim', ...this.claimArguments(set, batch));
  }

  private claimArguments(set: string, batch: ReadonlyArray<readonly [string, string]>): Array<string | number> {
    return [this.keys.presenceEntries(set), this.keys.nodes, this.incarnation, this.options.presenceTtl, ...batch.flat()];
  }

  /** Claims every entry this node holds again (the rejoin): pipelined, CLAIM_BATCH entries a call; a key another node took is lost. */
  private async reclaimAll(): Promise<void> {
    const command = this.command!;
    const pipeline = command.client.pipeline();
    const sent: Array<[string, Array<readonly [string, string]>]> = [];
    for (const set of this.presence.setNames()) {
      let batch: Array<readonly [string, string]> = [];
      for (const entry of this.presence.entries(set)) {
        batch.push(entry);
        if (batch.length === CLAIM_BATCH) {
          sent.push([set, batch]);
          batch = [];
        }
      }
      if (batch.length) sent.push([set, batch]);
    }
    if (sent.length === 0) return;
    for (const [set, batch] of sent) scriptIn(pipeline, 'icsBusClaim', ...this.claimArguments(set, batch));
    const results = (await pipeline.exec()) ?? [];
    results.forEach(([err, holders], index) => {
      if (err) throw err;
      if (!Array.isArray(holders)) throw new Error('this node expired during its write-back');
      const [set, batch] = sent[index];
      holders.forEach((holder: unknown, i) => {
        if (holder !== '') this.lose(set, batch[i][0], nodeOf(String(holder)));
      });
    });
  }

  /** A key this node held is another node's now (claimed while this node was cut off, or after a stall). */
  private lose(set: string, key: string, holder: string): void {
    if (!this.presence.delete(set, key)) return;
    this.lostClaims++;
    this.emit('lost', set, key, holder);
  }

  // ---- the link: status, rejoin, heartbeat ----

  private onCommandReady(): void {
    // calls from now on go to Redis, queued on this connection after the write-back: nothing overtakes it
    this.linked = true;
    this.rejoined = false;
    this.rejoin().catch(() => undefined);
  }

  private onCommandLost(reason: string): void {
    if (this.stopping) return;
    this.linked = false;
    this.rejoined = false;
    this.setStatus('down', reason);
  }

  private onSubscriberReady(): void {
    const subscriber = this.subscriber!;
    const channels = [...this.handlers.keys()].map((topic) => this.keys.channel(topic));
    const batches: Array<Promise<unknown>> = [];
    for (let i = 0; i < channels.length; i += SUBSCRIBE_BATCH) batches.push(subscriber.client.subscribe(...channels.slice(i, i + SUBSCRIBE_BATCH)));
    Promise.all(batches).then(
      () => {
        if (!subscriber.ready) return;
        this.listening = true;
        this.refreshStatus();
      },
      (err) => this.subscriberFailed(err),
    );
  }

  private onSubscriberLost(reason: string): void {
    if (this.stopping) return;
    this.listening = false;
    this.setStatus('down', reason);
  }

  private subscriberFailed(err: unknown): void {
    if (this.stopping) return;
    this.remoteFailures++;
    this.listening = false;
    this.setStatus('down', `redis subscriber: ${errorText(err)}`);
    this.subscriber?.reconnect();
  }

  /** Writes this node's slots and presence entries back (one at a time), then goes 'up' if the subscriber is listening too. */
  private rejoin(): Promise<void> {
    return (this.rejoining ??= this.writeBack().finally(() => (this.rejoining = undefined)));
  }

  private async writeBack(): Promise<void> {
    const command = this.command;
    if (!command || !this.linked || this.stopping) return;
    try {
      // a new incarnation: whatever the previous one left that this node does not write again dies with it
      const previous = this.incarnation;
      this.incarnation = `${this.nodeId}#${randomBytes(4).toString('hex')}`;
      const multi = command.client.multi();
      if (previous) multi.zrem(this.keys.nodes, previous).del(this.keys.slots(previous));
      const slotsKey = this.keys.slots(this.incarnation);
      if (this.slots.total > 0) {
        let fields: Array<string | number> = ['*', this.slots.total];
        for (const [key, count] of this.slots.entries()) {
          fields.push(key, count);
          if (fields.length >= SLOTS_BATCH * 2) {
            multi.hset(slotsKey, ...fields);
            fields = [];
          }
        }
        if (fields.length) multi.hset(slotsKey, ...fields);
      }
      scriptIn(multi, 'icsBusBeat', ...this.beatArguments());
      const results = await multi.exec();
      const failed = results?.find(([err]) => err);
      if (!results || failed) throw failed?.[0] ?? new Error('the write-back transaction was discarded');
      await this.reclaimAll();
      if (!this.linked || this.stopping) return;
      this.rejoined = true;
      this.rejoinAttempts = 0;
      this.rejoins++;
      this.refreshStatus();
    } catch (err) {
      this.remoteFailed(err);
    }
  }

  /**
   * The heartbeat: this node stays live (and with it its presence entries),
   * its slots hash and presence sets are kept. One script call whatever the
   * number of clients and entries. Skipped while the previous one is still
   * out, or while Redis is unreachable.
   */
  private beat(): void {
    if (!this.linked || !this.rejoined || this.beating || this.stopping) return;
    this.beating = true;
    this.script('icsBusBeat', ...this.beatArguments())
      .then(async (wasLive) => {
        if (Number(wasLive) === 1) return;
        // expired between two beats (a stall longer than presenceTtl, or Redis lost its data): write back
        this.rejoined = false;
        await this.rejoin();
      })
      .catch((err) => this.remoteFailed(err))
      .finally(() => (this.beating = false));
  }

  private beatArguments(): Array<string | number> {
    const sets = [...this.presence.setNames()].map((set) => this.keys.presenceEntries(set));
    return [2 + sets.length, this.keys.nodes, this.keys.slots(this.incarnation), ...sets, this.incarnation, this.options.presenceTtl];
  }

  /**
   * A call to Redis failed: the call was answered from this node's knowledge;
   * the bus goes 'down' until a write-back succeeds. A timeout drops the
   * connection (ioredis reconnects with the back-off, and 'ready' rejoins);
   * a refusal by a reachable Redis is retried with the back-off.
   */
  private remoteFailed(err: unknown): void {
    if (this.stopping || !this.command) return;
    this.remoteFailures++;
    this.rejoined = false;
    const text = errorText(err);
    this.setStatus('down', `redis: ${text}`);
    if (!this.linked) return; // the connection's own 'close' already said so; 'ready' rejoins
    if (/timed out/i.test(text)) {
      this.linked = false;
      this.command.reconnect();
      return;
    }
    if (this.rejoinTimer) return;
    const delay = this.command.retryDelay(++this.rejoinAttempts);
    this.rejoinTimer = setTimeout(() => {
      this.rejoinTimer = undefined;
      if (this.linked && !this.rejoined) this.rejoin().catch(() => undefined);
    }, delay);
    this.rejoinTimer.unref();
  }

  private refreshStatus(): void {
    if (this.linked && this.rejoined && this.listening) {
      this.setStatus('up', this.outages === 0 ? `connected to ${describeTarget(this.options.url)}` : `rejoined ${describeTarget(this.options.url)}: ${this.slots.total} slots and ${this.presence.size} presence entries written back`);
    }
  }

  /** `force`: report 'down' even if it already was (the start that found no Redis: the first status, announced). */
  private setStatus(status: ServiceBusStatus, reason: string, force = false): void {
    if (status === this.currentStatus && !force) return;
    if (status === 'down' && (this.currentStatus !== 'down' || force)) this.outages++;
    if (status === 'down') this.lastError = reason;
    this.currentStatus = status;
    this.emit('status', status, reason);
  }

  private script(name: ScriptName, ...args: Array<string | number>): Promise<unknown> {
    return (this.command!.client as unknown as Record<ScriptName, (...a: Array<string | number>) => Promise<unknown>>)[name](...args);
  }

  // ---- events and stats ----

  /** Every time `status` changes (reason: why it went down, or how it came back). */
  override on(event: 'status', listener: (status: ServiceBusStatus, reason: string) => void): this;
  /** A presence key this node held is held by another node (`holder`) now: claimed while this node was cut off from Redis. */
  override on(event: 'lost', listener: (set: string, key: string, holder: string) => void): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.on(event, listener);
  }

  override off(event: 'status', listener: (status: ServiceBusStatus, reason: string) => void): this;
  override off(event: 'lost', listener: (set: string, key: string, holder: string) => void): this;
  override off(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.off(event, listener);
  }

  stats(): RedisBusStats {
    return {
      kind: this.kind,
      nodeId: this.nodeId,
      status: this.currentStatus,
      outages: this.outages,
      lastError: this.lastError,
      slots: this.slots.total,
      published: this.published,
      received: this.received,
      publishDropped: this.publishDropped,
      receivedDropped: Object.fromEntries(DROP_REASONS.map((reason) => [reason, this.dropped[reason]])) as Record<DropReason, number>,
      handlerErrors: this.handlerErrors,
      presenceEntries: this.presence.size,
      lostClaims: this.lostClaims,
      rejoins: this.rejoins,
      remoteFailures: this.remoteFailures,
      subscribedTopics: this.handlers.size,
    };
  }
}

type ScriptName = 'icsBusBeat' | 'icsBusReserve' | 'icsBusReleaseSlot' | 'icsBusCount' | 'icsBusClaim' | 'icsBusReleaseEntry' | 'icsBusEntries';

/** Queues a defined script on a pipeline or transaction (defineCommand adds it there untyped). */
function scriptIn(pipeline: ChainableCommander, name: ScriptName, ...args: Array<string | number>): void {
  (pipeline as unknown as Record<ScriptName, (...a: Array<string | number>) => unknown>)[name](...args);
}

/** The node id of an incarnation (`<node id>#<random>`). */
function nodeOf(incarnation: string): string {
  const hash = incarnation.lastIndexOf('#');
  return hash > 0 ? incarnation.slice(0, hash) : incarnation;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
