/**
 * Xojo's SocketCore error numbers, the ones a server and its sockets meet.
 * Node's system codes map onto them in `xojoErrorCode`; the system code stays
 * readable as `error.code` on the Error handed with the number.
 */
export const XojoErrorCode = {
  /** The system refused to open the socket (any failure without a closer number). */
  openDriverError: 100,
  /** The connection is gone: the peer closed it or it was reset. */
  lostConnection: 102,
  /** The address could not be resolved or is not on this machine. */
  nameResolutionError: 103,
  addressInUseError: 105,
  /** An operation the socket's state does not allow (listen while listening). */
  invalidStateError: 106,
  /** A port out of range, or one below 1024 without the privilege to bind it. */
  invalidPortError: 107,
  outOfMemoryError: 108,
} as const;

const BY_SYSTEM_CODE: Record<string, number> = {
  EADDRINUSE: XojoErrorCode.addressInUseError,
  EACCES: XojoErrorCode.invalidPortError,
  EPERM: XojoErrorCode.invalidPortError,
  EADDRNOTAVAIL: XojoErrorCode.nameResolutionError,
  ENOTFOUND: XojoErrorCode.nameResolutionError,
  ECONNRESET: XojoErrorCode.lostConnection,
  EPIPE: XojoErrorCode.lostConnection,
  ETIMEDOUT: XojoErrorCode.lostConnection,
  ECONNABORTED: XojoErrorCode.lostConnection,
  ENOMEM: XojoErrorCode.outOfMemoryError,
  ENOBUFS: XojoErrorCode.outOfMemoryError,
};

/** The Xojo error number for a Node error (its `code`); openDriverError when none is closer. */
export function xojoErrorCode(error: Error | undefined): number {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return (code !== undefined && BY_SYSTEM_CODE[code]) || XojoErrorCode.openDriverError;
}
