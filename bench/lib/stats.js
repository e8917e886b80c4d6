'use strict';

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return NaN;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/** Median, min, max, and spread: (max - min) / median, in percent. */
function summarize(samples) {
  const ok = samples.filter((v) => Number.isFinite(v));
  const med = median(ok);
  const min = Math.min(...ok);
  const max = Math.max(...ok);
  const spread = ok.length > 1 && med !== 0 ? ((max - min) / Math.abs(med)) * 100 : 0;
  return { samples, median: med, min, max, spreadPct: spread };
}

/** Numbers as a person reads them: 3 significant digits, thousands grouped. */
function fmt(value, digits = 3) {
  if (value === undefined || value === null || Number.isNaN(value)) return 'n/a';
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 10 ** digits) return Math.round(value).toLocaleString('en-US');
  return Number(value.toPrecision(digits)).toLocaleString('en-US', { maximumFractionDigits: 6 });
}

module.exports = { median, summarize, fmt };
