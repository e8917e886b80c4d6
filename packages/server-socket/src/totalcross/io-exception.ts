import { ICS_ERR, type IcsErrorCode } from '@ics-ts/wsocket';

/** TotalCross's totalcross.io.IOException: what its server socket and sockets throw once closed. */
export class IOException extends Error {
  override name = 'IOException';
  /** ICS_ERR_SOCKET_CLOSED; the system code (EADDRINUSE...) when the system refused a listen. */
  code: string = ICS_ERR.SOCKET_CLOSED;
  /** The catalog code: ICS_ERR_SOCKET_CLOSED, or ICS_ERR_LISTEN_FAILED when `code` is a system code. */
  icsCode: IcsErrorCode = ICS_ERR.SOCKET_CLOSED;
}

/** The message TotalCross uses for a closed server socket, taken as it is. */
export const SERVER_SOCKET_CLOSED = 'The server socket is closed';
