import type { ServerStats, StatsRequest } from './stats-types';

/** What recheckCerts() found, JSON-ready (errors as their message). */
export interface RecheckOutcome {
  reloaded: string[];
  failed: { hostTag: string; error: string }[];
}

/**
 * What the admin listener needs of a server: a snapshot and four actions.
 * TWSocketServer provides it (`server.adminTarget()`); tests and other hosts
 * can provide their own.
 */
export interface AdminTarget {
  stats(request?: StatsRequest): ServerStats;
  /** Counts the service's clients through the bus before a /stats or /metrics snapshot (a shared bus is asked; bounded by its own timeouts). */
  refreshService?(): Promise<void>;
  /** Aborts the client with this cliId; resolves false when there is none (any more). */
  disconnectClient(cliId: number): Promise<boolean>;
  /** Stops one listener (-1 the main one); throws RangeError for an index that does not exist. */
  closeListener(index: number): void | Promise<void>;
  /** (Re)opens one listener; throws RangeError for an index that does not exist, rejects when it cannot listen. */
  openListener(index: number): Promise<void>;
  /** Re-reads the TLS hosts' certificate files (ICS RecheckSslCerts). */
  recheckCerts(): RecheckOutcome | Promise<RecheckOutcome>;
}
