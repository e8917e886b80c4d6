/** How a side of the channel sends: `process.send` in a worker, `worker.send` in the primary. */
export type ChannelSend = (message: unknown, callback: (error: Error | null) => void) => boolean;

/**
 * Sends messages on an IPC channel with a bound on those not yet written:
 * Node queues what the peer does not read in the sender's memory without
 * limit, so past `limit` messages in flight a send is refused (counted) and
 * the caller treats it as the peer not keeping up. Every send passes a
 * callback, so a send on a closed channel is counted here instead of becoming
 * an 'error' event that nobody listens to (which would end the process).
 * One callback for every message: no closure per send.
 */
export class IpcSender {
  /** Messages handed to Node and not yet written. */
  inFlight = 0;
  /** Sends refused because `limit` messages were in flight. */
  refused = 0;
  /** Sends that failed (channel closed, message not serializable). */
  failed = 0;
  /** The last failure's message ('' if none). */
  lastError = '';

  constructor(
    private readonly send: ChannelSend,
    readonly limit: number,
  ) {}

  /** Hands `message` to the channel; false when refused or failed at once. */
  trySend(message: object): boolean {
    if (this.inFlight >= this.limit) {
      this.refused++;
      return false;
    }
    this.inFlight++;
    try {
      this.send(message, this.onSent);
    } catch (error) {
      this.onSent(error as Error);
      return false;
    }
    return true;
  }

  private readonly onSent = (error: Error | null): void => {
    this.inFlight--;
    if (error) {
      this.failed++;
      this.lastError = error.message;
    }
  };
}
