import type { MetricFamily } from './metric-families';

/** The content type of the Prometheus text exposition format this writer produces. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** HELP text: backslash and line feed escaped (the format's rule). */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Label values: backslash, double quote and line feed escaped. */
function escapeLabelValue(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function formatLabels(labels: Record<string, string>): string {
  const names = Object.keys(labels);
  if (names.length === 0) return '';
  let text = '{';
  for (let i = 0; i < names.length; i++) {
    if (i > 0) text += ',';
    text += `${names[i]}="${escapeLabelValue(labels[names[i]])}"`;
  }
  return `${text}}`;
}

/**
 * The Prometheus text exposition format (version 0.0.4) of some families:
 * HELP and TYPE for each, then one line per sample. Label names come from our
 * own code (metric-families.ts); label values (a host tag, a listener URL)
 * may come from configuration and are escaped.
 */
export function writePrometheusText(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) lines.push(`${family.name}${formatLabels(sample.labels)} ${formatValue(sample.value)}`);
  }
  lines.push('');
  return lines.join('\n');
}
