import { SocketAddresses, unmapIPv4 } from '@ics-ts/wsocket';
import type { ProxiedConnection } from '../admission/proxy-facts';
import type { IcsHost } from '../hosts/ics-host';
import type { TlsFacts } from '../tls/tls-facts';
import type { TrafficTally } from '../stats/traffic-tally';

/**
 * Per-connection facts, injectable into a client class's constructor
 * (`constructor(info: ConnectionInfo)`), known before the socket is attached.
 * The client reads its own facts from the same object, for its whole life.
 */
export class ConnectionInfo implements SocketAddresses {
  /** When the server admitted the connection (ms since the epoch). */
  readonly connectedAt = Date.now();

  constructor(
    /** Sequential id of this connection on its server (ICS CliId). */
    readonly cliId: number,
    /** Peer address as the system reported it; behind a load balancer, the client's from the PROXY header. */
    readonly peerAddrRaw: string,
    readonly peerPort: number,
    readonly localAddrRaw: string,
    readonly localPort: number,
    /** The listener that accepted it: -1 for the main addr/port, else the multiListenSockets index. */
    readonly multiListenIndex: number,
    /** The icsHosts entry serving it (-1 without icsHosts), ICS IcsHostIdx. */
    readonly icsHostIdx = -1,
    /** That host's hostTag ('' without icsHosts). */
    readonly hostTag = '',
    /** The host name the TLS client asked for and matched ('*.example.com' for a wildcard), '' for the default host. */
    readonly matchedName = '',
    /** The icsHosts entry itself, undefined without icsHosts. */
    readonly icsHost: IcsHost | undefined = undefined,
    /** The TLS facts, read once the handshake was done; undefined on a plain listener. */
    readonly tls: TlsFacts | undefined = undefined,
    /** The load balancer and its PROXY header, when the listener reads one (proxyProtocol); else undefined. */
    readonly proxy: ProxiedConnection | undefined = undefined,
    /** @internal The counters of the listener that accepted it. */
    readonly tally: TrafficTally | undefined = undefined,
  ) {}

  /** The load balancer's address (IPv4 as plain IPv4) when the connection came with a PROXY header; '' otherwise. */
  get proxyAddr(): string {
    return this.proxy ? unmapIPv4(this.proxy.proxyAddrRaw) : '';
  }

  /** The load balancer's port; 0 without a PROXY header. */
  get proxyPort(): number {
    return this.proxy ? this.proxy.proxyPort : 0;
  }

  /** Peer address, IPv4 peers of a dual-stack listener as plain IPv4. */
  get peerAddr(): string {
    return unmapIPv4(this.peerAddrRaw);
  }

  get localAddr(): string {
    return unmapIPv4(this.localAddrRaw);
  }
}
