/** AS3's ArgumentError: a malformed argument (an address that is not an IP literal). A TypeError, as the project's other malformed options. */
export class ArgumentError extends TypeError {
  override name = 'ArgumentError';
}

/** AS3's EOFError: a read asked for more bytes than are available. */
export class EOFError extends RangeError {
  override name = 'EOFError';
}

/** AS3's IOError: the socket is not open. */
export class IOError extends Error {
  override name = 'IOError';
}
