/**
 * The load client's own tallies: count and sum per dump row (metric or
 * sub-metric path, and field), computed from the events it sends with
 * Dovecot 2.3's semantics, and the check of a dump table against them.
 */
import { bucketLabel, METRICS, ranges, type GroupBy, type MetricDef } from './metrics.js';

/** An event's fields as the stats process sees them: its own, its parents', and `duration`. */
export type FlatValue = string | number | string[];
export type FlatFields = Record<string, FlatValue>;

export interface Row {
  count: number;
  sum: number;
}

/** Dovecot keeps 32 code points of a sub-metric name (str_sanitize_utf8) and prints blanks as `_`. */
function dumpName(raw: string): string {
  if ([...raw].length > 32) throw new Error(`sub-metric name longer than 32 code points is not modelled: ${raw}`);
  return raw.replace(/[ \t\r\n]/g, '_');
}

interface Compiled {
  def: MetricDef;
  ranges: [number, number][][];
}

export class Tally {
  readonly rows = new Map<string, Row>();
  /** events offered */
  events = 0;
  private readonly metrics: Compiled[];

  constructor(metrics: readonly MetricDef[] = METRICS) {
    this.metrics = metrics.map((def) => ({ def, ranges: def.groupBy.map(ranges) }));
  }

  add(eventName: string, fields: FlatFields): void {
    this.events++;
    for (const m of this.metrics) {
      if (m.def.event !== eventName) continue;
      let path = m.def.name;
      this.node(path, m.def, fields);
      for (let level = 0; level < m.def.groupBy.length; level++) {
        const g = m.def.groupBy[level] as GroupBy;
        const sub = this.subName(g, m.ranges[level] as [number, number][], fields[g.field]);
        if (sub === null) break; // Dovecot: a missing (or unusable) field stops at the level above
        path = `${path}_${dumpName(sub)}`;
        this.node(path, m.def, fields);
      }
    }
  }

  private subName(g: GroupBy, rs: [number, number][], v: FlatValue | undefined): string | null {
    if (v === undefined || Array.isArray(v)) return null; // strlists are not grouped here
    if (g.kind === 'discrete') return typeof v === 'number' ? String(v) : v;
    if (typeof v !== 'number') return null;
    return bucketLabel(g, rs, v);
  }

  private node(path: string, def: MetricDef, fields: FlatFields): void {
    this.value(`${path}\tduration`, fields['duration']);
    for (const f of def.fields) this.value(`${path}\t${f}`, fields[f]);
  }

  private value(key: string, v: FlatValue | undefined): void {
    if (v === undefined) return; // a missing field adds nothing
    const n = typeof v === 'number' ? v : 0; // a string or strlist adds 0
    const row = this.rows.get(key);
    if (row === undefined) this.rows.set(key, { count: 1, sum: n });
    else {
      row.count++;
      row.sum += n;
    }
  }
}

export interface DumpTable {
  header: string[];
  /** `metric_name \t field` → the row's cells */
  rows: Map<string, Record<string, string>>;
}

/** `doveadm stats dump`'s table (tallyd prints the same): tab-separated, header first. */
export function parseDump(text: string): DumpTable {
  const lines = text.split('\n').filter((l) => l !== '');
  const header = (lines[0] ?? '').split('\t');
  const rows = new Map<string, Record<string, string>>();
  for (const line of lines.slice(1)) {
    const cells = line.split('\t');
    const row: Record<string, string> = {};
    header.forEach((h, i) => (row[h] = cells[i] ?? ''));
    rows.set(`${cells[0] ?? ''}\t${cells[1] ?? ''}`, row);
  }
  return { header, rows };
}

/** The count of a row (`duration` by default), 0 when absent. */
export function countOf(d: DumpTable, name: string, field = 'duration'): number {
  return Number(d.rows.get(`${name}\t${field}`)?.['count'] ?? 0);
}

/**
 * Every difference between a dump and the tallies: rows missing or extra,
 * count or sum not equal. `sum` must be printed as an integer.
 */
export function compareDump(d: DumpTable, tally: Tally): string[] {
  const problems: string[] = [];
  for (const col of ['count', 'sum']) if (!d.header.includes(col)) problems.push(`the dump has no ${col} column`);
  for (const [key, want] of tally.rows) {
    const got = d.rows.get(key);
    const k = key.replace('\t', ' / ');
    if (got === undefined) {
      problems.push(`${k}: missing (client: count ${want.count}, sum ${want.sum})`);
      continue;
    }
    if (got['count'] !== String(want.count)) problems.push(`${k}: count ${got['count']}, client ${want.count}`);
    const sum = got['sum'] ?? '';
    if (!/^-?\d+$/.test(sum) || Number(sum) !== want.sum) problems.push(`${k}: sum ${sum}, client ${want.sum}`);
  }
  for (const key of d.rows.keys()) {
    if (!tally.rows.has(key)) problems.push(`${key.replace('\t', ' / ')}: in the dump, not in the client's tallies`);
  }
  return problems;
}
