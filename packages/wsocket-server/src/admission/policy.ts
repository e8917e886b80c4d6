import type { AddressList } from './address-list';
import type { ProxyPolicy } from './proxy-policy';

/** What an accept filter sees: the peer and the listener, before anything is allocated for the connection. */
export interface AcceptPeer {
  /** IPv4 peers of a dual-stack listener as plain IPv4. */
  peerAddr: string;
  peerPort: number;
  /** The listener: -1 the main one, else its index. */
  multiListenIndex: number;
  /** The listener serves TLS (the handshake has not begun). */
  tls: boolean;
}

/**
 * ICS OnClientAcceptFilter: return `false`, or a reason text, to refuse the
 * connection (it is closed at once with no byte sent); anything else admits it.
 * An exception refuses it too and goes to bgException.
 */
export type AcceptFilter = (peer: AcceptPeer) => boolean | string | void;

/** The admission policy of one listener: the server's, with what the listener item or host binding sets. */
export interface ListenerPolicy {
  allow: AddressList | undefined;
  deny: AddressList | undefined;
  /** Clients per address (an IPv6 /64 as one); 0 = no limit. */
  maxClientsPerIp: number;
  acceptFilter: AcceptFilter | undefined;
  /** PROXY protocol settings, when the listener (or the server) sets any; read a header when mode is not 'off'. */
  proxy?: ProxyPolicy;
}
