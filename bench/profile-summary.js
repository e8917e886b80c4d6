#!/usr/bin/env node
'use strict';
/**
 * Summarizes V8 CPU profiles (.cpuprofile, from `node bench/run.js NAME --profile`):
 * self time per function, and total ("inclusive") time for functions of ics-ts.
 *
 *   node bench/profile-summary.js bench/results/profiles/lines-ics-ts-r1.cpuprofile [--top 25] [--filter TEXT]
 *
 * Several files are merged (the same function in each adds up).
 */
const fs = require('node:fs');
const path = require('node:path');

const args = process.argv.slice(2);
let top = 25;
let filter;
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--top') top = Number(args[++i]);
  else if (args[i] === '--filter') filter = args[++i];
  else files.push(args[i]);
}
if (!files.length) {
  process.stderr.write('usage: node bench/profile-summary.js FILE.cpuprofile... [--top N] [--filter TEXT]\n');
  process.exit(2);
}

const ROOT = path.resolve(__dirname, '..');
const self = new Map();
const total = new Map();
let allUs = 0;

function where(cf) {
  let url = cf.url || '';
  url = url.replace(/^file:\/\//, '').replace(`${ROOT}/`, '');
  url = url.replace(/.*node_modules\/\.pnpm\/[^/]+\/node_modules\//, '');
  const name = cf.functionName || '(anonymous)';
  return url ? `${name}  ${url}:${cf.lineNumber + 1}` : name;
}

for (const file of files) {
  const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of prof.nodes) for (const c of n.children || []) parent.set(c, n.id);
  const hits = new Map();
  // timeDeltas[i] is the time before sample i.
  for (let i = 0; i < prof.samples.length; i++) {
    const dt = prof.timeDeltas[i + 1] !== undefined ? prof.timeDeltas[i + 1] : 0;
    hits.set(prof.samples[i], (hits.get(prof.samples[i]) || 0) + Math.max(dt, 0));
  }
  for (const [id, us] of hits) {
    const node = byId.get(id);
    const key = where(node.callFrame);
    if (node.callFrame.functionName !== '(idle)' && node.callFrame.functionName !== '(program)') allUs += us;
    self.set(key, (self.get(key) || 0) + us);
    // inclusive: every distinct frame on the stack
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const k = where(byId.get(cur).callFrame);
      if (seen.has(k)) continue;
      seen.add(k);
      total.set(k, (total.get(k) || 0) + us);
    }
  }
}

const pct = (us) => `${((us / allUs) * 100).toFixed(1).padStart(5)}%`;
const ms = (us) => `${(us / 1000).toFixed(1).padStart(8)} ms`;
process.stdout.write(`busy time (not idle/program): ${(allUs / 1000).toFixed(1)} ms in ${files.length} profile(s)\n\nself time:\n`);
const rows = [...self].filter(([k]) => !/^\((idle|program|garbage collector)\)/.test(k) || true).sort((a, b) => b[1] - a[1]);
for (const [k, us] of rows.filter(([k]) => !filter || k.includes(filter)).slice(0, top)) {
  process.stdout.write(`${ms(us)} ${pct(us)}  ${k}\n`);
}
process.stdout.write('\ninclusive time, ics-ts packages:\n');
const mine = [...total].filter(([k]) => k.includes('packages/')).sort((a, b) => b[1] - a[1]);
for (const [k, us] of mine.filter(([k]) => !filter || k.includes(filter)).slice(0, top)) {
  process.stdout.write(`${ms(us)} ${pct(us)}  ${k}\n`);
}
