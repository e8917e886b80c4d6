import { ICS_ERR, describe, icsError } from '@ics-ts/wsocket';

/** The longest set or topic name (a room's set is `room:<name>`, its name up to 256 characters). */
export const MAX_NAME_LENGTH = 1024;
/** An address key (ipKey(): an IPv4 address, an IPv6 /64) is a hash field; `*` is the total's. */
const MAX_ADDRESS_KEY = 100;
/** A presence key (a nick, a user id): compared as given. */
export const MAX_PRESENCE_KEY_LENGTH = 1024;
/** A presence value: what entries() hands back with the key. */
export const MAX_PRESENCE_VALUE_LENGTH = 16 * 1024;

/**
 * The names of every key and channel of one service. Each key begins with the
 * hash tag `{service}`, so on Redis Cluster they all live in one hash slot and
 * the scripts may touch several of them.
 *
 * ```
 * {S}:nodes            zset  node id -> the time (Redis clock, ms) its heartbeat expires
 * {S}:slots:<node>     hash  '*' -> the node's clients, <address key> -> its clients from that key; PX presenceTtl
 * {S}:ph:<set>        hash  key -> "<node>\n<value>": the set's entries, each live while its node is
 * {S}:m:<topic>        pub/sub channel
 * ```
 */
export class BusKeys {
  readonly nodes: string;
  readonly slotsPrefix: string;
  private readonly channelPrefix: string;

  constructor(readonly service: string) {
    this.nodes = `{${service}}:nodes`;
    this.slotsPrefix = `{${service}}:slots:`;
    this.channelPrefix = `{${service}}:m:`;
  }

  slots(node: string): string {
    return this.slotsPrefix + node;
  }

  presenceEntries(set: string): string {
    return `{${this.service}}:ph:${set}`;
  }

  channel(topic: string): string {
    return this.channelPrefix + topic;
  }

  /** The topic of a channel of this service, or undefined for any other channel. */
  topicOf(channel: string): string | undefined {
    return channel.startsWith(this.channelPrefix) ? channel.slice(this.channelPrefix.length) : undefined;
  }
}

/** Throws a TypeError naming `what` unless `name` can be a set or topic name (any characters: the key layout keeps them apart). */
export function checkName(what: 'set' | 'topic', name: unknown): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME_LENGTH)
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `RedisBus: a ${what} name must be a string of 1 to ${MAX_NAME_LENGTH} characters, got ${describe(name)}`);
  return name;
}

export function checkAddressKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_ADDRESS_KEY || key === '*')
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `RedisBus: the address key must be a string of 1 to ${MAX_ADDRESS_KEY} characters (not '*'), got ${describe(key)}`);
  return key;
}

export function checkPresenceKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_PRESENCE_KEY_LENGTH)
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `RedisBus: a presence key must be a string of 1 to ${MAX_PRESENCE_KEY_LENGTH} characters, got ${describe(key)}`);
  return key;
}

export function checkPresenceValue(value: unknown): string {
  if (typeof value !== 'string' || value.length > MAX_PRESENCE_VALUE_LENGTH)
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `RedisBus: a presence value must be a string of at most ${MAX_PRESENCE_VALUE_LENGTH} characters, got ${describe(value)}`);
  return value;
}

export function checkLimit(name: 'maxClients' | 'maxClientsPerIp', value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0)
    throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `RedisBus: ${name} must be an integer >= 0 (0 = no limit), got ${describe(value)}`);
  return value;
}
