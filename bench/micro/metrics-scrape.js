#!/usr/bin/env node
'use strict';
/**
 * What exposing the server's metrics costs, our text writer beside prom-client
 * (evidence for docs/operating.md: why prom-client is not a dependency; not
 * part of `pnpm bench`). Needs `pnpm build` (it loads packages/wsocket-server/dist).
 *
 *  scrape:  one /metrics body from a snapshot with L listeners and H hosts:
 *           writePrometheusText(metricFamilies(stats)), and prom-client's
 *           Registry.metrics() over registerStatsCollector (the same families);
 *  load:    the time to require prom-client in a fresh process, beside node alone;
 *  size:    prom-client and its dependencies on disk.
 *
 *   node bench/micro/metrics-scrape.js [--listeners 4] [--hosts 8] [--count 2000]
 */
const path = require('node:path');
const fs = require('node:fs');
const { execFileSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..', '..');
const server = require(path.join(ROOT, 'packages', 'wsocket-server'));
const promClientPath = require.resolve('prom-client', { paths: [ROOT] });
const { Registry } = require(promClientPath);

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const listeners = option('listeners', 4);
const hosts = option('hosts', 8);
const count = option('count', 2000);

function counters(seed) {
  return {
    accepted: 100000 + seed,
    admitted: 90000 + seed,
    refused: Object.fromEntries(server.REFUSAL_REASONS.map((r, i) => [r, i * seed])),
    handshakesDone: 50000,
    handshakesFailed: Object.fromEntries(server.HANDSHAKE_FAILURE_REASONS.map((r, i) => [r, i])),
    clientsNow: 700 + seed,
    clientsPeak: 1200,
    bytesIn: 123456789012,
    bytesOut: 98765432101,
    bytesQueued: 4096,
    idleTimeouts: 6,
    lineTimeouts: 8,
    aborts: 9,
    bgExceptions: 1,
  };
}
const stats = {
  at: new Date().toISOString(),
  uptimeMs: 3600000,
  state: 'listening',
  totals: counters(0),
  listeners: Array.from({ length: listeners }, (_, i) => ({ ...counters(i), index: i - 1, url: `tls://127.0.0.1:${8000 + i}`, state: 'listening', tls: true })),
  hosts: Array.from({ length: hosts }, (_, i) => ({
    hostTag: `host${i}`,
    hostNames: [`h${i}.example.com`],
    connections: i,
    certSubject: `h${i}.example.com`,
    certNotAfter: '2027-03-01T00:00:00.000Z',
    certDaysLeft: 89,
    lastRecheck: { at: new Date().toISOString(), ok: true },
  })),
  clients: [],
  clientsOmitted: 0,
};

function perCall(fn, n) {
  for (let i = 0; i < Math.min(200, n); i++) fn(); // warm-up
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - start) / n / 1000;
}

async function perCallAsync(fn, n) {
  for (let i = 0; i < Math.min(200, n); i++) await fn();
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn();
  return Number(process.hrtime.bigint() - start) / n / 1000;
}

function loadMs(code, runs = 7) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const out = execFileSync(process.execPath, ['-e', `const t=process.hrtime.bigint();${code};console.log(Number(process.hrtime.bigint()-t)/1e6)`], { cwd: ROOT });
    times.push(Number(out.toString()));
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(runs / 2)];
}

function dirSize(dir) {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    total += entry.isDirectory() ? dirSize(full) : fs.statSync(full).size;
  }
  return total;
}

/** prom-client's package directory and those of its dependencies, followed through pnpm's layout. */
function packageDirs(entry) {
  const seen = new Map();
  // Node's lookup by hand (some packages export no ./package.json): up from `from`, node_modules/<name>.
  const find = (name, from) => {
    for (let dir = from; ; dir = path.dirname(dir)) {
      const candidate = path.join(dir, 'node_modules', name, 'package.json');
      if (fs.existsSync(candidate)) return candidate;
      if (path.dirname(dir) === dir) throw new Error(`cannot find ${name} from ${from}`);
    }
  };
  const visit = (name, from) => {
    const pkgJson = find(name, from);
    const dir = fs.realpathSync(path.dirname(pkgJson));
    if (seen.has(name)) return;
    seen.set(name, dir);
    const deps = Object.keys(JSON.parse(fs.readFileSync(pkgJson, 'utf8')).dependencies ?? {});
    for (const dep of deps) visit(dep, dir);
  };
  visit(entry, ROOT);
  return seen;
}

(async () => {
  const ours = perCall(() => server.writePrometheusText(server.metricFamilies(stats)), count);
  const registry = new Registry();
  server.registerStatsCollector(registry, { stats: () => stats });
  const theirs = await perCallAsync(() => registry.metrics(), count);
  const body = server.writePrometheusText(server.metricFamilies(stats));
  const samples = body.split('\n').filter((l) => l && !l.startsWith('#')).length;

  const bare = loadMs('0');
  const withProm = loadMs(`require(${JSON.stringify(promClientPath)})`);
  const dirs = packageDirs('prom-client');
  let bytes = 0;
  for (const dir of dirs.values()) bytes += dirSize(dir);

  console.log(`snapshot: ${listeners} listeners, ${hosts} hosts: ${samples} samples, ${body.length} bytes of text`);
  console.log(`scrape, our writer:                  ${ours.toFixed(1)} µs`);
  console.log(`scrape, prom-client Registry.metrics: ${theirs.toFixed(1)} µs (same families, registerStatsCollector)`);
  console.log(`require('prom-client') in a fresh process: +${(withProm - bare).toFixed(1)} ms (median of 7; node alone ${bare.toFixed(1)} ms)`);
  console.log(`prom-client and its dependencies on disk: ${(bytes / 1024 / 1024).toFixed(1)} MiB (${[...dirs.keys()].join(', ')})`);
})();
