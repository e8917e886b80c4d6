import type { EventEmitter } from 'node:events';
import type { IssuedCertificate } from '@ics-ts/acme';
import type { Refusal } from './admission/refusals';
import { INFO, TWSocketClient } from './clients/wsocket-client';
import type { HandshakeFailure } from './tls/handshake';
import type { ServiceBusStatus } from './service/service-bus';
import { ICS_ERR, icsSystemError } from '@ics-ts/wsocket';

export type ServerState = 'closed' | 'listening';

/** What recheckSslCerts() found. */
export interface CertRecheck {
  /** Hosts whose certificate changed and was swapped in. */
  reloaded: string[];
  /** Hosts whose changed files could not be loaded: they keep their last good certificate. */
  failed: { hostTag: string; error: Error }[];
}

/** A listener that could not be opened by multiListenEx. */
export interface ListenFailure {
  index: number;
  url: string;
  error: Error;
}

/** A connection turned away because no client slot was free (maxClients, or maxClientsPerIp). */
export interface TooBusyInfo {
  peerAddr: string;
  peerPort: number;
  multiListenIndex: number;
}

/** A load balancer's health check: a v2 LOCAL header, answered with a clean close (never a client). */
export interface ProxyHealthCheck {
  /** The balancer (IPv4 as plain IPv4). */
  proxyAddr: string;
  proxyPort: number;
  multiListenIndex: number;
}

export interface WSocketServerEvents<C extends TWSocketClient> {
  /** A client object exists (constructor done), its socket is not attached yet. */
  clientCreate: [client: C];
  /** The socket is attached; the banner follows this event. */
  clientConnect: [client: C];
  /** The client's session is over; it leaves the list right after this event. */
  clientDisconnect: [client: C, error: Error | undefined];
  changeState: [state: ServerState, previous: ServerState];
  /** A listener failed after it started (accept errors such as EMFILE). */
  error: [error: Error];
  /** An exception escaped client code or an event handler; `client` (if any) was aborted. */
  bgException: [error: unknown, client: C | undefined];
  /** A connection over maxClients (or maxClientsPerIp) got bannerTooBusy and is being closed. */
  tooBusy: [info: TooBusyInfo];
  /** Any connection an admission stage refused, with the reason (tooBusy ones too). */
  refused: [refusal: Refusal];
  /** A load balancer checked this server (PROXY v2 LOCAL): counted in proxyHeaders.healthChecks, closed cleanly. */
  proxyHealthCheck: [check: ProxyHealthCheck];
  /** A TLS handshake failed (garbage, timeout, refused client certificate...); the connection is closed. */
  sslHandshakeError: [failure: HandshakeFailure];
  /** recheckSslCerts() (or its timer) swapped in a certificate or failed to. */
  sslCertRecheck: [result: CertRecheck];
  /** A certAutoOrder host got a new certificate from its CA; new handshakes already use it. */
  certificateIssued: [hostTag: string, certificate: IssuedCertificate];
  /** A certAutoOrder host's order failed; its last good certificate stays; the next order runs at retryAt. */
  certificateOrderFailed: [hostTag: string, error: Error, retry: { failures: number; retryAt: Date }];
  /** The service bus went down (serving alone: why) or came back up; also 'down' when it could not start. */
  serviceStatus: [status: ServiceBusStatus, reason: string];
}

type GuardedEvent =
  | 'clientCreate'
  | 'clientConnect'
  | 'clientDisconnect'
  | 'tooBusy'
  | 'refused'
  | 'proxyHealthCheck'
  | 'sslHandshakeError'
  | 'sslCertRecheck'
  | 'changeState'
  | 'certificateIssued'
  | 'certificateOrderFailed'
  | 'serviceStatus';

/**
 * The end of the pipeline: where the stages report what happened, as the
 * server's events. An exception from a user's handler never reaches the stage
 * that emitted: it goes to `bgException` (a process warning when nobody
 * listens there), so the server and the other clients carry on.
 */
export class ServerEvents<C extends TWSocketClient> {
  /** Exceptions reported since the server was made (stats()). */
  bgExceptions = 0;

  constructor(private readonly emitter: EventEmitter<WSocketServerEvents<C>>) {}

  /** Whether anybody listens (to skip building an event's payload when nobody does). */
  wanted(event: keyof WSocketServerEvents<C>): boolean {
    return this.emitter.listenerCount(event) > 0;
  }

  /** Emits; false when a handler threw (the exception went to bgException). */
  emit<K extends GuardedEvent>(event: K, ...args: WSocketServerEvents<C>[K]): boolean {
    try {
      (this.emitter.emit as (event: K, ...args: WSocketServerEvents<C>[K]) => boolean)(event, ...args);
      return true;
    } catch (error) {
      const client = event === 'clientCreate' || event === 'clientConnect' || event === 'clientDisconnect' ? (args[0] as C) : undefined;
      this.bgException(error, client);
      return false;
    }
  }

  /** A listener's run-time failure, named after it; a process warning when nobody listens. */
  listenerError(url: string, error: Error): void {
    const named = icsSystemError(ICS_ERR.LISTENER_FAILED, (error as NodeJS.ErrnoException).code, `listener ${url}: ${error.message}`, { cause: error });
    if (this.emitter.listenerCount('error') > 0) this.emitter.emit('error', named);
    else process.emitWarning(named.message, 'TWSocketServerWarning');
  }

  bgException(error: unknown, client: C | undefined): void {
    this.bgExceptions++;
    const tally = client?.[INFO].tally;
    if (tally) {
      // The client was aborted for it (see the bgException event).
      tally.bgExceptions++;
      tally.aborts++;
    }
    try {
      if (this.emitter.emit('bgException', error, client)) return;
    } catch (handlerError) {
      error = handlerError;
    }
    const text = error instanceof Error ? error.stack ?? error.message : String(error);
    process.emitWarning(`unhandled exception in client code${client ? ` (client ${client.cliId})` : ''}: ${text}`, 'TWSocketServerWarning');
  }
}
