/** The human-readable listing `tallyd check-config` prints. */
import { formatGroupBy } from './groupby.js';
import { formatSettings } from './settings.js';
import type { ConfigWarning, MetricDef, ResolvedConfig } from './types.js';

/** A value as config text: quoted when it would not read back as itself. */
export function formatValue(v: string): string {
  const plain =
    v === v.trim() && !/^["'<]/.test(v) && !/\s#/.test(v) && !v.startsWith('#') && !v.endsWith('\\') && !/[\r\n]/.test(v);
  return plain ? v : `"${v.replace(/[\\"]/g, '\\$&').replace(/\r/g, '\\r').replace(/\n/g, '\\n')}"`;
}

function formatMetric(m: MetricDef): string[] {
  const out = [`metric ${m.name} {`];
  if (m.pos !== undefined) out.push(`  # defined at ${m.pos.file}:${m.pos.line}:${m.pos.col}`);
  out.push(`  filter = ${formatValue(m.filter)}`);
  if (m.fields.length > 0) out.push(`  fields = ${m.fields.join(' ')}`);
  if (m.groupBy.length > 0) out.push(`  group_by = ${formatGroupBy(m.groupBy)}`);
  if (m.description !== '') out.push(`  description = ${formatValue(m.description)}`);
  out.push('}');
  return out;
}

export function formatWarning(w: ConfigWarning): string {
  return `${w.pos.file}:${w.pos.line}:${w.pos.col}: warning: ${w.message}`;
}

export function formatConfig(cfg: ResolvedConfig): string {
  const lines = ['# settings', ...formatSettings(cfg.settings), ''];
  lines.push(`# ${cfg.metrics.length} metric${cfg.metrics.length === 1 ? '' : 's'}`);
  for (const m of cfg.metrics) lines.push(...formatMetric(m), '');
  if (cfg.warnings.length > 0) {
    lines.push(`# ${cfg.warnings.length} warning${cfg.warnings.length === 1 ? '' : 's'}`);
    for (const w of cfg.warnings) lines.push(formatWarning(w));
  }
  return lines.join('\n').replace(/\n+$/, '') + '\n';
}
