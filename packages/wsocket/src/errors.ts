/**
 * The one catalog of error codes for every ics-ts package (as ws keeps its
 * WS_ERR_* and fastify its FST_ERR_*). The code is the stable part: match on
 * `error.code`, never on the message. The classes stay what JavaScript users
 * expect (TypeError for a wrong type, RangeError for a number out of range...).
 *
 * Where Node's own convention is a system code (a listen that fails with
 * EADDRINUSE, an accept with EMFILE, an AbortError's ABORT_ERR), `code` keeps
 * that code and `icsCode` carries the catalog's: see docs/errors.md.
 */
export const ICS_ERR = {
  // ---- a TWSocket ends a connection ----
  /** More than `sendLimit` bytes were queued to a peer that does not read: the connection was aborted. */
  SEND_LIMIT: 'ICS_ERR_SEND_LIMIT',
  /** Nothing was received or sent for `idleTimeout` ms. */
  IDLE_TIMEOUT: 'ICS_ERR_IDLE_TIMEOUT',
  /** A line was begun and not finished within `lineTimeout` ms (a slow drip). */
  LINE_TIMEOUT: 'ICS_ERR_LINE_TIMEOUT',
  /** The peer stayed over its read rate for `readRateCloseAfter` ms. */
  READ_RATE: 'ICS_ERR_READ_RATE',
  /** A graceful close did not complete within `closeTimeout` ms (`code` stays ETIMEDOUT). */
  CLOSE_TIMEOUT: 'ICS_ERR_CLOSE_TIMEOUT',
  /** The peer closed the connection (a platform facade reports it as an error). */
  PEER_CLOSED: 'ICS_ERR_PEER_CLOSED',

  // ---- options and arguments ----
  /** An option or argument has the wrong type or shape, or options that cannot go together. */
  INVALID_OPTION: 'ICS_ERR_INVALID_OPTION',
  /** A number option or argument is outside its range. */
  OPTION_OUT_OF_RANGE: 'ICS_ERR_OPTION_OUT_OF_RANGE',
  /** An options object has a key the API does not know (a typo, most of the time). */
  UNKNOWN_OPTION: 'ICS_ERR_UNKNOWN_OPTION',

  // ---- client classes and injection ----
  /** A client class does not extend TWSocketClient, or a class name is not registered. */
  INVALID_CLIENT_CLASS: 'ICS_ERR_INVALID_CLIENT_CLASS',
  /** A client class name is registered twice to different classes. */
  CLIENT_CLASS_REGISTERED: 'ICS_ERR_CLIENT_CLASS_REGISTERED',
  /** A client class cannot be built by injection (constructor parameters without metadata). */
  NO_INJECTION_METADATA: 'ICS_ERR_NO_INJECTION_METADATA',
  /** ConnectionInfo or the server was asked for outside the moment a client is created or taken. */
  NOT_IN_CLIENT_CREATION: 'ICS_ERR_NOT_IN_CLIENT_CREATION',

  // ---- state ----
  /** A method was called in a state that does not allow it (a socket already attached or bound, a read already waiting...). */
  INVALID_STATE: 'ICS_ERR_INVALID_STATE',
  /** A TWSocket connect ended because the socket closed before it was connected. */
  CONNECT_CLOSED: 'ICS_ERR_CONNECT_CLOSED',
  /** The socket or server socket is closed (facades: IOError, IOException). */
  SOCKET_CLOSED: 'ICS_ERR_SOCKET_CLOSED',
  /** A read asked for more bytes than are available (AIR EOFError). */
  END_OF_DATA: 'ICS_ERR_END_OF_DATA',

  // ---- listening ----
  /** listen() on a server (or facade) that already listens. */
  ALREADY_LISTENING: 'ICS_ERR_ALREADY_LISTENING',
  /** listen() while another listen() is still under way. */
  LISTEN_IN_PROGRESS: 'ICS_ERR_LISTEN_IN_PROGRESS',
  /** A listen was aborted (signal, close or shutdown meanwhile). */
  LISTEN_ABORTED: 'ICS_ERR_LISTEN_ABORTED',
  /** The system refused a listen or bind; `code` keeps the system code (EADDRINUSE, EACCES...). */
  LISTEN_FAILED: 'ICS_ERR_LISTEN_FAILED',
  /** A listener failed while running (accept EMFILE/ENFILE...); `code` keeps the system code. */
  LISTENER_FAILED: 'ICS_ERR_LISTENER_FAILED',
  /** No listener with that index, or it serves no host any more. */
  NO_SUCH_LISTENER: 'ICS_ERR_NO_SUCH_LISTENER',

  // ---- hosts and TLS ----
  /** No host with that hostTag, or a host-table operation on a server made without icsHosts. */
  NO_SUCH_HOST: 'ICS_ERR_NO_SUCH_HOST',
  /** A certificate, key or CA cannot be loaded, does not match, or is refused (IdentityError). */
  CERTIFICATE: 'ICS_ERR_CERTIFICATE',
  /** The certificate is expired or not yet valid and refuseExpired is set (IdentityError). */
  CERTIFICATE_EXPIRED: 'ICS_ERR_CERTIFICATE_EXPIRED',
  /** A TLS handshake did not finish within sslHandshakeTimeout ms (`code` stays ERR_TLS_HANDSHAKE_TIMEOUT, as Node's). */
  TLS_HANDSHAKE_TIMEOUT: 'ICS_ERR_TLS_HANDSHAKE_TIMEOUT',
  /** The peer closed the connection during the TLS handshake. */
  TLS_HANDSHAKE_CLOSED: 'ICS_ERR_TLS_HANDSHAKE_CLOSED',
  /** The TLS server name is unknown (sniUnknown 'refuse') or missing (sniMissing 'refuse'). */
  TLS_SERVER_NAME: 'ICS_ERR_TLS_SERVER_NAME',
  /** The client certificate failed verification (sslVerifyPeer). */
  TLS_CLIENT_CERTIFICATE: 'ICS_ERR_TLS_CLIENT_CERTIFICATE',
  /** The negotiated TLS version is below what the host's sslSrvSecurity allows. */
  TLS_PROTOCOL_REFUSED: 'ICS_ERR_TLS_PROTOCOL_REFUSED',

  // ---- ACME (certAutoOrder) ----
  /** An ACME order failed: the CA refused it, offered no usable challenge, or left it unsettled. */
  ACME_ORDER_FAILED: 'ICS_ERR_ACME_ORDER_FAILED',
  /** An ACME order took longer than orderTimeoutMs. */
  ACME_ORDER_TIMEOUT: 'ICS_ERR_ACME_ORDER_TIMEOUT',
  /** The certificate manager was stopped while an order was under way. */
  ACME_STOPPED: 'ICS_ERR_ACME_STOPPED',
  /** The CA could not be reached (AcmeNetworkError; `code` keeps the system code when there is one). */
  ACME_NETWORK: 'ICS_ERR_ACME_NETWORK',
  /** The certificate the CA issued is not what was asked for (CertificateCheckError): it is not installed. */
  ACME_CERTIFICATE_CHECK: 'ICS_ERR_ACME_CERTIFICATE_CHECK',
  /** The certAutoOrder workDir cannot be used (WorkDirError). */
  ACME_WORK_DIR: 'ICS_ERR_ACME_WORK_DIR',
  /** The installed acme-client version lacks what ics-ts needs. */
  ACME_CLIENT_UNSUPPORTED: 'ICS_ERR_ACME_CLIENT_UNSUPPORTED',
  /** renewCertificate() on a host without certAutoOrder. */
  ACME_NOT_CONFIGURED: 'ICS_ERR_ACME_NOT_CONFIGURED',

  // ---- PROXY protocol ----
  /** The PROXY header decoder was used after it finished (a programming error). */
  PROXY_DECODER_FINISHED: 'ICS_ERR_PROXY_DECODER_FINISHED',

  // ---- the command line ----
  /** The ics-ts-server config file or an override is wrong (exit code 2). */
  CLI_CONFIG: 'ICS_ERR_CLI_CONFIG',
  /** The ics-ts-server command line is wrong (exit code 2). */
  CLI_USAGE: 'ICS_ERR_CLI_USAGE',
  /** The admin endpoint asked by `--status` answered with an HTTP error. */
  CLI_STATUS_REQUEST: 'ICS_ERR_CLI_STATUS_REQUEST',
} as const;

export type IcsErrorCode = (typeof ICS_ERR)[keyof typeof ICS_ERR];

/** The codes a TWSocket ends a connection with (the first catalog; its values are unchanged). */
export const WSocketErrorCode = {
  SEND_LIMIT: ICS_ERR.SEND_LIMIT,
  IDLE_TIMEOUT: ICS_ERR.IDLE_TIMEOUT,
  LINE_TIMEOUT: ICS_ERR.LINE_TIMEOUT,
  READ_RATE: ICS_ERR.READ_RATE,
} as const;

export type WSocketErrorCode = (typeof WSocketErrorCode)[keyof typeof WSocketErrorCode];

/** An error with a catalog code. */
export type IcsError<E extends Error = Error> = E & { code: IcsErrorCode };

/** An error that reports a system failure: `code` is the system code, `icsCode` the catalog's. */
export type IcsSystemError = NodeJS.ErrnoException & { icsCode: IcsErrorCode };

/** A class of errors: Error, TypeError, RangeError or a subclass. */
export type ErrorClass<E extends Error> = new (message: string, options?: ErrorOptions) => E;

/** `new cls(message, options)` with `code` set: the class users catch stays, the code is added. */
export function icsError<E extends Error>(cls: ErrorClass<E>, code: IcsErrorCode, message: string, options?: ErrorOptions): IcsError<E> {
  const error = new cls(message, options) as IcsError<E>;
  error.code = code;
  return error;
}

/**
 * An error for a system failure, named by us: `code` stays the system code
 * (`systemCode`, EADDRINUSE...) as Node users expect, `icsCode` is the catalog code.
 */
export function icsSystemError(icsCode: IcsErrorCode, systemCode: string | undefined, message: string, options?: ErrorOptions): IcsSystemError {
  const error = new Error(message, options) as IcsSystemError;
  error.code = systemCode;
  error.icsCode = icsCode;
  return error;
}

/** Gives an existing error a catalog code (an error made elsewhere, e.g. by a callback). */
export function withIcsCode<E extends Error>(error: E, code: IcsErrorCode): IcsError<E> {
  (error as IcsError<E>).code = code;
  return error as IcsError<E>;
}

/** Every code in the catalog, for tests and documentation. */
export const ICS_ERROR_CODES: readonly IcsErrorCode[] = Object.freeze(Object.values(ICS_ERR));

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

/** The catalog code an error carries (`code`, else `icsCode`), or `fallback`: for errors re-thrown under a new message. */
export function icsCodeOf(error: unknown, fallback: IcsErrorCode): IcsErrorCode {
  const { code, icsCode } = (error ?? {}) as { code?: unknown; icsCode?: unknown };
  if (ICS_ERROR_CODES.includes(code as IcsErrorCode)) return code as IcsErrorCode;
  if (ICS_ERROR_CODES.includes(icsCode as IcsErrorCode)) return icsCode as IcsErrorCode;
  return fallback;
}
