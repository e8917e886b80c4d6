import type { ClientConstructor } from '../clients/client-registry';
import type { TWSocketClient } from '../clients/wsocket-client';

/**
 * The server settings the stages read at each connection. The server writes
 * them (its setters change them at run time, for new connections); the stages
 * only read: one object, shared.
 */
export interface ServerSettings<C extends TWSocketClient = TWSocketClient> {
  banner: string;
  bannerTooBusy: string;
  /** Sent instead of bannerTooBusy to a peer over maxClientsPerIp; undefined: bannerTooBusy. */
  bannerTooBusyPerIp: string | undefined;
  lineEnd: string;
  maxClients: number;
  maxConnections: number;
  maxHandshakes: number;
  maxHandshakesPerIp: number;
  tooBusyCloseTimeout: number;
  sslHandshakeTimeout: number;
  clientClass: ClientConstructor<C>;
}
