/** Connection states, ICS's TSocketState reduced to what a TCP connection passes through. */
export const SocketState = {
  closed: 'closed',
  connecting: 'connecting',
  connected: 'connected',
  closing: 'closing',
} as const;

export type SocketState = (typeof SocketState)[keyof typeof SocketState];
