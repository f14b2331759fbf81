/**
 * The three metrics of Dovecot's stats benchmark (every imap_command_finished
 * feeds 14 distributions), as data: rendered into the config both servers
 * read, and walked by the client's tallies with Dovecot 2.3's semantics.
 */

export type GroupBy =
  | { field: string; kind: 'discrete' }
  | { field: string; kind: 'exponential'; min: number; max: number; base: number }
  | { field: string; kind: 'linear'; min: number; max: number; step: number };

export interface MetricDef {
  name: string;
  /** the single event name the filter selects (`event=NAME`) */
  event: string;
  /** fields aggregated besides duration */
  fields: string[];
  groupBy: GroupBy[];
}

export const METRICS: readonly MetricDef[] = [
  {
    name: 'imap_command',
    event: 'imap_command_finished',
    fields: [],
    groupBy: [
      { field: 'cmd_name', kind: 'discrete' },
      { field: 'tagged_reply_state', kind: 'discrete' },
    ],
  },
  {
    name: 'imap_command_dur',
    event: 'imap_command_finished',
    fields: ['bytes_in', 'bytes_out'],
    groupBy: [
      { field: 'cmd_name', kind: 'discrete' },
      { field: 'duration', kind: 'exponential', min: 1, max: 5, base: 10 },
    ],
  },
  {
    name: 'imap_bytes_out_linear',
    event: 'imap_command_finished',
    fields: [],
    groupBy: [{ field: 'bytes_out', kind: 'linear', min: 0, max: 5000, step: 1000 }],
  },
];

function groupByText(g: GroupBy): string {
  switch (g.kind) {
    case 'discrete':
      return g.field;
    case 'exponential':
      return `${g.field}:exponential:${g.min}:${g.max}:${g.base}`;
    case 'linear':
      return `${g.field}:linear:${g.min}:${g.max}:${g.step}`;
  }
}

/** The metric blocks in Dovecot 2.3 syntax (tallyd reads the same text). */
export function metricBlocks(metrics: readonly MetricDef[] = METRICS): string {
  return metrics
    .map((m) => {
      const lines = [`metric ${m.name} {`, `  filter = event=${m.event}`];
      if (m.fields.length > 0) lines.push(`  fields = ${m.fields.join(' ')}`);
      if (m.groupBy.length > 0) lines.push(`  group_by = ${m.groupBy.map(groupByText).join(' ')}`);
      lines.push('}');
      return lines.join('\n');
    })
    .join('\n');
}

/** A quantizer's ranges as Dovecot builds them: (min, max] each, the ends open. */
export function ranges(g: GroupBy): [number, number][] {
  if (g.kind === 'discrete') return [];
  const out: [number, number][] = [];
  if (g.kind === 'exponential') {
    const n = g.max - g.min + 2;
    out.push([-Infinity, g.base ** g.min]);
    for (let i = 1; i < n - 1; i++) out.push([g.base ** (g.min + i - 1), g.base ** (g.min + i)]);
    out.push([g.base ** g.max, Infinity]);
  } else {
    const n = Math.ceil((g.max - g.min) / g.step) + 2;
    out.push([-Infinity, g.min]);
    for (let i = 1; i < n - 1; i++) out.push([g.min + (i - 1) * g.step, Math.min(g.max, g.min + i * g.step)]);
    out.push([g.max, Infinity]);
  }
  return out;
}

/** Dovecot's label of the bucket holding `v` (stats_metric_group_by_quantized_label). */
export function bucketLabel(g: GroupBy, rs: readonly [number, number][], v: number): string {
  for (const [lo, hi] of rs) {
    if (v <= lo || v > hi) continue;
    if (lo === -Infinity) return `${g.field}_ninf_${hi}`;
    if (hi === Infinity) return `${g.field}_${lo + 1}_inf`;
    return `${g.field}_${lo + 1}_${hi}`;
  }
  throw new Error(`no bucket of ${g.field} holds ${v}`);
}
