import type { ListenerStats, ServerStats, TrafficCounters } from './stats-types';

/**
 * The Prometheus view of a ServerStats snapshot, as plain data: one list of
 * families that both the text writer (prom-text.ts) and the prom-client
 * collector (prom-collector.ts) read, so the two never disagree on a name.
 *
 * Naming follows the Prometheus conventions: one prefix (`ics_ts_`), base
 * units in the name (`_bytes`, `_seconds`), `_total` on counters, labels
 * `listener`, `host`, `reason`. The whole server's figures carry no label;
 * each listener's are a separate `ics_ts_listener_*` family with a
 * `listener` label (haproxy_frontend_* beside haproxy_process_* is the same
 * cut), so summing a family never counts a connection twice. Clients are not
 * exported: one series per connection would be unbounded cardinality; the
 * admin listener's /stats lists them.
 */
export type MetricType = 'counter' | 'gauge';

export interface MetricSample {
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: MetricType;
  samples: MetricSample[];
}

export const METRIC_PREFIX = 'ics_ts_';

const NO_LABELS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** One traffic figure, named once for the server and once per listener. */
interface TrafficMetric {
  /** Name after the prefix (and after `listener_` for the per-listener family). */
  name: string;
  help: string;
  type: MetricType;
  /** Plain figure, or a by-reason record expanded into one sample per reason. */
  read(counters: TrafficCounters): number | Record<string, number>;
}

const TRAFFIC: readonly TrafficMetric[] = [
  { name: 'connections_accepted_total', type: 'counter', help: 'TCP connections accepted.', read: (c) => c.accepted },
  { name: 'connections_admitted_total', type: 'counter', help: 'Connections that became clients.', read: (c) => c.admitted },
  { name: 'connections_refused_total', type: 'counter', help: 'Connections turned away before they became clients, by reason.', read: (c) => c.refused },
  { name: 'tls_handshakes_total', type: 'counter', help: 'TLS handshakes completed.', read: (c) => c.handshakesDone },
  { name: 'tls_handshakes_failed_total', type: 'counter', help: 'TLS handshakes that failed, by reason.', read: (c) => c.handshakesFailed },
  { name: 'clients', type: 'gauge', help: 'Clients connected now.', read: (c) => c.clientsNow },
  { name: 'clients_peak', type: 'gauge', help: 'The most clients connected at once since the server started.', read: (c) => c.clientsPeak },
  { name: 'received_bytes_total', type: 'counter', help: 'Bytes received from peers (application bytes: after TLS decryption on TLS listeners).', read: (c) => c.bytesIn },
  { name: 'sent_bytes_total', type: 'counter', help: 'Bytes sent to peers (application bytes: before TLS encryption on TLS listeners).', read: (c) => c.bytesOut },
  { name: 'queued_bytes', type: 'gauge', help: 'Bytes sent by the application and not yet handed to the system, all peers.', read: (c) => c.bytesQueued },
  { name: 'idle_timeouts_total', type: 'counter', help: 'Clients closed for being silent too long.', read: (c) => c.idleTimeouts },
  { name: 'line_timeouts_total', type: 'counter', help: 'Clients closed because a line did not end in time.', read: (c) => c.lineTimeouts },
  { name: 'aborts_total', type: 'counter', help: 'Clients aborted (disconnect, admin, exception in client code, sendLimit).', read: (c) => c.aborts },
  { name: 'bg_exceptions_total', type: 'counter', help: 'Exceptions that escaped client code or event handlers.', read: (c) => c.bgExceptions },
];

/** Every family name this module can produce, in output order (for docs and tests). */
export const METRIC_NAMES: readonly string[] = [
  'ics_ts_up',
  'ics_ts_start_time_seconds',
  ...TRAFFIC.map((m) => METRIC_PREFIX + m.name),
  'ics_ts_listener_info',
  'ics_ts_listener_up',
  ...TRAFFIC.map((m) => `${METRIC_PREFIX}listener_${m.name}`),
  'ics_ts_host_clients',
  'ics_ts_host_cert_expiry_timestamp_seconds',
  'ics_ts_host_cert_last_recheck_timestamp_seconds',
  'ics_ts_host_cert_last_recheck_success',
  'ics_ts_service_up',
  'ics_ts_service_clients',
  'ics_ts_service_outages_total',
  'ics_ts_service_slots_waiting',
  'ics_ts_service_slot_timeouts_total',
];

function addTraffic(samples: MetricSample[], metric: TrafficMetric, counters: TrafficCounters, labels: Record<string, string>): void {
  const value = metric.read(counters);
  if (typeof value === 'number') {
    samples.push({ labels, value });
    return;
  }
  for (const reason of Object.keys(value)) samples.push({ labels: { ...labels, reason }, value: value[reason] });
}

function listenerLabel(listener: ListenerStats): Record<string, string> {
  return { listener: String(listener.index) };
}

function seconds(iso: string): number {
  return Date.parse(iso) / 1000;
}

/** The families for one snapshot, every family present (maybe with no sample), in METRIC_NAMES order. */
export function metricFamilies(stats: ServerStats): MetricFamily[] {
  const families: MetricFamily[] = [];
  const family = (name: string, type: MetricType, help: string, samples: MetricSample[]): void => {
    families.push({ name, type, help, samples });
  };

  family('ics_ts_up', 'gauge', '1 when the server is listening, else 0.', [{ labels: NO_LABELS, value: stats.state === 'listening' ? 1 : 0 }]);
  family('ics_ts_start_time_seconds', 'gauge', 'When the server started, in seconds since the Unix epoch.', [
    { labels: NO_LABELS, value: Math.round(Date.parse(stats.at) - stats.uptimeMs) / 1000 },
  ]);
  for (const metric of TRAFFIC) {
    const samples: MetricSample[] = [];
    addTraffic(samples, metric, stats.totals, NO_LABELS);
    family(METRIC_PREFIX + metric.name, metric.type, metric.help, samples);
  }

  family(
    'ics_ts_listener_info',
    'gauge',
    'A listener: its address and whether it serves TLS (value always 1).',
    stats.listeners.map((l) => ({ labels: { listener: String(l.index), url: l.url, tls: String(l.tls) }, value: 1 })),
  );
  family(
    'ics_ts_listener_up',
    'gauge',
    '1 when the listener is listening, else 0 (closed or failed).',
    stats.listeners.map((l) => ({ labels: listenerLabel(l), value: l.state === 'listening' ? 1 : 0 })),
  );
  for (const metric of TRAFFIC) {
    const samples: MetricSample[] = [];
    for (const listener of stats.listeners) addTraffic(samples, metric, listener, listenerLabel(listener));
    family(`${METRIC_PREFIX}listener_${metric.name}`, metric.type, `Per listener: ${metric.help[0].toLowerCase()}${metric.help.slice(1)}`, samples);
  }

  family(
    'ics_ts_host_clients',
    'gauge',
    'Clients a host serves now.',
    stats.hosts.map((h) => ({ labels: { host: h.hostTag }, value: h.connections })),
  );
  family(
    'ics_ts_host_cert_expiry_timestamp_seconds',
    'gauge',
    "When the host's certificate expires, in seconds since the Unix epoch.",
    stats.hosts.filter((h) => h.certNotAfter !== undefined).map((h) => ({ labels: { host: h.hostTag }, value: seconds(h.certNotAfter!) })),
  );
  family(
    'ics_ts_host_cert_last_recheck_timestamp_seconds',
    'gauge',
    "When the host's certificate files were last rechecked, in seconds since the Unix epoch.",
    stats.hosts.filter((h) => h.lastRecheck !== undefined).map((h) => ({ labels: { host: h.hostTag }, value: seconds(h.lastRecheck!.at) })),
  );
  family(
    'ics_ts_host_cert_last_recheck_success',
    'gauge',
    '1 when the last recheck of the certificate files loaded them (or found them unchanged), 0 when it failed.',
    stats.hosts.filter((h) => h.lastRecheck !== undefined).map((h) => ({ labels: { host: h.hostTag }, value: h.lastRecheck!.ok ? 1 : 0 })),
  );

  // The service (options.bus): labelled with the bus kind, so a dashboard tells a Redis outage from a lone server.
  const service = stats.service;
  const busLabels = service ? { bus: service.kind } : NO_LABELS;
  const one = (value: number | undefined): MetricSample[] => (value === undefined ? [] : [{ labels: busLabels, value }]);
  family('ics_ts_service_up', 'gauge', "1 when the service bus is shared and reachable, or local; 0 while it is down (serving this server's clients alone).", one(service && (service.status === 'down' ? 0 : 1)));
  family('ics_ts_service_clients', 'gauge', 'Clients across the service, as last counted through the bus.', one(service?.serviceClients));
  family('ics_ts_service_outages_total', 'counter', 'Times the service bus went down.', one(service?.outages));
  family('ics_ts_service_slots_waiting', 'gauge', "Connections waiting for the bus's service-wide slot verdict.", one(service?.slotsWaiting));
  family('ics_ts_service_slot_timeouts_total', 'counter', 'Connections admitted on local limits because the bus did not answer within serviceSlotTimeout.', one(service?.slotTimeouts));
  return families;
}
