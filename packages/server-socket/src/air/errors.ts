import { ICS_ERR, type IcsErrorCode } from '@ics-ts/wsocket';

/** AS3's ArgumentError: a malformed argument (an address that is not an IP literal). A TypeError, as the project's other malformed options. */
export class ArgumentError extends TypeError {
  override name = 'ArgumentError';
  readonly code: IcsErrorCode = ICS_ERR.INVALID_OPTION;
}

/** AS3's EOFError: a read asked for more bytes than are available. */
export class EOFError extends RangeError {
  override name = 'EOFError';
  readonly code: IcsErrorCode = ICS_ERR.END_OF_DATA;
}

/** AS3's IOError: the socket is not open. */
export class IOError extends Error {
  override name = 'IOError';
  readonly code: IcsErrorCode = ICS_ERR.SOCKET_CLOSED;
}
