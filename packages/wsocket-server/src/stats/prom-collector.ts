import { METRIC_NAMES, MetricFamily, MetricType, metricFamilies } from './metric-families';
import type { ServerStats, StatsRequest } from './stats-types';
import { ICS_ERR, icsError } from '@ics-ts/wsocket';

/** Whatever can take a snapshot: a TWSocketServer, or an adapter over one. */
export interface StatsSource {
  stats(request?: StatsRequest): ServerStats;
}

/** A family as prom-client's Registry reads it from `metric.get()`. */
export interface PromClientMetricValue {
  name: string;
  help: string;
  type: MetricType;
  values: { labels: Record<string, string>; value: number }[];
  aggregator: 'sum' | 'max' | 'min';
}

/**
 * What prom-client's Registry needs of a metric: `registerMetric()` keys it by
 * `name`, `metrics()` and `getMetricsAsJSON()` call `get()`, `resetMetrics()`
 * calls `reset()`. Checked against prom-client 15 (registry.js) by the tests.
 */
export interface PromClientMetric {
  /** prom-client's OpenMetrics output renames counters in place (drops `_total`, then adds it to each sample). */
  name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly aggregator: 'sum' | 'max' | 'min';
  get(): Promise<PromClientMetricValue>;
  reset(): void;
}

/** The part of a prom-client Registry (or anything shaped like it) the collector uses. */
export interface PromClientRegistry {
  /** prom-client types its parameter as its own Metric classes; ours are shaped like them at run time (see PromClientMetric). */
  registerMetric(metric: never): void;
  removeSingleMetric(name: string): void;
}

/** Figures that must not be summed across cluster workers. */
const AGGREGATORS: Record<string, 'max' | 'min'> = {
  ics_ts_start_time_seconds: 'min',
  ics_ts_clients_peak: 'max',
  ics_ts_listener_clients_peak: 'max',
  ics_ts_up: 'max',
  ics_ts_listener_up: 'max',
  ics_ts_listener_info: 'max',
  ics_ts_host_cert_expiry_timestamp_seconds: 'min',
};

/**
 * Scrapes read one snapshot for all families: prom-client calls every
 * metric's get() in one synchronous loop, so the snapshot taken by the first
 * call is kept until the microtasks of that loop have run.
 */
class SharedSnapshot {
  private families: Map<string, MetricFamily> | undefined;

  constructor(private readonly source: StatsSource) {}

  family(name: string): MetricFamily | undefined {
    if (!this.families) {
      // Clients are never exported (cardinality): ask for none.
      const list = metricFamilies(this.source.stats({ maxClients: 0 }));
      this.families = new Map(list.map((f) => [f.name, f]));
      queueMicrotask(() => {
        this.families = undefined;
      });
    }
    return this.families.get(name);
  }
}

const HELP: Map<string, { help: string; type: MetricType }> = new Map(
  metricFamilies(emptyStats()).map((f) => [f.name, { help: f.help, type: f.type }]),
);

function emptyStats(): ServerStats {
  const counters = {
    accepted: 0, admitted: 0, refused: {}, handshakesDone: 0, handshakesFailed: {}, clientsNow: 0, clientsPeak: 0,
    bytesIn: 0, bytesOut: 0, bytesQueued: 0, idleTimeouts: 0, lineTimeouts: 0, aborts: 0, bgExceptions: 0,
  };
  return { at: new Date(0).toISOString(), uptimeMs: 0, state: 'closed', totals: counters, listeners: [], hosts: [], clients: [], clientsOmitted: 0 };
}

/**
 * A prom-client custom collector for a server: one metric object per family
 * (the names of METRIC_NAMES), each reading a fresh snapshot at scrape time.
 * No prom-client import: the user's own prom-client (any 15.x) registry
 * takes these objects, so its version is theirs and servers without
 * metrics load nothing.
 *
 * ```ts
 * import { register } from 'prom-client';
 * const collector = registerStatsCollector(register, server);
 * // later: collector.unregister();
 * ```
 */
export function registerStatsCollector(registry: PromClientRegistry, source: StatsSource): { names: readonly string[]; unregister(): void } {
  if (typeof registry?.registerMetric !== 'function' || typeof registry.removeSingleMetric !== 'function') {
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION, 'registerStatsCollector: registry must be a prom-client Registry (registerMetric, removeSingleMetric)');
  }
  if (typeof source?.stats !== 'function') throw icsError(TypeError, ICS_ERR.INVALID_OPTION, 'registerStatsCollector: source must have a stats() method');
  const snapshot = new SharedSnapshot(source);
  const registered: string[] = [];
  try {
    for (const name of METRIC_NAMES) {
      const { help, type } = HELP.get(name)!;
      const aggregator = AGGREGATORS[name] ?? 'sum';
      const metric: PromClientMetric = {
        name,
        help,
        type,
        aggregator,
        async get(): Promise<PromClientMetricValue> {
          const family = snapshot.family(name);
          return { name: this.name, help, type, aggregator, values: family ? family.samples : [] };
        },
        reset(): void {
          // The figures are the server's own counters: a registry reset cannot and should not zero them.
        },
      };
      registry.registerMetric(metric as never);
      registered.push(name);
    }
  } catch (error) {
    for (const name of registered) registry.removeSingleMetric(name);
    throw error;
  }
  return {
    names: registered,
    unregister(): void {
      for (const name of registered) registry.removeSingleMetric(name);
    },
  };
}
