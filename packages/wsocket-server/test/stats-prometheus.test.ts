/**
 * The Prometheus view of a ServerStats: our text writer and the prom-client
 * collector, each parsed back with a real parser (parse-prometheus-text-format)
 * and compared figure by figure with the snapshot they came from.
 */
import { OpenMetricsContentType, Registry } from 'prom-client';
import { METRIC_NAMES, metricFamilies } from '../src/stats/metric-families';
import { registerStatsCollector } from '../src/stats/prom-collector';
import { writePrometheusText } from '../src/stats/prom-text';
import type { ServerStats, TrafficCounters } from '../src/stats/stats-types';
import { EchoClient, Peer, connectClient, startServer } from './helpers';

interface ParsedFamily {
  name: string;
  help: string;
  type: string;
  metrics: { value: string; labels?: Record<string, string> }[];
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const parsePrometheus: (text: string) => ParsedFamily[] = require('parse-prometheus-text-format');

function counters(seed: number): TrafficCounters {
  return {
    accepted: 100 + seed,
    admitted: 90 + seed,
    refused: { deny: 1 + seed, perIp: 2, maxClients: 3, proxy: 0 },
    handshakesDone: 50 + seed,
    handshakesFailed: { timeout: 4, sni: 5 + seed },
    clientsNow: 7 + seed,
    clientsPeak: 12 + seed,
    bytesIn: 123_456_789_012 + seed,
    bytesOut: 98_765 + seed,
    bytesQueued: 4096,
    idleTimeouts: 6,
    lineTimeouts: 8,
    aborts: 9,
    bgExceptions: 10,
  };
}

/** A snapshot with label values a configuration could hold: quotes, backslashes, line feeds, non-ASCII. */
function literalSnapshot(): ServerStats {
  return {
    at: '2026-12-02T06:30:00.000Z',
    uptimeMs: 3_723_500,
    state: 'listening',
    totals: counters(0),
    listeners: [
      { ...counters(1), index: -1, url: 'tcp://127.0.0.1:2300', state: 'listening', tls: false },
      { ...counters(2), index: 0, url: 'tls://[::1]:8443', state: 'failed', tls: true, lastError: 'listen EADDRINUSE' },
    ],
    hosts: [
      { hostTag: 'main "site"', hostNames: ['example.com'], connections: 3, certSubject: 'example.com', certNotAfter: '2027-01-01T00:00:00.000Z', certDaysLeft: 30, lastRecheck: { at: '2026-12-02T06:00:00.000Z', ok: true } },
      { hostTag: 'back\\slash\nnewline é', hostNames: ['b.example'], connections: 0, lastRecheck: { at: '2026-12-02T06:10:00.000Z', ok: false, error: 'ENOENT' } },
      { hostTag: 'plain', hostNames: ['p.example'], connections: 1 },
    ],
    clients: [],
    clientsOmitted: 0,
  };
}

function byName(parsed: ParsedFamily[]): Map<string, ParsedFamily> {
  return new Map(parsed.map((f) => [f.name, f]));
}

function value(family: ParsedFamily | undefined, labels: Record<string, string> = {}): number {
  if (!family) throw new Error('no such family');
  const wanted = JSON.stringify(Object.entries(labels).sort());
  const hits = family.metrics.filter((m) => JSON.stringify(Object.entries(m.labels ?? {}).sort()) === wanted);
  if (hits.length !== 1) throw new Error(`${family.name}${JSON.stringify(labels)}: ${hits.length} samples`);
  return Number(hits[0].value);
}

/** Every figure of the snapshot, read back from the parsed text. */
function expectMatches(parsed: ParsedFamily[], stats: ServerStats): void {
  const f = byName(parsed);
  expect([...f.keys()]).toEqual([...METRIC_NAMES]);
  for (const family of parsed) {
    expect(family.type).toBe(family.name.endsWith('_total') ? 'COUNTER' : 'GAUGE');
    expect(family.help.length).toBeGreaterThan(5);
  }
  expect(value(f.get('ics_ts_up'))).toBe(stats.state === 'listening' ? 1 : 0);
  expect(value(f.get('ics_ts_start_time_seconds')) * 1000).toBeCloseTo(Date.parse(stats.at) - stats.uptimeMs, 0);
  const traffic = (prefix: string, c: TrafficCounters, labels: Record<string, string>): void => {
    expect(value(f.get(`${prefix}connections_accepted_total`), labels)).toBe(c.accepted);
    expect(value(f.get(`${prefix}connections_admitted_total`), labels)).toBe(c.admitted);
    for (const [reason, n] of Object.entries(c.refused)) expect(value(f.get(`${prefix}connections_refused_total`), { ...labels, reason })).toBe(n);
    for (const [reason, n] of Object.entries(c.handshakesFailed)) expect(value(f.get(`${prefix}tls_handshakes_failed_total`), { ...labels, reason })).toBe(n);
    expect(value(f.get(`${prefix}tls_handshakes_total`), labels)).toBe(c.handshakesDone);
    expect(value(f.get(`${prefix}clients`), labels)).toBe(c.clientsNow);
    expect(value(f.get(`${prefix}clients_peak`), labels)).toBe(c.clientsPeak);
    expect(value(f.get(`${prefix}received_bytes_total`), labels)).toBe(c.bytesIn);
    expect(value(f.get(`${prefix}sent_bytes_total`), labels)).toBe(c.bytesOut);
    expect(value(f.get(`${prefix}queued_bytes`), labels)).toBe(c.bytesQueued);
    expect(value(f.get(`${prefix}idle_timeouts_total`), labels)).toBe(c.idleTimeouts);
    expect(value(f.get(`${prefix}line_timeouts_total`), labels)).toBe(c.lineTimeouts);
    expect(value(f.get(`${prefix}aborts_total`), labels)).toBe(c.aborts);
    expect(value(f.get(`${prefix}bg_exceptions_total`), labels)).toBe(c.bgExceptions);
  };
  traffic('ics_ts_', stats.totals, {});
  expect(f.get('ics_ts_connections_refused_total')!.metrics).toHaveLength(Object.keys(stats.totals.refused).length);
  for (const l of stats.listeners) {
    const labels = { listener: String(l.index) };
    traffic('ics_ts_listener_', l, labels);
    expect(value(f.get('ics_ts_listener_info'), { ...labels, url: l.url, tls: String(l.tls) })).toBe(1);
    expect(value(f.get('ics_ts_listener_up'), labels)).toBe(l.state === 'listening' ? 1 : 0);
  }
  expect(f.get('ics_ts_listener_up')!.metrics).toHaveLength(stats.listeners.length);
  for (const h of stats.hosts) {
    const labels = { host: h.hostTag };
    expect(value(f.get('ics_ts_host_clients'), labels)).toBe(h.connections);
    if (h.certNotAfter) expect(value(f.get('ics_ts_host_cert_expiry_timestamp_seconds'), labels)).toBe(Date.parse(h.certNotAfter) / 1000);
    if (h.lastRecheck) {
      expect(value(f.get('ics_ts_host_cert_last_recheck_timestamp_seconds'), labels)).toBe(Date.parse(h.lastRecheck.at) / 1000);
      expect(value(f.get('ics_ts_host_cert_last_recheck_success'), labels)).toBe(h.lastRecheck.ok ? 1 : 0);
    }
  }
  expect(f.get('ics_ts_host_cert_expiry_timestamp_seconds')!.metrics).toHaveLength(stats.hosts.filter((h) => h.certNotAfter).length);
}

describe('Prometheus text', () => {
  test('every figure of a snapshot parses back, hostile label values escaped', () => {
    const stats = literalSnapshot();
    const text = writePrometheusText(metricFamilies(stats));
    expectMatches(parsePrometheus(text), stats);
    // One sample per line: a line feed in a host tag did not start a new line.
    expect(text.split('\n').filter((line) => line.startsWith('ics_ts_host_clients{'))).toHaveLength(3);
  });

  test('names follow the conventions: one prefix, snake case, units, _total only on counters', () => {
    for (const family of metricFamilies(literalSnapshot())) {
      expect(family.name).toMatch(/^ics_ts_[a-z][a-z_]*[a-z]$/);
      expect(family.name.endsWith('_total')).toBe(family.type === 'counter');
      if (/bytes/.test(family.name)) expect(family.name).toMatch(/_bytes(_total)?$/);
      if (/timestamp|start_time/.test(family.name)) expect(family.name).toMatch(/_seconds$/);
    }
  });

  test('a closed server with no listener, host or traffic still exposes every family', () => {
    const stats = literalSnapshot();
    stats.state = 'closed';
    stats.listeners = [];
    stats.hosts = [];
    stats.totals = { ...counters(0), refused: {}, handshakesFailed: {} };
    const parsed = parsePrometheus(writePrometheusText(metricFamilies(stats)));
    expectMatches(parsed, stats);
    expect(byName(parsed).get('ics_ts_listener_up')!.metrics).toEqual([]);
  });

  test('a real server with traffic: the snapshot and its text agree', async () => {
    const server = await startServer({ banner: 'hello', maxClients: 2, clientClass: EchoClient, multiListenSockets: [{ addr: '127.0.0.1', port: 0 }] });
    const a = await connectClient(server);
    expect(await a.peer.nextLine()).toBe('hello');
    expect(await a.peer.ask('some bytes')).toBe('echo some bytes');
    const b = await connectClient(server, '127.0.0.1', {}, server.listenSockets[1].bindPort);
    expect(await b.peer.nextLine()).toBe('hello');
    const refused = await Peer.connect(server.bindPort);
    expect(await refused.nextLine()).toBe('Sorry, too many clients');
    await refused.closed;

    const stats = server.stats();
    expect(stats.totals.clientsNow).toBe(2);
    expect(stats.totals.refused.maxClients).toBe(1);
    const parsed = parsePrometheus(writePrometheusText(metricFamilies(stats)));
    expectMatches(parsed, stats);
    const f = byName(parsed);
    expect(value(f.get('ics_ts_listener_clients'), { listener: '-1' })).toBe(1);
    expect(value(f.get('ics_ts_listener_clients'), { listener: '0' })).toBe(1);
    expect(value(f.get('ics_ts_listener_connections_refused_total'), { listener: '-1', reason: 'maxClients' })).toBe(1);
    expect(value(f.get('ics_ts_received_bytes_total'))).toBeGreaterThanOrEqual(12);
  });
});

describe('prom-client collector', () => {
  test("a prom-client Registry renders the same figures as our writer, from one snapshot per scrape", async () => {
    const stats = literalSnapshot();
    let calls = 0;
    const registry = new Registry();
    registerStatsCollector(registry, {
      stats: (request) => {
        calls++;
        expect(request).toEqual({ maxClients: 0 });
        return stats;
      },
    });
    const text = await registry.metrics();
    expect(calls).toBe(1);
    expectMatches(parsePrometheus(text), stats);
    expect(parsePrometheus(text)).toEqual(parsePrometheus(writePrometheusText(metricFamilies(stats))));
    await registry.metrics();
    expect(calls).toBe(2); // a fresh snapshot for the next scrape
    const json = await registry.getMetricsAsJSON();
    expect(json.map((m) => m.name)).toEqual([...METRIC_NAMES]);
  });

  test("beside the user's own metrics, with default labels, and in OpenMetrics", async () => {
    const stats = literalSnapshot();
    // (prom-client's typings omit the constructor argument: the setter does the same)
    const registry = new Registry<OpenMetricsContentType>();
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    registry.setDefaultLabels({ instance_name: 'edge-1' });
    registerStatsCollector(registry, { stats: () => stats });
    const text = await registry.metrics();
    expect(text.endsWith('# EOF\n')).toBe(true);
    expect(text).toContain(`ics_ts_connections_accepted_total{instance_name="edge-1"} ${stats.totals.accepted}`);
    expect(text).not.toContain('_total_total');
    expect(text).toContain('# TYPE ics_ts_connections_accepted counter');
    // A second scrape: prom-client renamed the metric objects in place; the figures still come.
    expect(await registry.metrics()).toContain(`ics_ts_aborts_total{instance_name="edge-1"} ${stats.totals.aborts}`);
  });

  test('a taken name fails the registration whole; unregister removes every family', async () => {
    const registry = new Registry();
    const source = { stats: () => literalSnapshot() };
    const first = registerStatsCollector(registry, source);
    expect(() => registerStatsCollector(registry, source)).toThrow(/already been registered/);
    first.unregister();
    expect(registry.getMetricsAsArray()).toHaveLength(0);
    const other = new Registry();
    other.registerMetric({ name: 'ics_ts_host_clients', get: async () => ({}) } as never);
    expect(() => registerStatsCollector(other, source)).toThrow(/ics_ts_host_clients/);
    expect(other.getMetricsAsArray().map((m) => m.name)).toEqual(['ics_ts_host_clients']);
    registry.resetMetrics(); // a reset does not reach the server's counters
  });

  test('bad arguments name what was wrong', () => {
    expect(() => registerStatsCollector({} as never, { stats: () => literalSnapshot() })).toThrow(TypeError);
    expect(() => registerStatsCollector(new Registry(), {} as never)).toThrow(/stats\(\)/);
  });
});

