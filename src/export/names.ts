/**
 * Names and escaping shared by the text formats: family and label names
 * made valid, label values escaped, duplicate display names kept distinct.
 */
import type { GroupByLevel } from '../config/types.js';
import { Quantizer } from '../metrics/quantize.js';
import type { NodeSnapshot } from '../metrics/types.js';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const NOT_NAME_CHAR = /[^a-zA-Z0-9_]/g;

export function isMetricName(s: string): boolean {
  return METRIC_NAME.test(s);
}

export function isLabelName(s: string): boolean {
  return LABEL_NAME.test(s);
}

/** A field name as a part of a family name: every character outside `[a-zA-Z0-9_]` becomes `_`. */
export function namePart(s: string): string {
  const r = s.replace(NOT_NAME_CHAR, '_');
  return r === '' ? '_' : r;
}

/** Label names the formats use themselves (or linters reserve). */
const RESERVED_LABELS = new Set(['le', 'quantile']);

/**
 * A group_by field as a label name: characters outside `[a-zA-Z0-9_]`
 * become `_`; a leading digit or `__` gets an `l_` / `l` prefix; `le` and
 * `quantile` get a trailing `_`.
 */
export function labelPart(s: string): string {
  let r = s.replace(NOT_NAME_CHAR, '_');
  if (r === '') r = 'field';
  if (r.charCodeAt(0) >= 48 && r.charCodeAt(0) <= 57) r = `l_${r}`;
  else if (r.startsWith('__')) r = `l${r}`;
  if (RESERVED_LABELS.has(r)) r += '_';
  return r;
}

/**
 * Label names for the given fields, in order: a name already taken (two
 * levels grouping by one field, or two fields sanitizing alike) gets
 * `_2`, `_3`, … (the first free one).
 */
export function uniqueLabelNames(fields: readonly string[], taken: Iterable<string> = []): string[] {
  const used = new Set<string>(taken);
  const out: string[] = [];
  for (const f of fields) {
    const base = labelPart(f);
    let name = base;
    for (let k = 2; used.has(name); k++) name = `${base}_${k}`;
    used.add(name);
    out.push(name);
  }
  return out;
}

const LABEL_ESCAPE = /[\\"\n]/;

/** A label value (and an OpenMetrics HELP text): `\` → `\\`, `"` → `\"`, LF → `\n`. */
export function escapeLabelValue(s: string): string {
  if (!LABEL_ESCAPE.test(s)) return s;
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** A HELP text of Prometheus text 0.0.4: only `\` and LF are escaped there. */
export function escapeHelpText(s: string): string {
  if (!/[\\\n]/.test(s)) return s;
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** `dovecot`: a family of Dovecot's layout (a counter with `_count`/`_sum` root samples, or a histogram) */
export type FamilyKind = 'counter' | 'gauge' | 'histogram' | 'info' | 'summary' | 'dovecot';

const SUFFIXES: Record<FamilyKind, readonly string[]> = {
  counter: ['', '_total', '_created'],
  gauge: [''],
  histogram: ['', '_bucket', '_count', '_sum', '_created'],
  info: ['', '_info'],
  summary: ['', '_count', '_sum', '_created'],
  dovecot: ['', '_total', '_count', '_sum', '_bucket', '_created'],
};

/**
 * Family names of one render. A family claims its name and every sample
 * name its type can produce; a name that would clash with an earlier
 * family gets `_2`, `_3`, … inserted before its unit suffix.
 */
export class NameRegistry {
  private readonly used = new Set<string>();

  claim(stem: string, kind: FamilyKind, unit: string | null = null): string {
    const suffix = unit !== null && stem.endsWith(`_${unit}`) ? `_${unit}` : '';
    const base = stem.slice(0, stem.length - suffix.length);
    let name = stem;
    for (let k = 2; !this.free(name, kind); k++) name = `${base}_${k}${suffix}`;
    for (const s of SUFFIXES[kind]) this.used.add(name + s);
    return name;
  }

  private free(name: string, kind: FamilyKind): boolean {
    for (const s of SUFFIXES[kind]) if (this.used.has(name + s)) return false;
    return true;
  }
}

/** Label value of a quantized child: its range, the bucket name without `<field>_` (`1_500`, `ninf_10`). */
export function rangeValue(q: Quantizer, child: NodeSnapshot): string {
  if (typeof child.key === 'number') {
    const b = q.buckets[child.key];
    if (b !== undefined) {
      const prefix = `${q.field}_`;
      return b.name.startsWith(prefix) ? b.name.slice(prefix.length) : b.name;
    }
  }
  return child.name;
}

export function quantizerOf(level: GroupByLevel): Quantizer | null {
  return level.kind === 'discrete' ? null : new Quantizer(level);
}

/**
 * The values children are exported under: a discrete child's display name
 * (the range for a quantized level); a name seen before among the siblings
 * gets `~2`, `~3`, … (the first free one), so that two children never
 * share one label set.
 */
export function childValues(children: readonly NodeSnapshot[], q: Quantizer | null): string[] {
  const out: string[] = new Array(children.length);
  const seen = new Set<string>();
  for (let i = 0; i < children.length; i++) {
    const c = children[i] as NodeSnapshot;
    const v = q === null ? c.name : rangeValue(q, c);
    let name = v;
    if (seen.has(name)) for (let k = 2; seen.has(name); k++) name = `${v}~${k}`;
    seen.add(name);
    out[i] = name;
  }
  return out;
}
