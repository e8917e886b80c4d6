import type * as net from 'node:net';
import { unmapIPv4 } from '@ics-ts/wsocket';
import type { ServerEvents } from '../events';
import type { TWSocketClient } from '../clients/wsocket-client';
import type { Listener } from '../listen/listener';
import { RefusalCounts, RefusalReason, newRefusalCounts } from './refusals';

/**
 * Ends refused connections and keeps the count per reason, for the server and
 * for the listener. A socket refused here is destroyed at once: no byte is
 * sent, nothing was allocated for it. (Too-busy peers, who are told why, go
 * through TooBusy, which counts here too.)
 */
export class Refuser {
  readonly counts: RefusalCounts = newRefusalCounts();

  constructor(private readonly events: ServerEvents<TWSocketClient>) {}

  /** Counts and reports a refusal; the caller has dealt with the socket. */
  count(reason: RefusalReason, listener: Listener, peerAddr: string, peerPort: number, detail: string): void {
    this.counts[reason]++;
    listener.refusals[reason]++;
    if (this.events.wanted('refused')) {
      this.events.emit('refused', { reason, peerAddr: unmapIPv4(peerAddr), peerPort, multiListenIndex: listener.index, detail });
    }
  }

  /** Destroys the socket at once (no byte sent), then counts and reports. */
  refuse(socket: net.Socket, reason: RefusalReason, listener: Listener, peerAddr: string, peerPort: number, detail: string): void {
    socket.destroy();
    this.count(reason, listener, peerAddr, peerPort, detail);
  }
}
