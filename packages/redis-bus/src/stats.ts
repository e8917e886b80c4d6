import type { ServiceBusStats } from '@ics-ts/wsocket-server';
import type { DropReason } from './envelope';

/** What RedisBus.stats() shows: the ServiceBus figures and the Redis bus's own. */
export interface RedisBusStats extends ServiceBusStats {
  /** Messages publish() could not send (Redis unreachable, or the PUBLISH failed). */
  publishDropped: number;
  /** Received messages dropped, by reason (malformed envelope, over maxMessageBytes, topic not subscribed any more). */
  receivedDropped: Record<DropReason, number>;
  /** Handlers that threw (the other handlers still ran). */
  handlerErrors: number;
  /** Presence entries this node holds. */
  presenceEntries: number;
  /** Entries another node claimed while this node was cut off ('lost' events). */
  lostClaims: number;
  /** Successful write-backs of this node's state (the first join included). */
  rejoins: number;
  /** Redis calls that failed and were answered from this node's knowledge. */
  remoteFailures: number;
  /** Topics with at least one handler. */
  subscribedTopics: number;
}
