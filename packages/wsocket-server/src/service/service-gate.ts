import { AdmissionGate } from '../admission/gate';
import type { TWSocketClient } from '../clients/wsocket-client';
import type { ServiceSlots } from './service-slots';

/**
 * The admission gate of a server with a shared bus: the sockets waiting for
 * the bus's slot verdict are held sockets too (maxConnections, connectionCount),
 * as TLS handshakes are. Kept apart so that a server with the LocalBus does no
 * added work per accept.
 */
export class ServiceGate<C extends TWSocketClient> extends AdmissionGate<C> {
  /** Set by the server once the slot stage exists. */
  serviceSlots: ServiceSlots<C> | undefined;

  override get held(): number {
    return super.held + (this.serviceSlots?.waiting.size ?? 0);
  }
}
