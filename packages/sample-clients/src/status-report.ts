import type { ServerStats } from '@ics-ts/wsocket-server';

/**
 * What `ics-ts-server --status` and `--stats-interval` print from a
 * ServerStats snapshot: a table a person reads in a terminal, and a one-line
 * summary for a log.
 */

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** "maxClients 2, deny 1": the reasons that moved, largest first; "none" when none did. */
function reasons(record: Record<string, number>): string {
  const moved = Object.entries(record)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
  return moved.length === 0 ? 'none' : moved.map(([reason, n]) => `${reason} ${n}`).join(', ');
}

function total(record: Record<string, number>): number {
  return Object.values(record).reduce((a, b) => a + b, 0);
}

/** Columns padded to their widest cell; columns named in `right` aligned right. */
function table(head: string[], rows: string[][], right: ReadonlySet<number>): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (right.has(i) ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)].map((l) => `  ${l}`);
}

const peer = (addr: string, port: number) => (addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`);

/** The snapshot as a terminal table. */
export function formatStatus(stats: ServerStats): string {
  const t = stats.totals;
  const out: string[] = [
    `server ${stats.state}, up ${formatDuration(stats.uptimeMs)}, at ${stats.at}`,
    `clients ${t.clientsNow} (peak ${t.clientsPeak}), accepted ${t.accepted}, admitted ${t.admitted}, ` +
      `in ${formatBytes(t.bytesIn)}, out ${formatBytes(t.bytesOut)}, queued ${formatBytes(t.bytesQueued)}`,
    `refused ${total(t.refused)}: ${reasons(t.refused)}`,
    `TLS handshakes ${t.handshakesDone} done, ${total(t.handshakesFailed)} failed: ${reasons(t.handshakesFailed)}`,
    `aborts ${t.aborts}, idle timeouts ${t.idleTimeouts}, line timeouts ${t.lineTimeouts}, exceptions ${t.bgExceptions}`,
    ...serviceLines(stats),
    '',
    'listeners:',
    ...table(
      ['#', 'url', 'state', 'clients', 'accepted', 'refused', 'in', 'out', 'last error'],
      stats.listeners.map((l) => [
        l.index < 0 ? 'main' : String(l.index),
        l.url,
        l.state,
        String(l.clientsNow),
        String(l.accepted),
        String(total(l.refused) + total(l.handshakesFailed)),
        formatBytes(l.bytesIn),
        formatBytes(l.bytesOut),
        l.lastError ?? '',
      ]),
      new Set([3, 4, 5, 6, 7]),
    ),
  ];
  if (stats.hosts.length > 0) {
    out.push(
      '',
      'hosts:',
      ...table(
        ['host', 'names', 'clients', 'certificate', 'expires', 'days left', 'last recheck'],
        stats.hosts.map((h) => [
          h.hostTag,
          h.hostNames.join(', '),
          String(h.connections),
          h.certSubject ?? '',
          h.certNotAfter?.slice(0, 10) ?? '',
          h.certDaysLeft === undefined ? '' : `${h.certDaysLeft}${h.certDaysLeft <= 14 ? ' (soon)' : ''}`,
          h.lastRecheck ? `${h.lastRecheck.at} ${h.lastRecheck.ok ? 'ok' : `failed: ${h.lastRecheck.error ?? ''}`}` : '',
        ]),
        new Set([2, 5]),
      ),
    );
  }
  out.push('', `clients${stats.clientsOmitted > 0 ? ` (first ${stats.clients.length}, ${stats.clientsOmitted} more)` : ''}:`);
  if (stats.clients.length === 0) out.push('  none');
  else {
    out.push(
      ...table(
        ['id', 'peer', 'listener', 'host', 'in', 'out', 'queued', 'idle', 'connected'],
        stats.clients.map((c) => [
          String(c.cliId),
          peer(c.peerAddr, c.peerPort),
          c.listener < 0 ? 'main' : String(c.listener),
          c.hostTag || '-',
          formatBytes(c.bytesIn),
          formatBytes(c.bytesOut),
          formatBytes(c.queued),
          formatDuration(c.idleMs),
          formatDuration(c.connectedMs),
        ]),
        new Set([0, 4, 5, 6, 7, 8]),
      ),
    );
  }
  return out.join('\n');
}

/** The service this server is a node of, when it shares one (a cluster or Redis bus). */
function serviceLines(stats: ServerStats): string[] {
  const service = stats.service;
  if (!service || service.status === 'local') return [];
  const down = service.status === 'down' ? ` (serving alone: ${service.lastError || 'unreachable'})` : '';
  return [
    `service: ${service.kind} bus ${service.status}${down}, node ${service.nodeId}, ${service.serviceClients} clients in the service, ` +
      `outages ${service.outages}, slot timeouts ${service.slotTimeouts}`,
  ];
}

/** One line for a log: the figures that tell whether all is well. */
export function statsLine(stats: ServerStats): string {
  const t = stats.totals;
  return (
    `stats: clients ${t.clientsNow} (peak ${t.clientsPeak}), accepted ${t.accepted}, ` +
    `refused ${total(t.refused)} (${reasons(t.refused)}), tls failed ${total(t.handshakesFailed)}, ` +
    `in ${formatBytes(t.bytesIn)}, out ${formatBytes(t.bytesOut)}, queued ${formatBytes(t.bytesQueued)}, ` +
    `aborts ${t.aborts}, exceptions ${t.bgExceptions}` +
    (stats.service && stats.service.status !== 'local' ? `, service ${stats.service.status} (${stats.service.serviceClients} clients)` : '')
  );
}
