import { describe, ICS_ERR, icsError } from '@ics-ts/wsocket';
import type { PresenceEntry, ServiceBus } from './service-bus';

/** A room member: what the room hands each message to (a chat client: a line sent, its backlog checked). */
export interface RoomMember {
  deliver(message: string): void;
}

/** What a ServiceRoom asks of the server it belongs to. */
export interface ServiceRoomHooks {
  /** Whether `member` is a client that has already left (a join that resolves then is undone). Default: never. */
  isGone?(member: RoomMember): boolean;
  /** A member's deliver() threw: the server reports it (bgException); the others still get the message. Default: ignored. */
  report?(error: unknown, member: RoomMember): void;
}

/** The longest message a room sends to other nodes (and accepts from them), in UTF-16 units. */
export const ROOM_MESSAGE_MAX = 256 * 1024;
/** The longest member key. */
export const ROOM_KEY_MAX = 256;
/** The longest member info. */
export const ROOM_INFO_MAX = 4096;
/** The longest message from another node the room parses: a message of ROOM_MESSAGE_MAX with every character escaped, and a key. */
const WIRE_MAX = ROOM_MESSAGE_MAX * 6 + ROOM_KEY_MAX * 6 + 64;

/** What a room knows of a local member. */
interface LocalEntry {
  key: string;
  info: string;
}

/**
 * A room of the service: members on every node, each under a key unique in
 * the service (a presence entry `room:<name>` on the bus, with the member's
 * info as its value), and messages to all of them. Made by
 * `server.room(name)`, one per name per server.
 *
 * Local members get a broadcast at once; the other nodes get it through the
 * bus (at most once, in order per node, lost while the bus is down) and hand
 * it to theirs. A member that is a client of the server leaves by itself when
 * it leaves the client list. A member's deliver() that throws is reported and
 * the others still get the message.
 *
 * Hostile input from other nodes: a message that is not the room's JSON, or
 * is longer than ROOM_MESSAGE_MAX, is dropped and counted (`dropped`), never
 * thrown.
 */
export class ServiceRoom {
  /** Messages this room broadcast (each delivered locally, and published unless too long). */
  broadcasts = 0;
  /** Messages from other nodes delivered to the local members. */
  received = 0;
  /** Messages from other nodes dropped: malformed, or too long. */
  dropped = 0;
  /** Bus calls that failed (claim, release, entries, publish); the room carried on with what this node knows. */
  busErrors = 0;
  private readonly set: string;
  private readonly byMember = new Map<RoomMember, LocalEntry>();
  private readonly byKey = new Map<string, RoomMember>();
  /** Keys a local member is claiming now: another local member cannot claim them meanwhile. */
  private readonly claiming = new Map<string, RoomMember>();
  /** The latest join of each member under way: a join that is no longer the latest (or whose member left) is undone. */
  private readonly joining = new Map<RoomMember, object>();
  private snapshot: readonly RoomMember[] | undefined;

  constructor(
    /** The room's name; its presence set and topic on the bus are `room:<name>`. */
    readonly name: string,
    private readonly bus: ServiceBus,
    private readonly hooks: ServiceRoomHooks = {},
  ) {
    if (typeof name !== 'string' || name.length === 0 || name.length > ROOM_KEY_MAX) {
      throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `ServiceRoom: the name must be a string of 1 to ${ROOM_KEY_MAX} characters, got ${describe(name)}`);
    }
    this.set = `room:${name}`;
    bus.subscribe(this.set, (message, fromNode) => this.receive(message, fromNode));
  }

  /** The members on this node, in join order (a snapshot). */
  get local(): readonly RoomMember[] {
    return (this.snapshot ??= Object.freeze([...this.byMember.keys()]));
  }

  /** The key `member` is in the room under, undefined when it is not in it. */
  keyOf(member: RoomMember): string | undefined {
    return this.byMember.get(member)?.key;
  }

  /**
   * Puts `member` in the room under `key` (unique in the service, compared as
   * given: normalise case before) with `info` (what members() shows of it).
   * Resolves true when it is in, false when the key is held by another member
   * (on any node), or the member left meanwhile. A member already in is
   * renamed: its old key is released once the new one is claimed. A bus that
   * fails resolves false (counted in busErrors).
   */
  async join(member: RoomMember, key: string, info: string): Promise<boolean> {
    checkMember(member);
    checkText(key, 'key', 1, ROOM_KEY_MAX);
    checkText(info, 'info', 0, ROOM_INFO_MAX);
    const holder = this.byKey.get(key) ?? this.claiming.get(key);
    if (holder !== undefined && holder !== member) return false;
    const ticket = {};
    this.joining.set(member, ticket);
    this.claiming.set(key, member);
    let claimed = false;
    try {
      claimed = await this.bus.claim(this.set, key, info);
    } catch {
      this.busErrors++;
    } finally {
      if (this.claiming.get(key) === member) this.claiming.delete(key);
    }
    const latest = this.joining.get(member) === ticket;
    if (latest) this.joining.delete(member);
    if (!latest || this.hooks.isGone?.(member) === true) {
      // Left, or joined again, meanwhile: undo this claim unless the key is in use here.
      if (claimed && !this.byKey.has(key)) this.releaseKey(key);
      if (latest) this.leave(member);
      return false;
    }
    if (!claimed) return false;
    const previous = this.byMember.get(member);
    if (previous === undefined) this.snapshot = undefined;
    this.byMember.set(member, { key, info });
    this.byKey.set(key, member);
    if (previous !== undefined && previous.key !== key) {
      this.byKey.delete(previous.key);
      this.releaseKey(previous.key);
    }
    return true;
  }

  /** Takes `member` out of the room (and any join of it under way); its key is released. */
  leave(member: RoomMember): void {
    this.joining.delete(member);
    const entry = this.byMember.get(member);
    if (entry === undefined) return;
    this.byMember.delete(member);
    this.byKey.delete(entry.key);
    this.snapshot = undefined;
    this.releaseKey(entry.key);
  }

  /**
   * Hands `message` to every local member but `except` now, and publishes it
   * to the other nodes, which hand it to theirs (a message longer than
   * ROOM_MESSAGE_MAX stays on this node). Returns how many local members got it.
   */
  broadcast(message: string, except?: RoomMember): number {
    if (typeof message !== 'string') throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `ServiceRoom ${this.name}: broadcast() takes a string, got ${describe(message)}`);
    this.broadcasts++;
    const count = this.deliverLocally(message, except);
    if (message.length <= ROOM_MESSAGE_MAX) {
      const exceptKey = except === undefined ? undefined : this.byMember.get(except)?.key;
      try {
        this.bus.publish(this.set, JSON.stringify(exceptKey === undefined ? { m: message } : { m: message, x: exceptKey }));
      } catch {
        this.busErrors++;
      }
    }
    return count;
  }

  /** Every member across the service (this node's own when the bus fails or is down). */
  async members(): Promise<PresenceEntry[]> {
    try {
      return await this.bus.entries(this.set);
    } catch {
      this.busErrors++;
      const node = this.bus.nodeId;
      return [...this.byMember.values()].map((entry) => ({ key: entry.key, value: entry.info, node }));
    }
  }

  /** The member holding `key`, on any node. */
  async find(key: string): Promise<PresenceEntry | undefined> {
    return (await this.members()).find((entry) => entry.key === key);
  }

  /** @internal A message another node published on this room. */
  receive(raw: unknown, _fromNode: string): void {
    if (typeof raw !== 'string' || raw.length > WIRE_MAX) {
      this.dropped++;
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      this.dropped++;
      return;
    }
    const wire = parsed as { m?: unknown; x?: unknown } | null;
    if (
      wire === null ||
      typeof wire !== 'object' ||
      typeof wire.m !== 'string' ||
      wire.m.length > ROOM_MESSAGE_MAX ||
      (wire.x !== undefined && typeof wire.x !== 'string')
    ) {
      this.dropped++;
      return;
    }
    this.received++;
    const except = wire.x === undefined ? undefined : this.byKey.get(wire.x);
    this.deliverLocally(wire.m, except);
  }

  private deliverLocally(message: string, except: RoomMember | undefined): number {
    let count = 0;
    // The snapshot: a member that leaves during the loop (dropped for its backlog) does not disturb it.
    for (const member of this.local) {
      if (member === except) continue;
      try {
        member.deliver(message);
        count++;
      } catch (error) {
        this.hooks.report?.(error, member);
      }
    }
    return count;
  }

  private releaseKey(key: string): void {
    try {
      this.bus.release(this.set, key).catch(() => this.busErrors++);
    } catch {
      this.busErrors++;
    }
  }
}

function checkMember(member: unknown): void {
  if (member === null || typeof member !== 'object' || typeof (member as Partial<RoomMember>).deliver !== 'function') {
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `ServiceRoom: a member must be an object with a deliver(message) method, got ${describe(member)}`);
  }
}

function checkText(value: unknown, what: string, min: number, max: number): void {
  if (typeof value !== 'string' || value.length < min || value.length > max) {
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `ServiceRoom: a member ${what} must be a string of ${min} to ${max} characters, got ${describe(value)}`);
  }
}
