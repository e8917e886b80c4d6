import { MAX_NODE_ID_LENGTH } from './options';

/**
 * A message on a channel: `<sender node id>\n<message>`. The sender's id lets
 * a node skip its own messages (Redis delivers them back to every subscriber)
 * and tells the handler where a message came from.
 */
export function encodeEnvelope(nodeId: string, message: string): string {
  return `${nodeId}\n${message}`;
}

/** Why a received message was dropped. */
export type DropReason = 'malformed' | 'oversize' | 'notSubscribed';

/** Every drop reason, in the order stats() lists them. */
export const DROP_REASONS: readonly DropReason[] = ['malformed', 'oversize', 'notSubscribed'];

export type Decoded = { readonly from: string; readonly message: string } | { readonly dropped: DropReason };

/**
 * Reads a received envelope: the size is checked on the raw bytes before any
 * decoding, the sender id must be 1 to MAX_NODE_ID_LENGTH characters.
 */
export function decodeEnvelope(raw: Buffer, maxMessageBytes: number): Decoded {
  const newline = raw.indexOf(0x0a);
  if (newline <= 0 || newline > MAX_NODE_ID_LENGTH * 4) return { dropped: 'malformed' };
  if (raw.length - newline - 1 > maxMessageBytes) return { dropped: 'oversize' };
  const from = raw.toString('utf8', 0, newline);
  if (from.length > MAX_NODE_ID_LENGTH || from.includes('\ufffd')) return { dropped: 'malformed' };
  return { from, message: raw.toString('utf8', newline + 1) };
}
