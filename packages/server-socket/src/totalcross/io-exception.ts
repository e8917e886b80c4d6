/** TotalCross's totalcross.io.IOException: what its server socket and sockets throw once closed. */
export class IOException extends Error {
  override name = 'IOException';
  /** The system code (EADDRINUSE...) when the system refused. */
  code?: string;
}

/** The message TotalCross uses for a closed server socket, taken as it is. */
export const SERVER_SOCKET_CLOSED = 'The server socket is closed';
