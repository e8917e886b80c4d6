/**
 * Why a connection was refused, one name per admission stage that can refuse:
 * - `maxConnections`: the server already holds that many sockets (destroyed at once);
 * - `deny`: the peer is in a deny list; `notAllowed`: an allow list does not name it (closed, no byte sent);
 * - `filter`: the accept filter refused it (closed, no byte sent);
 * - `maxHandshakes` / `maxHandshakesPerIp`: too many TLS handshakes in progress (closed before any TLS work);
 * - `maxClients` / `perIp`: no client slot (bannerTooBusy, or bannerTooBusyPerIp, then a clean close);
 * - `proxyUntrusted`: a peer not in trustedProxies on a proxyProtocol listener (destroyed, no byte sent);
 * - `proxyHeader`: its PROXY header was malformed, truncated, oversized, late... (the detail says which).
 */
export const REFUSAL_REASONS = [
  'maxConnections',
  'deny',
  'notAllowed',
  'filter',
  'maxHandshakes',
  'maxHandshakesPerIp',
  'perIp',
  'maxClients',
  'proxyUntrusted',
  'proxyHeader',
] as const;

export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** A connection the server refused, as the `refused` event reports it. */
export interface Refusal {
  reason: RefusalReason;
  /** The peer (IPv4 peers of a dual-stack listener as plain IPv4). */
  peerAddr: string;
  peerPort: number;
  /** The listener that accepted it: -1 the main one, else its index. */
  multiListenIndex: number;
  /** The accept filter's reason text, or what the limit was. */
  detail: string;
}

export type RefusalCounts = Record<RefusalReason, number>;

/** A counter per reason, every key present from the start (one object shape, no allocation per refusal). */
export function newRefusalCounts(): RefusalCounts {
  const counts = {} as RefusalCounts;
  for (const reason of REFUSAL_REASONS) counts[reason] = 0;
  return counts;
}
