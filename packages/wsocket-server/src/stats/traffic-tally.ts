import { HANDSHAKE_FAILURE_REASONS, HandshakeFailureReason } from '../tls/handshake';

/** The stable codes (wsocket's error catalog) a client is closed with when a deadline passed. */
const IDLE_TIMEOUT = 'ICS_ERR_IDLE_TIMEOUT';
const LINE_TIMEOUT = 'ICS_ERR_LINE_TIMEOUT';
/** A peer that did not read while sendLimit bytes queued up: the connection was aborted. */
const SEND_LIMIT = 'ICS_ERR_SEND_LIMIT';

/**
 * One listener's counters beside the ones the admission stages keep
 * (accepted, refusals): what happened to the connections it admitted. One
 * object per listener, plain number fields bumped in place: nothing is
 * allocated per connection. A client reaches its listener's tally through
 * its ConnectionInfo.
 */
export class TrafficTally {
  admitted = 0;
  clientsNow = 0;
  clientsPeak = 0;
  handshakesDone = 0;
  readonly handshakesFailed: Record<HandshakeFailureReason, number> = newFailureCounts();
  /** Bytes of the clients that have gone (the connected ones are read from their sockets). */
  bytesInClosed = 0;
  bytesOutClosed = 0;
  idleTimeouts = 0;
  lineTimeouts = 0;
  aborts = 0;
  bgExceptions = 0;

  clientIn(): void {
    this.admitted++;
    if (++this.clientsNow > this.clientsPeak) this.clientsPeak = this.clientsNow;
  }

  clientOut(bytesIn: number, bytesOut: number, error: Error | undefined): void {
    this.clientsNow--;
    this.bytesInClosed += bytesIn;
    this.bytesOutClosed += bytesOut;
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (code === IDLE_TIMEOUT) this.idleTimeouts++;
    else if (code === LINE_TIMEOUT) this.lineTimeouts++;
    else if (code === SEND_LIMIT) this.aborts++;
  }
}

export function newFailureCounts(): Record<HandshakeFailureReason, number> {
  const counts = {} as Record<HandshakeFailureReason, number>;
  for (const reason of HANDSHAKE_FAILURE_REASONS) counts[reason] = 0;
  return counts;
}
