/**
 * A ServerStats source and admin target over a real TWSocketServer's public
 * members and events only (clients, listenStates, validateHosts, disconnect,
 * closeListenSocket, openListenSocket, recheckSslCerts): what the collector,
 * the admin listener and the status page are tested against until the
 * server has its own stats(). Figures the public surface does not show are
 * derived from events: accepted = admitted + refused + failed handshakes;
 * idleMs is the time since the client connected (no last-activity time is
 * public).
 */
import type { ClientStats, HostStats, ListenerStats, ServerStats, StatsRequest, TrafficCounters } from '../src/stats/stats-types';
import type { AdminTarget, RecheckOutcome } from '../src/stats/admin-target';
import type { TWSocketClient, TWSocketServer } from '@ics-ts/wsocket-server';

function counters(): TrafficCounters {
  return {
    accepted: 0,
    admitted: 0,
    refused: { maxClients: 0 },
    handshakesDone: 0,
    handshakesFailed: {},
    clientsNow: 0,
    clientsPeak: 0,
    bytesIn: 0,
    bytesOut: 0,
    bytesQueued: 0,
    idleTimeouts: 0,
    lineTimeouts: 0,
    aborts: 0,
    bgExceptions: 0,
  };
}

function failureReason(error: Error): string {
  if ((error as NodeJS.ErrnoException).code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return 'timeout';
  if (/server name/.test(error.message)) return 'sni';
  if (/client certificate/.test(error.message)) return 'clientCert';
  if (/closed/.test(error.message)) return 'closed';
  return 'protocol';
}

export class StatsAdapter<C extends TWSocketClient> implements AdminTarget {
  private readonly started = Date.now();
  private readonly perListener = new Map<number, TrafficCounters>();
  private readonly connectedAt = new Map<C, number>();
  private readonly lastRecheck = new Map<string, { at: string; ok: boolean; error?: string }>();
  private bgExceptions = 0;

  constructor(readonly server: TWSocketServer<C>) {
    server.on('clientConnect', (client) => {
      this.connectedAt.set(client, Date.now());
      const c = this.counters(client.multiListenIndex);
      c.admitted++;
      if (client.sslEnabled) c.handshakesDone++;
      let now = 0;
      for (const other of server.clients) if (other.multiListenIndex === client.multiListenIndex) now++;
      c.clientsPeak = Math.max(c.clientsPeak, now);
    });
    server.on('clientDisconnect', (client) => {
      const c = this.counters(client.multiListenIndex);
      c.bytesIn += client.bytesReceived;
      c.bytesOut += client.bytesSent;
      this.connectedAt.delete(client);
    });
    server.on('tooBusy', (info) => this.counters(info.multiListenIndex).refused.maxClients++);
    server.on('sslHandshakeError', (failure) => {
      const failed = this.counters(failure.multiListenIndex).handshakesFailed;
      const reason = failureReason(failure.error);
      failed[reason] = (failed[reason] ?? 0) + 1;
    });
    server.on('bgException', () => this.bgExceptions++);
  }

  private counters(index: number): TrafficCounters {
    let c = this.perListener.get(index);
    if (!c) this.perListener.set(index, (c = counters()));
    return c;
  }

  stats(request: StatsRequest = {}): ServerStats {
    const now = Date.now();
    const clients = this.server.clients;
    const listeners: ListenerStats[] = this.server.listenSockets.map((listener) => {
      const status = listener.status;
      const c = { ...this.counters(status.index) };
      c.refused = { ...c.refused };
      c.handshakesFailed = { ...c.handshakesFailed };
      for (const client of clients) {
        if (client.multiListenIndex !== status.index) continue;
        c.clientsNow++;
        c.bytesIn += client.bytesReceived;
        c.bytesOut += client.bytesSent;
        c.bytesQueued += client.bufferedBytes;
      }
      c.clientsPeak = Math.max(c.clientsPeak, c.clientsNow);
      c.accepted = c.admitted + sum(c.refused) + sum(c.handshakesFailed);
      const row: ListenerStats = { ...c, index: status.index, url: listener.url, state: status.state, tls: status.tls };
      if (status.lastError) row.lastError = status.lastError;
      return row;
    });
    const totals = counters();
    for (const l of listeners) {
      for (const key of ['accepted', 'admitted', 'handshakesDone', 'clientsNow', 'bytesIn', 'bytesOut', 'bytesQueued', 'idleTimeouts', 'lineTimeouts', 'aborts'] as const) {
        totals[key] += l[key];
      }
      totals.clientsPeak += l.clientsPeak;
      addInto(totals.refused, l.refused);
      addInto(totals.handshakesFailed, l.handshakesFailed);
    }
    totals.bgExceptions = this.bgExceptions;
    const hosts: HostStats[] = this.server.validateHosts().hosts.map((report) => {
      const row: HostStats = {
        hostTag: report.hostTag,
        hostNames: [...report.hostNames],
        connections: clients.filter((c) => c.hostTag === report.hostTag).length,
      };
      if (report.certificate) {
        row.certSubject = report.certificate.names[0];
        row.certNotAfter = report.certificate.notAfter;
        row.certDaysLeft = report.certificate.daysLeft;
      }
      const recheck = this.lastRecheck.get(report.hostTag);
      if (recheck) row.lastRecheck = recheck;
      return row;
    });
    const limit = request.maxClients ?? clients.length;
    const rows: ClientStats[] = clients.slice(0, limit).map((client) => {
      const since = now - (this.connectedAt.get(client) ?? now);
      return {
        cliId: client.cliId,
        peerAddr: client.peerAddr,
        peerPort: client.peerPort,
        listener: client.multiListenIndex,
        hostTag: client.hostTag,
        bytesIn: client.bytesReceived,
        bytesOut: client.bytesSent,
        queued: client.bufferedBytes,
        idleMs: since,
        connectedMs: since,
      };
    });
    return {
      at: new Date(now).toISOString(),
      uptimeMs: now - this.started,
      state: this.server.state,
      totals,
      listeners,
      hosts,
      clients: rows,
      clientsOmitted: clients.length - rows.length,
    };
  }

  async disconnectClient(cliId: number): Promise<boolean> {
    const client = this.server.clients.find((c) => c.cliId === cliId);
    if (!client) return false;
    this.counters(client.multiListenIndex).aborts++;
    await this.server.disconnect(client);
    return true;
  }

  closeListener(index: number): void {
    this.server.closeListenSocket(index);
  }

  openListener(index: number): Promise<void> {
    return this.server.openListenSocket(index);
  }

  recheckCerts(): RecheckOutcome {
    const result = this.server.recheckSslCerts();
    const at = new Date().toISOString();
    for (const tag of result.reloaded) this.lastRecheck.set(tag, { at, ok: true });
    for (const f of result.failed) this.lastRecheck.set(f.hostTag, { at, ok: false, error: f.error.message });
    return { reloaded: result.reloaded, failed: result.failed.map((f) => ({ hostTag: f.hostTag, error: f.error.message })) };
  }
}

function sum(record: Record<string, number>): number {
  let total = 0;
  for (const key of Object.keys(record)) total += record[key];
  return total;
}

function addInto(into: Record<string, number>, from: Record<string, number>): void {
  for (const key of Object.keys(from)) into[key] = (into[key] ?? 0) + from[key];
}
