import type { TWSocketClient } from '../clients/wsocket-client';
import { INFO } from '../clients/wsocket-client';
import type { IcsHost } from '../hosts/ics-host';
import type { Listener } from '../listen/listener';
import type { ClientStats, HostStats, ListenerStats, ServerStats, ServiceStats, StatsRequest, TrafficCounters } from './stats-types';
import type { TrafficTally } from './traffic-tally';

/** What the server hands collectStats(): its stages' counters, read in place. */
export interface StatsSources {
  state: 'closed' | 'listening';
  /** Date.now() when the server was made. */
  startedAt: number;
  listeners: readonly Listener[];
  /** Server-wide figures the stages keep. */
  accepted: number;
  refused: Readonly<Record<string, number>>;
  handshakesDone: number;
  handshakesFailed: Readonly<Record<string, number>>;
  clientsPeak: number;
  /** Every exception reported, with or without a client. */
  bgExceptions: number;
  clients: readonly TWSocketClient[];
  hosts: readonly IcsHost[];
  lastRecheck: ReadonlyMap<string, { at: string; ok: boolean; error?: string }>;
  idle: IdleClock;
  /** The service section, as the server assembles it. */
  service: ServiceStats;
}

/**
 * How long each client has been idle, at the resolution of the snapshots: a
 * client whose byte counts moved since the last stats() call was active
 * within that interval (counted from the call that saw the move); one whose
 * counts did not move has been idle at least since then. Its memory is a
 * WeakMap entry per client that was in a snapshot (nothing on the accept
 * path), gone with the client.
 */
export class IdleClock {
  private readonly seen = new WeakMap<TWSocketClient, { bytes: number; since: number }>();

  idleMs(client: TWSocketClient, bytes: number, now: number): number {
    const last = this.seen.get(client);
    if (!last) {
      // First look: nothing known between the connect and now but whether anything moved at all.
      const since = bytes === 0 ? client[INFO].connectedAt : now;
      this.seen.set(client, { bytes, since });
      return now - since;
    }
    if (last.bytes !== bytes) {
      last.bytes = bytes;
      last.since = now;
    }
    return now - last.since;
  }
}

function listenerRow(listener: Listener, now: TrafficNow): ListenerStats {
  const t: TrafficTally = listener.tally;
  const status = listener.status;
  const row: ListenerStats = {
    index: listener.index,
    url: listener.url,
    state: status.state,
    tls: status.tls,
    accepted: listener.accepted,
    admitted: t.admitted,
    refused: { ...listener.refusals },
    handshakesDone: t.handshakesDone,
    handshakesFailed: { ...t.handshakesFailed },
    clientsNow: t.clientsNow,
    clientsPeak: t.clientsPeak,
    bytesIn: t.bytesInClosed + now.bytesIn,
    bytesOut: t.bytesOutClosed + now.bytesOut,
    bytesQueued: now.queued,
    idleTimeouts: t.idleTimeouts,
    lineTimeouts: t.lineTimeouts,
    aborts: t.aborts,
    bgExceptions: t.bgExceptions,
  };
  if (status.lastError) row.lastError = status.lastError;
  return row;
}

interface TrafficNow {
  bytesIn: number;
  bytesOut: number;
  queued: number;
}

/**
 * The snapshot: one pass over the clients (bytes, queued, the rows asked
 * for), the listeners' and stages' counters copied. Costs O(clients) when
 * called, nothing between calls.
 */
export function collectStats(sources: StatsSources, request: StatsRequest = {}): ServerStats {
  const now = Date.now();
  const limit = request.maxClients ?? Infinity;
  const perListener = new Map<number, TrafficNow>();
  for (const listener of sources.listeners) perListener.set(listener.index, { bytesIn: 0, bytesOut: 0, queued: 0 });
  const perHost = new Map<string, number>();
  const rows: ClientStats[] = [];
  for (const client of sources.clients) {
    const info = client[INFO];
    const bytesIn = client.bytesReceived;
    const bytesOut = client.bytesSent;
    const queued = client.bufferedBytes;
    const traffic = perListener.get(info.multiListenIndex);
    if (traffic) {
      traffic.bytesIn += bytesIn;
      traffic.bytesOut += bytesOut;
      traffic.queued += queued;
    }
    if (info.hostTag) perHost.set(info.hostTag, (perHost.get(info.hostTag) ?? 0) + 1);
    const idleMs = sources.idle.idleMs(client, bytesIn + bytesOut, now);
    if (rows.length < limit) {
      rows.push({
        cliId: info.cliId,
        peerAddr: info.peerAddr,
        peerPort: info.peerPort,
        listener: info.multiListenIndex,
        hostTag: info.hostTag,
        bytesIn,
        bytesOut,
        queued,
        idleMs,
        connectedMs: now - info.connectedAt,
      });
    }
  }

  const listeners = sources.listeners.map((l) => listenerRow(l, perListener.get(l.index)!));
  const totals: TrafficCounters = {
    accepted: sources.accepted,
    admitted: 0,
    refused: { ...sources.refused },
    handshakesDone: sources.handshakesDone,
    handshakesFailed: { ...sources.handshakesFailed },
    clientsNow: sources.clients.length,
    clientsPeak: sources.clientsPeak,
    bytesIn: 0,
    bytesOut: 0,
    bytesQueued: 0,
    idleTimeouts: 0,
    lineTimeouts: 0,
    aborts: 0,
    bgExceptions: sources.bgExceptions,
  };
  for (const l of listeners) {
    totals.admitted += l.admitted;
    totals.bytesIn += l.bytesIn;
    totals.bytesOut += l.bytesOut;
    totals.bytesQueued += l.bytesQueued;
    totals.idleTimeouts += l.idleTimeouts;
    totals.lineTimeouts += l.lineTimeouts;
    totals.aborts += l.aborts;
  }

  const hosts: HostStats[] = sources.hosts.map((host) => {
    const row: HostStats = { hostTag: host.hostTag, hostNames: [...host.hostNames], connections: perHost.get(host.hostTag) ?? 0 };
    const context = host.sslContext;
    if (context) {
      const facts = context.facts;
      row.certSubject = facts.names[0];
      row.certNotAfter = facts.notAfter.toISOString();
      row.certDaysLeft = facts.daysLeft;
    }
    const recheck = sources.lastRecheck.get(host.hostTag);
    if (recheck) row.lastRecheck = recheck;
    return row;
  });

  return {
    at: new Date(now).toISOString(),
    uptimeMs: now - sources.startedAt,
    state: sources.state,
    totals,
    listeners,
    hosts,
    clients: rows,
    clientsOmitted: sources.clients.length - rows.length,
    service: sources.service,
  };
}
