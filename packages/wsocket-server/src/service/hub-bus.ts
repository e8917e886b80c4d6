import { EventEmitter } from 'node:events';
import * as os from 'node:os';
import { randomBytes } from 'node:crypto';
import type { PresenceEntry, ServiceBus, ServiceBusStats, ServiceBusStatus, SlotVerdict } from './service-bus';
import { ServiceHub } from './service-hub';

/** HubBus options. */
export interface HubBusOptions {
  /** This node's id in the service. Default `host:pid:random`. */
  nodeId?: string;
  /** The kind stats() and logs show. Default 'local' on a private hub, 'hub' on a shared one. */
  kind?: string;
}

/** The events of a ServiceBus. */
export interface ServiceBusEvents {
  status: [status: ServiceBusStatus, reason: string];
}

/**
 * A ServiceBus over a ServiceHub in this process, for one node. Given a hub,
 * it shares it with the other buses on that hub (status 'up': servers in one
 * process serving one service, as tests and in-process shards do); without
 * one, it has a private hub and its status is 'local' (nothing is shared: see
 * LocalBus).
 *
 * An in-process hub never goes down. Messages are delivered synchronously,
 * inside the publish() of the sending node, in the order it sent them; a
 * handler that throws is counted (`handlerErrors`) and the others still run.
 * Removing this bus's node from the hub from outside (`hub.removeNode`) is
 * how a test makes the node vanish for the others; this bus does not notice.
 */
export class HubBus extends EventEmitter<ServiceBusEvents> implements ServiceBus {
  readonly nodeId: string;
  readonly kind: string;
  readonly status: ServiceBusStatus;
  /** The hub this bus acts on (private to it when none was given). */
  readonly hub: ServiceHub;
  /** Messages this node published. */
  published = 0;
  /** Messages other nodes published that reached this node. */
  received = 0;
  /** Subscription handlers that threw (the other handlers still ran). */
  handlerErrors = 0;
  private readonly handlers = new Map<string, Set<(message: string, fromNode: string) => void>>();
  private started = false;

  constructor(hub?: ServiceHub, options: HubBusOptions = {}) {
    super();
    this.hub = hub ?? new ServiceHub();
    this.nodeId = options.nodeId ?? defaultNodeId();
    this.kind = options.kind ?? (hub === undefined ? 'local' : 'hub');
    this.status = hub === undefined ? 'local' : 'up';
  }

  /** Attaches this node to the hub (it receives messages from then on). */
  start(): Promise<void> {
    if (!this.started) {
      this.started = true;
      this.hub.attach(this.nodeId, (topic, message, fromNode) => this.deliver(topic, message, fromNode));
    }
    return Promise.resolve();
  }

  /** Removes this node from the hub: its slots, presence entries and deliverer. Idempotent. */
  stop(): Promise<void> {
    this.started = false;
    this.hub.removeNode(this.nodeId);
    return Promise.resolve();
  }

  reserveSlot(key: string, maxClients: number, maxClientsPerIp: number): Promise<SlotVerdict> {
    return Promise.resolve(this.hub.reserveSlot(this.nodeId, key, maxClients, maxClientsPerIp));
  }

  releaseSlot(key: string): void {
    this.hub.releaseSlot(this.nodeId, key);
  }

  clientCount(): Promise<number> {
    return Promise.resolve(this.hub.clientCount());
  }

  publish(topic: string, message: string): void {
    this.published++;
    this.hub.publish(this.nodeId, topic, message);
  }

  subscribe(topic: string, handler: (message: string, fromNode: string) => void): () => void {
    let set = this.handlers.get(topic);
    if (set === undefined) {
      set = new Set();
      this.handlers.set(topic, set);
    }
    // A handler subscribed twice is called twice, as with EventEmitter: wrap it in its own entry.
    const entry = (message: string, fromNode: string) => handler(message, fromNode);
    set.add(entry);
    return () => {
      const current = this.handlers.get(topic);
      current?.delete(entry);
      if (current?.size === 0) this.handlers.delete(topic);
    };
  }

  claim(set: string, key: string, value: string): Promise<boolean> {
    return Promise.resolve(this.hub.claim(this.nodeId, set, key, value));
  }

  release(set: string, key: string): Promise<void> {
    this.hub.release(this.nodeId, set, key);
    return Promise.resolve();
  }

  entries(set: string): Promise<PresenceEntry[]> {
    return Promise.resolve(this.hub.entries(set));
  }

  stats(): ServiceBusStats {
    return {
      kind: this.kind,
      nodeId: this.nodeId,
      status: this.status,
      outages: 0,
      lastError: '',
      slots: this.hub.nodeSlots(this.nodeId),
      published: this.published,
      received: this.received,
    };
  }

  private deliver(topic: string, message: string, fromNode: string): void {
    this.received++;
    const set = this.handlers.get(topic);
    if (set === undefined) return;
    for (const handler of set) {
      try {
        handler(message, fromNode);
      } catch {
        this.handlerErrors++;
      }
    }
  }
}

/**
 * The default bus: a private hub and one node, so the server is a service of
 * its own (status 'local'). The server keeps its synchronous client slots with
 * it (it never calls reserveSlot for a LocalBus); rooms and presence go
 * through its hub.
 */
export class LocalBus extends HubBus {
  constructor(options: Omit<HubBusOptions, 'kind'> = {}) {
    super(undefined, { nodeId: options.nodeId });
  }
}

/** `host:pid:random`: unique enough for one service, readable in logs. */
export function defaultNodeId(): string {
  return `${os.hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}
