#!/usr/bin/env node
'use strict';
/**
 * Markdown tables of a results file, as pasted into docs/performance.md.
 *
 *   node bench/report.js RESULTS.json
 */
const fs = require('node:fs');
const { fmt } = require('./lib/stats');

const input = process.argv[2];
if (!input) {
  process.stderr.write('usage: node bench/report.js RESULTS.json\n');
  process.exit(2);
}
const r = JSON.parse(fs.readFileSync(input, 'utf8'));

const cell = (s) => (s ? `${fmt(s.median)} (±${fmt(s.spreadPct / 2, 2)}%; ${fmt(s.min)}–${fmt(s.max)})` : 'n/a');
const out = [];
out.push(`Run ${r.date.replace('T', ' ').slice(0, 16)} UTC, Node ${r.node} (OpenSSL ${r.openssl}), ${r.platform}, ${r.cpus} cores (${r.cpuModel}), ${r.memGiB} GiB.`);
out.push(`Command: \`${r.command}\`; ${r.options.rounds} rounds per implementation, alternating; window ${r.options.durationMs / 1000} s after ${r.options.warmupMs / 1000} s warm-up; took ${fmt(r.seconds)} s.`);
out.push('');
out.push('| benchmark | metric | ics-ts: median (spread; range) | baseline: median (spread; range) | ratio ics-ts / baseline | target | met? |');
out.push('| --- | --- | --- | --- | --- | --- | --- |');
for (const b of r.benchmarks) {
  for (const m of b.metrics.filter((x) => !x.info)) {
    const ours = m.summary[b.impls[0]];
    const base = m.summary[m.baseline];
    const extra = m.delta !== undefined ? ` (${m.delta >= 0 ? '+' : ''}${fmt(m.delta)} ${m.unit})` : '';
    const met = m.met === null || m.met === undefined ? '' : m.met ? '**yes**' : '**no**';
    out.push(`| ${b.name} | ${m.label} (${m.unit}) | ${cell(ours)} | ${m.baseline}: ${cell(base)} | ${fmt(m.ratio)}${extra} | ${m.targetText} | ${met} |`);
  }
}
out.push('');
out.push('Supporting measurements (medians; no target):');
out.push('');
out.push('| benchmark | metric | ' + 'implementations (median) |');
out.push('| --- | --- | --- |');
for (const b of r.benchmarks) {
  for (const m of b.metrics) {
    const impls = b.impls.filter((i) => m.summary[i]).map((i) => `${i} ${fmt(m.summary[i].median)}`);
    if (m.info || b.impls.length > 2) out.push(`| ${b.name} | ${m.label} (${m.unit}) | ${impls.join(', ')} |`);
  }
}
const noisy = r.benchmarks.flatMap((b) =>
  Object.entries(b.samples).flatMap(([impl, list]) => list.filter((s) => s.noisy).map(() => `${b.name}/${impl}`)),
);
const retried = r.benchmarks.reduce((n, b) => n + Object.values(b.samples).flat().reduce((k, s) => k + (s.attempts || 1) - 1, 0), 0);
out.push('');
out.push(
  `Samples re-run because other processes used the CPU during their window: ${retried}` +
    (noisy.length ? `; kept although still noisy: ${noisy.join(', ')}` : '') +
    '.',
);
for (const b of r.benchmarks) {
  for (const n of b.notes || []) out.push(`Note (${b.name}): ${n}.`);
  for (const f of b.failures || []) out.push(`Failure (${b.name}, ${f.impl}, round ${f.round}): ${f.error.split('\n')[0]}`);
}
process.stdout.write(`${out.join('\n')}\n`);
