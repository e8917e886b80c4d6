import type { ServiceBusStats } from '../service/service-bus';

/**
 * What a running TWSocketServer reports about itself: one plain, JSON-ready
 * snapshot (`server.stats()`), read by the Prometheus collector, the admin
 * listener's `/stats` and status page, and the CLI's `--status`.
 *
 * Counters (`accepted`, `refused`, `bytesIn`...) only grow for the life of the
 * server; gauges (`clientsNow`, `bytesQueued`) are the value at `at`. Byte
 * counters are the application's bytes (on a TLS listener: after decryption,
 * before encryption; TLS records and handshakes are not counted), closed
 * connections included.
 */
export interface ServerStats {
  /** ISO 8601 time of the snapshot. */
  at: string;
  /** Since the server object was made. */
  uptimeMs: number;
  state: 'closed' | 'listening';
  /** The whole server: the sum of the listeners, plus what no listener owns (bgExceptions of the server itself). */
  totals: TrafficCounters;
  /** The main listener (index -1) when it listens, then multiListenSockets / icsHosts bindings in index order. */
  listeners: ListenerStats[];
  /** One row per IcsHost (empty without icsHosts). */
  hosts: HostStats[];
  /**
   * A row per connected client, in connection order; bounded: the caller may
   * ask for the first N (`totals.clientsNow` is the full count, see `clientsOmitted`).
   */
  clients: ClientStats[];
  /** Connected clients left out of `clients` by the caller's bound (0 when all are listed). */
  clientsOmitted: number;
  /**
   * The service this server is a node of (options.bus): the bus, the
   * service-wide slots, the rooms. Always there in server.stats(); optional so
   * that snapshots made elsewhere (an empty one, an older server's) still type.
   */
  service?: ServiceStats;
}

/**
 * The service section of stats(): the bus's own figures (kind, nodeId,
 * status, outages, lastError, slots, published, received), then this
 * server's. With a LocalBus, `slots` and `serviceClients` are this server's
 * clients; a bus that could not start shows status 'down' and why.
 */
export interface ServiceStats extends ServiceBusStats {
  /** Clients across the service, as serviceClientCount() last got them (this server's clients with a LocalBus). */
  serviceClients: number;
  /** Connections waiting for the bus's slot verdict now (gauge). */
  slotsWaiting: number;
  /** Connections admitted on local limits because the bus did not answer in serviceSlotTimeout. */
  slotTimeouts: number;
  /** Slot calls the bus failed (thrown or rejected): those connections were admitted on local limits. */
  slotErrors: number;
  /** Rooms this server has made (server.room()). */
  rooms: number;
  /** Room messages from other nodes dropped as malformed or too long. */
  roomMessagesDropped: number;
}

export interface TrafficCounters {
  /** TCP connections the listeners accepted. */
  accepted: number;
  /** Connections that became clients. */
  admitted: number;
  /**
   * Connections turned away before they became clients, by reason. Every
   * reason the admission stages know has a key (0 until it happens), so a
   * reader sees the reasons that exist: deny, perIp, filter, maxClients,
   * maxConnections, maxHandshakes, proxy..., shutdown.
   */
  refused: Record<string, number>;
  /** TLS handshakes that completed (0 on plain listeners). */
  handshakesDone: number;
  /** TLS handshakes that failed, by reason: timeout, protocol, sni, clientCert, closed... */
  handshakesFailed: Record<string, number>;
  /** Clients connected now (gauge). */
  clientsNow: number;
  /** The most clients connected at once since the server was made. */
  clientsPeak: number;
  bytesIn: number;
  bytesOut: number;
  /** Bytes accepted by send() and not yet handed to the system, over all clients now (gauge). */
  bytesQueued: number;
  /** Clients closed because they were silent too long. */
  idleTimeouts: number;
  /** Clients closed because a line did not end in time. */
  lineTimeouts: number;
  /** Clients aborted (disconnect(), admin, exceptions in client code, a peer over sendLimit). */
  aborts: number;
  /** Exceptions that escaped client code or event handlers. */
  bgExceptions: number;
}

export interface ListenerStats extends TrafficCounters {
  /** -1 the main addr/port, else the multiListenSockets / binding index. */
  index: number;
  /** `tcp://127.0.0.1:8080`, `tls://[::1]:8443` (the bound port when listening). */
  url: string;
  /** closed | listening | failed */
  state: string;
  tls: boolean;
  /** Why it last failed to open or stopped accepting. */
  lastError?: string;
}

export interface HostStats {
  hostTag: string;
  hostNames: string[];
  /** Clients this host serves now. */
  connections: number;
  /** Subject (first name) of the host's certificate, for a TLS host. */
  certSubject?: string;
  /** ISO 8601. */
  certNotAfter?: string;
  /** Whole days until the certificate expires (negative when it has). */
  certDaysLeft?: number;
  /** The last recheckSslCerts() that concerned this host. */
  lastRecheck?: { at: string; ok: boolean; error?: string };
}

export interface ClientStats {
  cliId: number;
  peerAddr: string;
  peerPort: number;
  /** The listener index (-1 the main one). */
  listener: number;
  /** '' without icsHosts. */
  hostTag: string;
  bytesIn: number;
  bytesOut: number;
  /** Bytes waiting to be sent to this peer. */
  queued: number;
  /** Since the last byte read or written. */
  idleMs: number;
  connectedMs: number;
}

/** What stats() may be asked. */
export interface StatsRequest {
  /** List at most this many clients (the first connected); all by default. */
  maxClients?: number;
}
