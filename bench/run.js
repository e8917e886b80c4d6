#!/usr/bin/env node
'use strict';
/**
 * ics-ts benchmarks: every hot path measured against raw Node in the same run.
 *
 *   pnpm bench                      all benchmarks, short default durations (< 3 min)
 *   pnpm bench echo tls             only these
 *   pnpm bench --json out.json      also write the results as JSON
 *   pnpm bench scale                opt-in: 100,000 connections on a server with workers (minutes)
 *   node bench/run.js --smoke       every benchmark for ~0.3 s with tiny counts; exit 0 when all ran
 *   node bench/run.js --help        every option
 *
 * Each benchmark runs the ics-ts server and its raw-Node baseline alternately
 * (round 1: ics-ts then baseline, round 2: baseline then ics-ts, ...), each in a
 * fresh server process, with the load generator in another process, on
 * 127.0.0.1 only. Every child process has a hard time limit of its own.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { summarize, fmt } = require('./lib/stats');
const { hasTaskset } = require('./lib/proc');
const { waitForQuiet } = require('./lib/sysload');

const ROOT = path.resolve(__dirname, '..');
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(0); // `node bench/run.js --list | head`
  throw error;
});
const ORDER = ['echo', 'accept', 'lines', 'busy', 'idle', 'tls', 'tls-idle'];
// Run only when named (and by --smoke, with tiny counts): scale holds ~100,000
// descriptors across a dozen processes for a few minutes.
const OPT_IN = ['scale'];
const ALL = [...ORDER, ...OPT_IN];
const PACKAGES = ['wsocket', 'ssl-context', 'wsocket-server', 'sample-clients', 'cluster'];

const HELP = `usage: node bench/run.js [NAME...] [options]   (pnpm bench [NAME...] [options])

benchmarks: ${ORDER.join(', ')} (default: all, in this order)
            ${OPT_IN.join(', ')} (only when named; --smoke runs it too, with tiny counts)

options:
  --json FILE        write the results (samples, medians, spreads, ratios, targets) as JSON
  --smoke            run each benchmark once per implementation for ~0.3 s with tiny counts;
                     no timing assertion: exits 0 when every benchmark ran and produced results
  --rounds N         rounds per implementation (default 3, scale 1; --smoke: 1)
  --duration S       measured window in seconds for rate benchmarks (default 1.2; --smoke: 0.3)
  --warmup S         warm-up before the window, seconds (default 0.3; --smoke: 0.05)
  --no-build         do not run 'pnpm build' first (dist/ must exist)
  --noise PCT        a rate sample during which other processes used more than PCT % of one
                     core (from /proc/stat) is run again (default 25)
  --retries N        how many times a noisy sample is run again (default 2); then it is kept
                     and marked noisy
  --profile [DIR]    write a V8 CPU profile (.cpuprofile, as node --cpu-prof) of each server's
                     measured window to DIR (default bench/results/profiles);
                     summarize with node bench/profile-summary.js FILE...
  --pin              pin the server to CPU 0 and the load generator to CPU 1 (taskset)
  --no-young-cap     idle benchmarks: run the servers without capping V8's young generation
                     (see docs/performance.md, "idle: the young generation")
  --impls A,B,...    run these implementations of each benchmark named, in this order (the
                     default list, or the ablation servers a benchmark also has; see --list)
  --ephemeral-ports  short-lived connections (accept, busy, tls) take the kernel's ephemeral
                     ports instead of cycling explicit 127.0.1.x source pairs (see
                     docs/performance.md, "TIME_WAIT and the load generator")
  --check            exit 1 when a target is missed (default: report only)
  --list             list the benchmarks and exit
  -h, --help         this text
`;

function parseArgs(argv) {
  const o = { names: [], rounds: undefined, duration: undefined, warmup: undefined, build: true, smoke: false, noise: 25, retries: 2 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) fail(`option ${a} needs a value`);
      return v;
    };
    if (a === '-h' || a === '--help') o.help = true;
    else if (a === '--list') o.list = true;
    else if (a === '--smoke') o.smoke = true;
    else if (a === '--json') o.json = value();
    else if (a === '--rounds') o.rounds = positive(value(), a, true);
    else if (a === '--duration') o.duration = positive(value(), a);
    else if (a === '--warmup') o.warmup = positive(value(), a, false, true);
    else if (a === '--no-build') o.build = false;
    else if (a === '--noise') o.noise = positive(value(), a, false, true);
    else if (a === '--retries') o.retries = positive(value(), a, true, true);
    else if (a === '--pin') o.pin = true;
    else if (a === '--ephemeral-ports') o.ephemeralPorts = true;
    else if (a === '--impls') o.impls = value().split(',').filter(Boolean);
    else if (a === '--no-young-cap') o.noYoungCap = true;
    else if (a === '--check') o.check = true;
    else if (a === '--profile') {
      o.profile = argv[i + 1] && !argv[i + 1].startsWith('-') && !ALL.includes(argv[i + 1]) ? path.resolve(process.env.INIT_CWD || process.cwd(), argv[++i]) : path.join(__dirname, 'results', 'profiles');
    } else if (a === '--') continue;
    else if (a.startsWith('-')) fail(`unknown option ${a} (see --help)`);
    else if (!ALL.includes(a)) fail(`unknown benchmark ${a}; known: ${ALL.join(', ')}`);
    else o.names.push(a);
  }
  return o;
}

/** The benchmark with the implementations --impls asked for (those it has), in that order. */
function chooseImpls(def, wanted) {
  if (!wanted) return def;
  const impls = wanted.filter((impl) => typeof def.server[impl] === 'function');
  const unknown = wanted.filter((impl) => !impls.includes(impl));
  if (impls.length === 0) fail(`benchmark ${def.name} has none of --impls ${wanted.join(',')}; it has ${Object.keys(def.server).join(', ')}`);
  if (unknown.length) process.stdout.write(`bench: ${def.name} has no ${unknown.join(', ')}; running ${impls.join(', ')}\n`);
  return { ...def, impls };
}

function positive(text, option, integer = false, zeroOk = false) {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0 || (!zeroOk && n === 0) || (integer && !Number.isInteger(n))) {
    fail(`option ${option} needs a ${integer ? 'whole ' : ''}number > 0, got ${text}`);
  }
  return n;
}

function fail(message) {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

/** Runs `pnpm build` (incremental), or checks that dist/ exists and is not older than src/. */
function ensureBuilt(build) {
  if (build) {
    process.stdout.write('bench: pnpm build (so the servers run from packages/*/dist; no TypeScript compiled while measuring)\n');
    const r = spawnSync('pnpm', ['--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
    if (r.error || r.status !== 0) {
      fail(`'pnpm build' failed${r.error ? `: ${r.error.message}` : ''}; fix the build, or pass --no-build to measure the dist/ already there`);
    }
    return;
  }
  const missing = PACKAGES.filter((p) => !fs.existsSync(path.join(ROOT, 'packages', p, 'dist', 'index.js')));
  if (missing.length) fail(`packages/{${missing.join(',')}}/dist is missing: run 'pnpm build' first (or drop --no-build)`);
  const stale = PACKAGES.filter((p) => newestMtime(path.join(ROOT, 'packages', p, 'src')) > newestMtime(path.join(ROOT, 'packages', p, 'dist')));
  if (stale.length) process.stdout.write(`bench: warning: packages/{${stale.join(',')}}/src is newer than dist: measuring the old build\n`);
}

function newestMtime(dir) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : fs.statSync(p).mtimeMs);
  }
  return newest;
}

/** One ECDSA P-256 development certificate for the TLS benchmarks, as files in a temp dir. */
async function makeCertificate() {
  require(require.resolve('reflect-metadata', { paths: [path.join(ROOT, 'packages', 'ssl-context')] }));
  const { createDevCertificate } = require(path.join(ROOT, 'packages', 'ssl-context'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ics-ts-bench-'));
  const id = await createDevCertificate({ names: ['localhost', '127.0.0.1'], days: 2 });
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  fs.writeFileSync(cert, id.cert);
  fs.writeFileSync(key, id.key, { mode: 0o600 });
  return { dir, cert, key };
}

function targetText(target) {
  if (!target) return '';
  if (target.type === 'ratio') {
    const base = target.bestOf ? `faster of ${target.bestOf.join('/')}` : target.against;
    return `>= ${target.min} x ${base}`;
  }
  if (target.type === 'delta') return `<= ${target.against} + ${target.maxDelta} ${target.unit || ''}`.trim();
  return '';
}

/** Medians, spreads, the baseline, the ratio and the target verdict of one metric. */
function evaluate(def, metric, samplesByImpl) {
  const summary = {};
  for (const impl of def.impls) {
    const values = (samplesByImpl[impl] || []).map((s) => s[metric.key]).filter((v) => v !== undefined);
    if (values.length) summary[impl] = summarize(values);
  }
  const ours = summary[def.impls[0]];
  const target = metric.target;
  let baseline = target && target.against ? target.against : def.impls[1];
  if (target && target.bestOf) {
    const present = target.bestOf.filter((i) => summary[i]);
    present.sort((a, b) => (metric.higher ? summary[b].median - summary[a].median : summary[a].median - summary[b].median));
    baseline = present[0];
  }
  const base = summary[baseline];
  const out = { key: metric.key, label: metric.label, unit: metric.unit, higher: metric.higher, info: !!metric.info, summary, baseline };
  if (!ours || !base) return { ...out, ratio: NaN, met: null, targetText: targetText(target) };
  out.ratio = ours.median / base.median;
  out.targetText = targetText(target);
  if (target && target.type === 'ratio') out.met = out.ratio >= target.min;
  else if (target && target.type === 'delta') {
    out.delta = ours.median - base.median;
    out.met = out.delta <= target.maxDelta;
  } else out.met = null;
  return out;
}

function pad(text, n) {
  text = String(text);
  return text.length >= n ? text : text + ' '.repeat(n - text.length);
}

function printTable(results) {
  const lines = [];
  lines.push(`${pad('benchmark', 10)} ${pad('metric', 30)} ${pad('impl', 9)} ${pad('median', 12)} ${pad('spread', 8)} ${pad('range', 24)}`);
  for (const b of results.benchmarks) {
    for (const m of b.metrics) {
      for (const impl of b.impls) {
        const s = m.summary[impl];
        if (!s) continue;
        lines.push(
          `${pad(b.name, 10)} ${pad(`${m.label} (${m.unit})`, 30)} ${pad(impl, 9)} ${pad(fmt(s.median), 12)} ${pad(`${fmt(s.spreadPct, 2)}%`, 8)} ${pad(`${fmt(s.min)} – ${fmt(s.max)}`, 24)}`,
        );
      }
      const verdict = results.options.smoke ? 'not judged (smoke)' : m.met === null || m.met === undefined ? '' : m.met ? 'MET' : 'MISSED';
      const extra = m.delta !== undefined ? `, ics-ts - ${m.baseline} = ${fmt(m.delta)} ${m.unit}` : '';
      lines.push(`${pad('', 10)} ${pad('', 30)} ratio ics-ts/${m.baseline} = ${fmt(m.ratio)}${extra}${m.targetText ? `; target ${m.targetText}: ${verdict}` : ''}`);
    }
    if (b.failures.length) lines.push(`${pad(b.name, 10)} FAILURES: ${b.failures.map((f) => `${f.impl} round ${f.round}: ${f.error.split('\n')[0]}`).join('; ')}`);
    if (b.notes && b.notes.length) for (const n of b.notes) lines.push(`${pad('', 10)} note: ${n}`);
  }
  process.stdout.write(`\n${lines.join('\n')}\n`);
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.help) return process.stdout.write(HELP);
  if (o.list) {
    for (const name of ALL) {
      const d = require(`./benchmarks/${name}`);
      const extra = Object.keys(d.server).filter((impl) => !d.impls.includes(impl));
      process.stdout.write(`${pad(name, 9)} ${d.what}\n          baseline: ${d.baselineText}\n`);
      if (extra.length) process.stdout.write(`          ablation servers (--impls): ${extra.join(', ')}\n`);
    }
    return;
  }
  const names = o.names.length ? ALL.filter((n) => o.names.includes(n)) : o.smoke ? ALL : ORDER;
  const roundsOf = (def) => o.rounds || (o.smoke ? 1 : def.rounds || 3);
  const distinctRounds = [...new Set(names.map((n) => roundsOf(require(`./benchmarks/${n}`))))];
  const rounds = distinctRounds.length === 1 ? distinctRounds[0] : distinctRounds.join('/');
  const durationMs = (o.duration || (o.smoke ? 0.3 : 1.2)) * 1000;
  const warmupMs = (o.warmup !== undefined ? o.warmup : o.smoke ? 0.05 : 0.3) * 1000;
  if (o.pin && !hasTaskset()) fail('--pin needs taskset (util-linux)');
  ensureBuilt(o.build);
  if (o.profile) fs.mkdirSync(o.profile, { recursive: true });

  const started = Date.now();
  const needsCert = names.some((n) => n.startsWith('tls') || n === 'scale');
  const cert = needsCert ? await makeCertificate() : undefined;
  const command = `node bench/run.js ${process.argv.slice(2).join(' ')}`.trim();
  const results = {
    date: new Date().toISOString(),
    command,
    node: process.version,
    openssl: process.versions.openssl,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0] ? os.cpus()[0].model : 'unknown',
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    options: { rounds, durationMs, warmupMs, smoke: o.smoke, pin: !!o.pin, ephemeralPorts: !!o.ephemeralPorts, youngCap: !o.noYoungCap, profile: !!o.profile, noisePct: o.noise, retries: o.retries },
    benchmarks: [],
  };
  process.stdout.write(
    `bench: node ${results.node}, ${results.cpus} cores (${results.cpuModel}), ${rounds} round(s), ` +
      `window ${durationMs / 1000} s after ${warmupMs / 1000} s warm-up${o.smoke ? ', smoke mode' : ''}\n`,
  );

  let failed = 0;
  try {
    for (const name of names) {
      const def = chooseImpls(require(`./benchmarks/${name}`), o.impls);
      const p = def.params[o.smoke ? 'smoke' : 'full'];
      const samples = {};
      const failures = [];
      const notes = [];
      const t0 = Date.now();
      for (let round = 0; round < roundsOf(def); round++) {
        const order = round % 2 === 0 ? def.impls : [...def.impls].reverse();
        for (const impl of order) {
          const ctx = {
            bench: name,
            round,
            smoke: o.smoke,
            warmupMs,
            durationMs,
            pin: !!o.pin,
            ephemeralPorts: !!o.ephemeralPorts,
            youngCap: !o.noYoungCap,
            cert,
            hardMs: def.hardMs ? def.hardMs(p, durationMs, warmupMs) : 45000 + 3 * (durationMs + warmupMs),
            serverExecArgv: () => [],
            profile: o.profile ? { dir: o.profile, name: `${name}-${impl}-r${round + 1}` } : undefined,
          };
          try {
            let sample;
            for (let attempt = 0; ; attempt++) {
              sample = await def.round(ctx, impl, p);
              sample.attempts = attempt + 1;
              const noisy = !o.smoke && sample.foreignPct !== undefined && sample.foreignPct > o.noise;
              const shown = def.metrics.map((m) => `${m.key}=${fmt(sample[m.key])}`).join(' ');
              const other = sample.foreignPct !== undefined ? ` [others ${fmt(sample.foreignPct, 2)}% cpu]` : '';
              process.stdout.write(`  ${pad(name, 9)} round ${round + 1} ${pad(impl, 9)} ${shown}${other}`);
              if (noisy && attempt < o.retries) {
                const quiet = await waitForQuiet(o.noise, 5000);
                process.stdout.write(` noisy: again${quiet !== undefined && quiet >= o.noise ? ` (machine still busy: ${fmt(quiet, 2)}%)` : ''}\n`);
                continue;
              }
              sample.noisy = noisy;
              process.stdout.write(noisy ? ' noisy: kept (no retries left)\n' : '\n');
              break;
            }
            (samples[impl] ||= []).push(sample);
            if (sample.note && !notes.includes(sample.note)) notes.push(sample.note);
          } catch (error) {
            failures.push({ impl, round: round + 1, error: String(error && error.stack ? error.stack : error) });
            process.stdout.write(`  ${pad(name, 9)} round ${round + 1} ${pad(impl, 9)} FAILED: ${String(error && error.message)}\n`);
          }
        }
      }
      const metrics = def.metrics.map((m) => evaluate(def, m, samples));
      if (failures.length || def.impls.some((impl) => !samples[impl])) failed++;
      results.benchmarks.push({
        name,
        title: def.title,
        what: def.what,
        baselineText: def.baselineText,
        impls: def.impls,
        params: p,
        rounds: roundsOf(def),
        seconds: (Date.now() - t0) / 1000,
        samples,
        failures,
        notes,
        metrics,
      });
    }
  } finally {
    if (cert) fs.rmSync(cert.dir, { recursive: true, force: true });
  }
  results.seconds = (Date.now() - started) / 1000;
  printTable(results);
  const missed = results.benchmarks.flatMap((b) => b.metrics.filter((m) => m.met === false).map((m) => `${b.name}/${m.key}`));
  process.stdout.write(
    `\nbench: ${results.benchmarks.length} benchmark(s) in ${fmt(results.seconds)} s; ` +
      `${failed ? `${failed} with failures; ` : ''}${o.smoke ? 'smoke mode: targets not judged' : missed.length ? `targets missed: ${missed.join(', ')}` : 'all targets met'}\n`,
  );
  const outDir = path.join(__dirname, 'results');
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, o.smoke ? 'smoke.json' : 'last.json'), JSON.stringify(results, null, 2));
  if (o.json) {
    fs.writeFileSync(path.resolve(process.env.INIT_CWD || process.cwd(), o.json), JSON.stringify(results, null, 2));
    process.stdout.write(`bench: results written to ${o.json}\n`);
  }
  if (failed) process.exitCode = 1;
  else if (o.check && !o.smoke && missed.length) process.exitCode = 1;
}

main().catch((error) => {
  process.stderr.write(`bench: ${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
