import type * as net from 'node:net';
import type { ProxyHeader } from './proxy-header';

/**
 * What a connection that came through a load balancer carries beside the
 * client's address (which becomes its peerAddr/peerPort): the balancer's own
 * address and port, and the header as decoded (version, command, the
 * endpoints, the v2 TLVs). Read-only.
 */
export interface ProxiedConnection {
  /** The balancer: where the TCP connection really came from, as the system reported it. */
  readonly proxyAddrRaw: string;
  readonly proxyPort: number;
  readonly header: ProxyHeader;
}

/** The PROXY stage leaves its facts on the accepted socket under this key, for the client starter. */
export const PROXIED = Symbol('ics-ts.proxied');
type ProxiedSocket = net.Socket & { [PROXIED]?: ProxiedConnection; _parent?: ProxiedSocket };

export function markProxied(socket: net.Socket, facts: ProxiedConnection): void {
  (socket as ProxiedSocket)[PROXIED] = facts;
}

/**
 * The facts of a connection, or undefined when it did not come with a header.
 * A TLS connection is the TLSSocket over the accepted one: Node keeps that one
 * as `_parent` (relied on here only; the TLS tests behind HAProxy check it).
 */
export function proxiedOf(socket: net.Socket): ProxiedConnection | undefined {
  const s = socket as ProxiedSocket;
  return s[PROXIED] ?? s._parent?.[PROXIED];
}
