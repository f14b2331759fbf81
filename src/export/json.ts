/**
 * `GET /metrics.json` in KumoMTA's shape (docs/contract.md §8.4), as valid
 * JSON: the strict families keyed by their text 0.0.4 names, and per metric
 * a `summary` family of every node's figures.
 */
import { medianOf, percentileOf, statOf } from '../aggregate/index.js';
import type { DistSnapshot } from '../aggregate/types.js';
import type { MetricSnapshot, NodeSnapshot } from '../metrics/types.js';
import type { EngineSnapshot } from '../metrics/types.js';
import { formatJsonNumber } from './cformat.js';
import type { Family, HistFamily, HistSample, LabelSet } from './family.js';
import { helpOf } from './family.js';
import { buildModel } from './model.js';
import { childValues, type NameRegistry, quantizerOf, uniqueLabelNames } from './names.js';
import type { MetricsOptions } from './types.js';

export const CONTENT_TYPE_JSON = 'application/json; charset=utf-8';

/** The figures of a summary entry, in order. */
export const SUMMARY_STATS: readonly string[] = ['count', 'sum', 'avg', 'median', '%95', '%99', 'stddev', 'min', 'max'];

const q = (s: string): string => JSON.stringify(s);

function histValueJson(f: HistFamily, s: HistSample): string {
  let buckets = '';
  const n = f.bounds.length;
  for (let i = 0; i < n; i++) {
    buckets += `${i === 0 ? '' : ','}[${formatJsonNumber(f.bounds[i] as number)},${formatJsonNumber(s.cumulative[i] as number)}]`;
  }
  const sum =
    s.sum === null
      ? ''
      : `,"sum":${formatJsonNumber(s.sum)},"avg":${formatJsonNumber(s.count > 0 ? s.sum / s.count : 0)}`;
  return `{"count":${formatJsonNumber(s.count)}${sum},"bucket":[${buckets}]}`;
}

/**
 * KumoMTA's value layout: no labels → the value; one label →
 * `{"<label>":{"<value>":v,…}}`; more → `[{"<l1>":"<v1>",…,"@":v},…]`;
 * no sample → null.
 */
function layout(entries: readonly { labels: LabelSet; v: string }[]): string {
  const first = entries[0];
  if (first === undefined) return 'null';
  const names = first.labels.names;
  if (names.length === 0) return first.v;
  if (names.length === 1) {
    let o = '';
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i] as { labels: LabelSet; v: string };
      o += `${i === 0 ? '' : ','}${q(e.labels.values[0] ?? '')}:${e.v}`;
    }
    return `{${q(names[0] as string)}:{${o}}}`;
  }
  const quoted = new Map<string, string>();
  let o = '';
  for (let r = 0; r < entries.length; r++) {
    const e = entries[r] as { labels: LabelSet; v: string };
    const ln = e.labels.names;
    const lv = e.labels.values;
    o += r === 0 ? '{' : ',{';
    for (let i = 0; i < ln.length; i++) {
      const name = ln[i] as string;
      let k = quoted.get(name);
      if (k === undefined) quoted.set(name, (k = `${q(name)}:`));
      o += `${k}${q(lv[i] as string)},`;
    }
    o += `"@":${e.v}}`;
  }
  return `[${o}]`;
}

function familyKey(f: Family): string {
  if (f.jsonKey !== undefined) return f.jsonKey;
  return f.kind === 'counter' ? `${f.name}_total` : f.kind === 'info' ? `${f.name}_info` : f.name;
}

function familyJson(f: Family): string {
  const type = f.kind === 'info' ? 'gauge' : f.kind;
  let value: string;
  if (f.kind === 'histogram') {
    value = layout(f.samples.map((s) => ({ labels: s.labels, v: histValueJson(f, s) })));
  } else {
    value = layout(f.samples.map((s) => ({ labels: s.labels, v: formatJsonNumber(s.value) })));
  }
  const help = f.help === '' ? '' : `"help":${q(f.help)},`;
  return `${q(familyKey(f))}:{${help}"type":"${type}","value":${value}}`;
}

const STAT_KEYS = SUMMARY_STATS.map((name) => `${q(name)}:`);

function stat(d: DistSnapshot, name: string): number | undefined {
  switch (name) {
    case 'median':
      return medianOf(d);
    case '%95':
      return percentileOf(d, 95);
    case '%99':
      return percentileOf(d, 99);
    default:
      return statOf(d, name);
  }
}

function statsJson(d: DistSnapshot | undefined): string {
  let o = '{';
  for (let i = 0; i < SUMMARY_STATS.length; i++) {
    const v = d === undefined ? undefined : stat(d, SUMMARY_STATS[i] as string);
    o += `${i === 0 ? '' : ','}${STAT_KEYS[i] as string}${v === undefined ? 'null' : formatJsonNumber(v)}`;
  }
  return `${o}}`;
}

/**
 * Every node (root first, pre-order), one entry per distribution: labels are
 * the group_by levels (null below the node's depth, the range for a quantized
 * level) and `field` (`duration` or the configured field; a field listed twice
 * gets `~2`).
 */
function summaryJson(ms: MetricSnapshot, prefix: string, reg: NameRegistry): string {
  const def = ms.def;
  const levels = def.groupBy;
  const n = levels.length;
  const keys = uniqueLabelNames([...levels.map((l) => l.field), 'field']).map((k) => `${q(k)}:`);
  const quantizers = levels.map(quantizerOf);
  const fieldNames = childValues(
    ['duration', ...def.fields].map((f) => ({ name: f, key: f, firstSeq: 0, count: 0, dists: [], children: [] })),
    null,
  ).map(q);
  let value: string;
  if (n === 0) {
    let o = '';
    fieldNames.forEach((f, j) => {
      o += `${j === 0 ? '' : ','}${f}:${statsJson(ms.root.dists[j])}`;
    });
    value = `{${keys[0] as string}{${o}}}`;
  } else {
    const nulls: string[] = [];
    for (let d = 0; d <= n; d++) {
      let s = '';
      for (let i = d; i < n; i++) s += `${keys[i] as string}null,`;
      nulls.push(s);
    }
    const fieldKey = keys[n] as string;
    const rows: string[] = [];
    const visit = (node: NodeSnapshot, depth: number, path: string): void => {
      const head = `{${path}${nulls[depth] as string}${fieldKey}`;
      for (let j = 0; j < fieldNames.length; j++) {
        rows.push(`${head}${fieldNames[j] as string},"@":${statsJson(node.dists[j])}}`);
      }
      if (node.children.length === 0) return;
      const vals = childValues(node.children, quantizers[depth] ?? null);
      const key = keys[depth] as string;
      node.children.forEach((c, i) => visit(c, depth + 1, `${path}${key}${q(vals[i] as string)},`));
    };
    visit(ms.root, 0, '');
    value = `[${rows.join(',')}]`;
  }
  const name = reg.claim(`${prefix}_${def.name}_summary`, 'summary');
  const help = q(helpOf('Figures of every node of all events of this kind', def.description));
  return `${q(name)}:{"help":${help},"type":"summary","value":${value}}`;
}

export function renderJson(snap: EngineSnapshot, opts: MetricsOptions): string {
  const { families, registry } = buildModel(snap, opts);
  const parts: string[] = [];
  for (let i = 0; i < families.length; i++) {
    const f = families[i] as Family;
    parts.push(familyJson(f));
    const m = f.metric;
    if (m >= 0 && families[i + 1]?.metric !== m) {
      const ms = snap.metrics[m];
      if (ms !== undefined) parts.push(summaryJson(ms, opts.prefix, registry));
    }
  }
  return `{\n${parts.join(',\n')}\n}\n`;
}
