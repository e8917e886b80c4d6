#!/usr/bin/env node
'use strict';
/**
 * An SVG chart of a results file (from `node bench/run.js --json FILE`):
 *  - left:  each rate target as the ratio ics-ts / baseline (bar = ratio of the
 *           medians, whisker = worst to best pairing of the rounds), with the
 *           target marked;
 *  - right: each memory target: the bytes per connection ics-ts uses beyond
 *           the baseline, with the allowance marked.
 *
 *   node bench/chart.js RESULTS.json [OUT.svg]     (default: stdout)
 */
const fs = require('node:fs');

const [input, output] = process.argv.slice(2);
if (!input) {
  process.stderr.write('usage: node bench/chart.js RESULTS.json [OUT.svg]\n');
  process.exit(2);
}
const results = JSON.parse(fs.readFileSync(input, 'utf8'));

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const bytes = (v) => Math.round(v).toLocaleString('en-US');
const num = (v, d = 2) => (Number.isFinite(v) ? Number(v.toPrecision(3)).toLocaleString('en-US', { maximumFractionDigits: d }) : 'n/a');

const rates = [];
const mems = [];
for (const b of results.benchmarks) {
  for (const m of b.metrics) {
    if (m.info || m.met === null || m.met === undefined) continue;
    const ours = m.summary[b.impls[0]];
    const base = m.summary[m.baseline];
    if (!ours || !base) continue;
    const label = `${b.name}: ${m.label}`;
    if (m.delta === undefined) {
      const target = Number((m.targetText.match(/>= ([\d.]+)/) || [])[1]);
      const lo = m.higher ? ours.min / base.max : base.min / ours.max;
      const hi = m.higher ? ours.max / base.min : base.max / ours.min;
      rates.push({ label, ratio: m.ratio, lo, hi, target, met: m.met, base: m.baseline });
    } else {
      const allow = Number((m.targetText.match(/\+ ([\d.]+)/) || [])[1]);
      mems.push({ label, delta: m.delta, allow, met: m.met, base: m.baseline, ours: ours.median, baseMedian: base.median });
    }
  }
}

const W = 1120;
const rowH = 34;
const top = 78;
const leftW = 600;
const labelW = 250;
const rows = Math.max(rates.length, mems.length, 1);
const H = top + rows * rowH + 60;
const out = [];
out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
out.push(
  `<text x="16" y="24" font-size="16" font-weight="bold">ics-ts against raw Node, same run: ${esc(results.date.slice(0, 10))}, Node ${esc(results.node)}, ${results.cpus} cores</text>`,
);
out.push(`<text x="16" y="44" fill="#555">${esc(results.command)}; green = target met, red = missed; whiskers: range over the rounds</text>`);

// Left panel: ratios on a 0..maxR scale.
const maxR = Math.max(2, ...rates.map((r) => Math.min(r.hi, 4)), ...rates.map((r) => r.target || 0)) * 1.05;
const x0 = 16 + labelW;
const plotW = leftW - labelW - 150;
const sx = (v) => x0 + (Math.min(v, maxR) / maxR) * plotW;
out.push(`<text x="16" y="${top - 14}" font-weight="bold">throughput / rate: ics-ts ÷ baseline</text>`);
for (const t of [0, 0.5, 1, 1.5, 2, 3, 4].filter((t) => t <= maxR)) {
  out.push(`<line x1="${sx(t)}" y1="${top - 4}" x2="${sx(t)}" y2="${top + rates.length * rowH}" stroke="${t === 1 ? '#999' : '#e5e5e5'}"/>`);
  out.push(`<text x="${sx(t)}" y="${top + rates.length * rowH + 14}" text-anchor="middle" fill="#555">${t}×</text>`);
}
rates.forEach((r, i) => {
  const y = top + i * rowH;
  const color = r.met ? '#2e8b57' : '#c0392b';
  out.push(`<text x="16" y="${y + 20}">${esc(r.label)}</text>`);
  out.push(`<text x="16" y="${y + 31}" fill="#777" font-size="10">vs ${esc(r.base)}</text>`);
  out.push(`<rect x="${x0}" y="${y + 8}" width="${Math.max(1, sx(r.ratio) - x0)}" height="16" fill="${color}" opacity="0.8"/>`);
  out.push(`<line x1="${sx(r.lo)}" y1="${y + 16}" x2="${sx(r.hi)}" y2="${y + 16}" stroke="#222"/>`);
  out.push(`<line x1="${sx(r.lo)}" y1="${y + 11}" x2="${sx(r.lo)}" y2="${y + 21}" stroke="#222"/>`);
  out.push(`<line x1="${sx(r.hi)}" y1="${y + 11}" x2="${sx(r.hi)}" y2="${y + 21}" stroke="#222"/>`);
  if (Number.isFinite(r.target)) {
    out.push(`<line x1="${sx(r.target)}" y1="${y + 4}" x2="${sx(r.target)}" y2="${y + 28}" stroke="#1f4e9c" stroke-width="2.5"/>`);
  }
  out.push(`<text x="${x0 + plotW + 12}" y="${y + 20}" fill="${color}">${num(r.ratio)}× (target ${num(r.target)}×)</text>`);
});

// Right panel: extra bytes per connection.
const rx = leftW + 40;
const rLabelW = 170;
const rPlotW = W - rx - rLabelW - 175;
const maxAllow = Math.max(...mems.map((m) => m.allow), 1);
const maxB = Math.max(...mems.map((m) => Math.max(m.allow, m.delta)), 1) * 1.15;
// Large savings are clipped at -1.5 x the largest allowance, so the scale stays readable.
const minB = Math.max(-1.5 * maxAllow, Math.min(0, ...mems.map((m) => m.delta)) * 1.15);
const bx = (v) => rx + rLabelW + ((Math.max(minB, Math.min(maxB, v)) - minB) / (maxB - minB)) * rPlotW;
out.push(`<text x="${rx}" y="${top - 14}" font-weight="bold">memory: bytes per connection beyond the baseline</text>`);
out.push(`<line x1="${bx(0)}" y1="${top - 4}" x2="${bx(0)}" y2="${top + mems.length * rowH}" stroke="#999"/>`);
mems.forEach((m, i) => {
  const y = top + i * rowH;
  const color = m.met ? '#2e8b57' : '#c0392b';
  out.push(`<text x="${rx}" y="${y + 20}">${esc(m.label.replace('server ', ''))}</text>`);
  out.push(`<text x="${rx}" y="${y + 31}" fill="#777" font-size="10">${bytes(m.ours)} B vs ${esc(m.base)} ${bytes(m.baseMedian)} B</text>`);
  const a = bx(Math.min(0, m.delta));
  const b = bx(Math.max(0, m.delta));
  out.push(`<rect x="${a}" y="${y + 8}" width="${Math.max(1, b - a)}" height="16" fill="${color}" opacity="0.8"/>`);
  out.push(`<line x1="${bx(m.allow)}" y1="${y + 4}" x2="${bx(m.allow)}" y2="${y + 28}" stroke="#1f4e9c" stroke-width="2.5"/>`);
  out.push(`<text x="${rx + rLabelW + rPlotW + 10}" y="${y + 20}" fill="${color}">${m.delta >= 0 ? '+' : ''}${bytes(m.delta)} B (≤ +${bytes(m.allow)})</text>`);
});
out.push(`<text x="16" y="${H - 14}" fill="#777" font-size="10">blue mark = target; generated by bench/chart.js from the results JSON</text>`);
out.push('</svg>');

const svg = `${out.join('\n')}\n`;
if (output) fs.writeFileSync(output, svg);
else process.stdout.write(svg);
