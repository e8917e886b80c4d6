'use strict';
/**
 * scale: one ics-ts server with workers holding 100,000 idle connections (and
 * 10,000 TLS ones), beside what a single raw Node process holds: its limit
 * here is its descriptor limit, 20,000 (`ulimit -n`, which cannot be raised).
 *
 *  ics-ts:     8 workers run by @ics-ts/cluster's runWorkers() (round-robin hand-over by
 *              the primary; lib/scale-cluster.js), each a TWSocketServer with a ClusterBus
 *              (service-wide client slots) whose client class answers a line; 100,000 connections.
 *  net:        one net.Server process holding as many as fit under its limit: 19,000.
 *  ics-ts-tls: the same workers with sslEnable; 10,000 TLS connections.
 *  tls:        one tls.Server process holding 10,000 TLS connections.
 * Ablation servers (only with --impls): ics-ts-nobus, the ics-ts workers without
 * the ClusterBus (each worker its own slots): what the service-wide slots cost;
 * net-cluster, the raw net.Server in the same 8 workers: what Node's cluster
 * (the primary's round-robin hand-over) costs without ics-ts.
 *
 * Load: several generator processes (each <= 15,000 sockets), each binding its
 * own 127.0.x.y source addresses (lib/scale-load.js). A round: warm up (open
 * and close a few per worker, so one-time costs are not charged to the
 * connections), memory before, open them all (a connection is open once the
 * server's banner arrived, 500 waiting at a time per generator), memory after,
 * then every connection sends a line and must get it back.
 *
 * Figures: the server's RSS per connection (VmRSS of every server process
 * summed, after full collections, minus the same before; the cluster primary,
 * which holds no connection but with the bus holds the service's slots, is
 * reported apart), the time to open them all and the server's CPU per
 * connection opened (all its processes, from /proc), and how many answered.
 * A round fails unless every connection is held and answered.
 * Not in the default list of `pnpm bench` (about 100,000 descriptors, a few
 * minutes): run it by name. `--smoke` runs it with a few hundred connections.
 */
const { Child } = require('../lib/proc');
const { sleep } = require('../lib/child');
const { startCluster } = require('../lib/scale-cluster');
const { startRawServer } = require('../lib/scale-raw-server');
const { cpuMs, cpuMsOf } = require('../lib/proc-stat');
const { foreignMeter } = require('../lib/sysload');
const { makeScaleLoad } = require('../lib/scale-load');

const BANNER = 'served';
const BACKLOG = 4096; // net.core.somaxconn here; at most generators x concurrency connections wait
const YOUNG_CAP = ['--max-semi-space-size=1']; // as the idle benchmarks (lib/idle-kit.js): capacity is not connections' memory

const metrics = [
  { key: 'held', label: 'connections held', unit: 'count', higher: true, info: true },
  { key: 'processes', label: 'server processes holding them', unit: 'count', higher: false, info: true },
  { key: 'rssPerConn', label: 'server RSS per connection', unit: 'B', higher: false, info: true },
  { key: 'primaryRssPerConn', label: 'cluster primary RSS per connection', unit: 'B', higher: false, info: true },
  { key: 'heapPerConn', label: 'server V8 heap per connection', unit: 'B', higher: false, info: true },
  { key: 'openSeconds', label: 'time to open them all', unit: 's', higher: false, info: true },
  { key: 'openRate', label: 'opened per second', unit: '/s', higher: true, info: true },
  { key: 'serverCpuPerOpen', label: 'server CPU per connection opened', unit: 'µs', higher: false, info: true },
  { key: 'primaryCpuPerOpen', label: 'of which the cluster primary', unit: 'µs', higher: false, info: true },
  { key: 'othersCpuPct', label: "other processes' CPU while opening", unit: '% of a core', higher: false, info: true },
  { key: 'answered', label: 'answered a line afterwards', unit: 'count', higher: true, info: true },
  { key: 'serviceClients', label: 'service-wide clientCount (ClusterBus)', unit: 'count', higher: true, info: true },
  { key: 'askSeconds', label: 'time for every one to answer', unit: 's', higher: false, info: true },
  { key: 'serverRssMiB', label: 'server RSS, all processes', unit: 'MiB', higher: false, info: true },
];

module.exports = {
  name: 'scale',
  title: '100,000 idle connections on one ics-ts server with workers; 10,000 TLS',
  what: '100,000 idle connections held by one ics-ts server with 8 workers (and 10,000 TLS): RSS per connection, time to open, all still answering',
  impls: ['ics-ts', 'net', 'ics-ts-tls', 'tls'],
  baselineText: 'one raw net.Server / tls.Server process, as many as its 20,000 descriptors allow (19,000) / the same 10,000 TLS',
  rounds: 1,
  params: {
    full: {
      servers: {
        'ics-ts': { count: 100000, workers: 8, warm: 2000 },
        'ics-ts-nobus': { count: 100000, workers: 8, warm: 2000 },
        'net-cluster': { count: 100000, workers: 8, warm: 2000 },
        net: { count: 19000, warm: 1000 },
        'ics-ts-tls': { count: 10000, workers: 8, warm: 400 },
        tls: { count: 10000, warm: 400 },
      },
      perGenerator: 15000,
      concurrency: 500,
      tlsConcurrency: 100,
    },
    smoke: {
      servers: {
        'ics-ts': { count: 600, workers: 2, warm: 40 },
        'ics-ts-nobus': { count: 600, workers: 2, warm: 40 },
        'net-cluster': { count: 600, workers: 2, warm: 40 },
        net: { count: 400, warm: 20 },
        'ics-ts-tls': { count: 200, workers: 2, warm: 20 },
        tls: { count: 200, warm: 20 },
      },
      perGenerator: 300,
      concurrency: 50,
      tlsConcurrency: 20,
    },
  },
  metrics,
  hardMs: (p) => (p.servers['ics-ts'].count > 10000 ? 360000 : 60000),

  async round(ctx, impl, p) {
    const spec = p.servers[impl];
    const useTls = impl === 'ics-ts-tls' || impl === 'tls';
    const slow = ctx.hardMs - 10000; // every wait of the round ends before the children's hard limit
    const server = new Child(
      'server',
      ctx.bench,
      impl,
      { ...spec, tls: useTls, cert: ctx.cert.cert, key: ctx.cert.key, banner: BANNER, backlog: BACKLOG, hardMs: ctx.hardMs },
      { execArgv: ['--expose-gc', ...YOUNG_CAP] },
    );
    const generators = [];
    try {
      const ready = await server.waitFor('ready', 60000);
      const n = Math.max(2, Math.ceil(spec.count / p.perGenerator));
      for (let g = 0; g < n; g++) {
        const loadOpts = {
          host: '127.0.0.1',
          port: ready.port,
          tls: useTls,
          gen: g,
          count: share(spec.count, n, g),
          warm: share(spec.warm, n, g),
          concurrency: useTls ? p.tlsConcurrency : p.concurrency,
          hardMs: ctx.hardMs,
        };
        generators.push(new Child('load', ctx.bench, null, loadOpts, { execArgv: ['--max-old-space-size=4096'] }));
      }
      const control = (cmd) => Promise.all(generators.map((gen) => gen.call('control', cmd, slow)));

      const warmed = await control('warm');
      const warmOpen = sum(warmed, 'open');
      if (warmOpen !== spec.warm) throw new Error(`warm-up opened ${warmOpen} of ${spec.warm}: ${failureText(warmed)}`);
      await serverHolds(server, spec.warm, 30000);
      await control('unwarm');
      await serverHolds(server, 0, 30000);
      const before = await server.call('mem', undefined, 60000);

      const serverPids = [server.proc.pid, ...ready.info.workers];
      const loadPids = generators.map((gen) => gen.proc.pid);
      const serverCpu0 = cpuMsOf(serverPids);
      const primaryCpu0 = cpuMs(server.proc.pid);
      const loadCpu0 = cpuMsOf(loadPids);
      const others = foreignMeter();
      const t0 = Date.now();
      const opened = await control('open');
      const open = sum(opened, 'open');
      if (open !== spec.count) throw new Error(`opened ${open} of ${spec.count}: ${failureText(opened)}`);
      await serverHolds(server, spec.count, 30000);
      const openSeconds = (Date.now() - t0) / 1000;
      const serverCpuMs = cpuMsOf(serverPids) - serverCpu0;
      const primaryCpuMs = cpuMs(server.proc.pid) - primaryCpu0;
      const othersCpuPct = others.stop(serverCpuMs + cpuMsOf(loadPids) - loadCpu0);

      await sleep(200);
      const after = await server.call('mem', undefined, 120000);
      const held = (await server.call('stats')).clients;
      if (held !== spec.count) throw new Error(`the server held ${held} of ${spec.count} after the collections`);

      const t1 = Date.now();
      const asked = await control('ask');
      const askSeconds = (Date.now() - t1) / 1000;
      const answered = sum(asked, 'answered');
      if (answered !== spec.count) {
        throw new Error(`${answered} of ${spec.count} answered a line (${sum(asked, 'closedAfterOpen')} closed while held)`);
      }
      const stats = await server.call('stats');
      // The bus as the workers see it: the service-wide count should be every connection.
      const service = spec.workers ? await server.call('service') : undefined;
      return {
        held,
        processes: after.perProcessRss.length,
        rssPerConn: (after.rss - before.rss) / spec.count,
        heapPerConn: (after.heapUsed - before.heapUsed) / spec.count,
        openSeconds,
        openRate: spec.count / openSeconds,
        serverCpuPerOpen: (serverCpuMs * 1000) / spec.count,
        primaryCpuPerOpen: spec.workers ? (primaryCpuMs * 1000) / spec.count : undefined,
        othersCpuPct,
        answered,
        askSeconds,
        serverRssMiB: (after.rss + (after.primaryRss || 0)) / 2 ** 20,
        primaryRssMiB: after.primaryRss === undefined ? undefined : after.primaryRss / 2 ** 20,
        primaryRssPerConn: after.primaryRss === undefined ? undefined : (after.primaryRss - before.primaryRss) / spec.count,
        perProcessClients: stats.perProcess,
        perProcessRssMiB: after.perProcessRss.map((b) => b / 2 ** 20),
        generators: generators.length,
        ...(service ? { serviceClients: service.serviceClients, busDown: service.down, slotTimeouts: service.slotTimeouts, slotErrors: service.slotErrors } : {}),
        workers: spec.workers || 0,
      };
    } finally {
      // The server first: its side keeps the TIME_WAITs, not the generators' source ports.
      await server.stop(15000);
      await Promise.all(generators.map((gen) => gen.stop(15000)));
    }
  },

  server: {
    'ics-ts': (opts) => startCluster({ ...opts, bus: true, workerExecArgv: ['--expose-gc', ...YOUNG_CAP] }),
    net: (opts) => startRawServer(opts),
    'ics-ts-tls': (opts) => startCluster({ ...opts, bus: true, workerExecArgv: ['--expose-gc', ...YOUNG_CAP] }),
    // Ablation (--impls ics-ts-nobus): the same workers without the ClusterBus, what the bus costs.
    'ics-ts-nobus': (opts) => startCluster({ ...opts, bus: false, workerExecArgv: ['--expose-gc', ...YOUNG_CAP] }),
    // Ablation (--impls net-cluster): the raw net.Server in the same 8 workers, what Node's cluster costs without ics-ts.
    'net-cluster': (opts) => startCluster({ ...opts, bus: false, raw: true, workerExecArgv: ['--expose-gc', ...YOUNG_CAP] }),
    tls: (opts) => startRawServer(opts),
  },

  load: (opts) => makeScaleLoad(opts),
};

/** The g-th of n near-equal shares of total. */
function share(total, n, g) {
  return Math.floor(total / n) + (g < total % n ? 1 : 0);
}

function sum(replies, key) {
  return replies.reduce((total, r) => total + r[key], 0);
}

function failureText(replies) {
  const errors = sum(replies, 'errors');
  const first = replies.map((r) => r.firstError).find(Boolean);
  return `${errors} error(s)${first ? `, first: ${first}` : ''}`;
}

/** Waits (up to timeoutMs) until the server's processes hold exactly `count` connections together. */
async function serverHolds(server, count, timeoutMs) {
  const until = Date.now() + timeoutMs;
  let clients = -1;
  while (Date.now() < until) {
    ({ clients } = await server.call('stats'));
    if (clients === count) return;
    await sleep(20);
  }
  throw new Error(`the server holds ${clients} connections, not ${count}`);
}
