/**
 * The error codes a TWSocket ends a connection with, in one catalog (as ws keeps
 * its WS_ERR_* and fastify its FST_ERR_*). The code is the stable part: match
 * on `error.code`, never on the message.
 */
export const WSocketErrorCode = {
  /** More than `sendLimit` bytes were queued to a peer that does not read: the connection was aborted. */
  SEND_LIMIT: 'ICS_ERR_SEND_LIMIT',
  /** Nothing was received or sent for `idleTimeout` ms. */
  IDLE_TIMEOUT: 'ICS_ERR_IDLE_TIMEOUT',
  /** A line was begun and not finished within `lineTimeout` ms (a slow drip). */
  LINE_TIMEOUT: 'ICS_ERR_LINE_TIMEOUT',
  /** The peer stayed over its read rate for `readRateCloseAfter` ms. */
  READ_RATE: 'ICS_ERR_READ_RATE',
} as const;

export type WSocketErrorCode = (typeof WSocketErrorCode)[keyof typeof WSocketErrorCode];

/** An error a TWSocket raised itself, with a stable `code`. */
export class WSocketError extends Error {
  constructor(
    readonly code: WSocketErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'WSocketError';
  }
}
