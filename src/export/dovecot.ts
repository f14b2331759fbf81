/**
 * `openmetrics_style = dovecot` (docs/contract.md §8.3): the layout of Dovecot's
 * OpenMetrics exporter — every node, intermediate levels included; the root
 * as `_count` / `_duration_seconds_sum` / `_<field>_sum` when the metric has
 * group_by; a histogram per parent of the last level when only that level is
 * quantized; seconds in 32-bit float printed `%.6f`. Duplicate display names
 * are suffixed (`~2`) and a previous metric's buckets never leak into the next.
 */
import type { GroupByLevel } from '../config/types.js';
import type { Quantizer } from '../metrics/quantize.js';
import type { EngineSnapshot, MetricSnapshot, NodeSnapshot } from '../metrics/types.js';
import { formatCFixed, formatFloor, formatSample } from './cformat.js';
import { serializeFamilies } from './exposition.js';
import { childValues, escapeLabelValue, isLabelName, isMetricName, NameRegistry, namePart, quantizerOf } from './names.js';
import { buildInfo, selfFamilies } from './self.js';
import type { MetricsOptions } from './types.js';

/** µs → seconds as Dovecot computes it: `(float)sum / 1e6F`, printed `%.6f`. */
export function floatSeconds(us: number): string {
  return formatCFixed(Math.fround(Math.fround(us) / 1e6), 6);
}

/** A counter's sum: never negative (Dovecot's unsigned sums would wrap modulo 2^64). */
function sum0(x: number | undefined): number {
  return x !== undefined && x > 0 ? x : 0;
}

interface Visit {
  node: NodeSnapshot;
  /** depth of the node (root 0) */
  depth: number;
  /** `a="x",b="y"` */
  labels: string;
}

/** The nodes Dovecot's walk prints, pre-order, without the root; it never enters a quantized level. */
function walk(ms: MetricSnapshot): Visit[] {
  const levels = ms.def.groupBy;
  const out: Visit[] = [];
  const rec = (node: NodeSnapshot, depth: number, labels: string): void => {
    const level = levels[depth];
    if (level === undefined || level.kind !== 'discrete' || !isLabelName(level.field)) return;
    const kids = node.children;
    if (kids.length === 0) return;
    const names = childValues(kids, null);
    for (let i = 0; i < kids.length; i++) {
      const child = kids[i] as NodeSnapshot;
      const l = `${labels === '' ? '' : `${labels},`}${level.field}="${escapeLabelValue(names[i] as string)}"`;
      out.push({ node: child, depth: depth + 1, labels: l });
      rec(child, depth + 1, l);
    }
  };
  rec(ms.root, 0, '');
  return out;
}

function hasHistogram(levels: readonly GroupByLevel[]): boolean {
  const n = levels.length;
  if (n === 0) return false;
  for (let i = 0; i < n - 1; i++) if ((levels[i] as GroupByLevel).kind !== 'discrete') return false;
  return (levels[n - 1] as GroupByLevel).kind !== 'discrete';
}

function histogram(out: string[], fam: string, node: NodeSnapshot, q: Quantizer, labels: string): void {
  const isDuration = q.field === 'duration';
  const head = `${fam}_bucket{${labels === '' ? '' : `${labels},`}le="`;
  let sum = 0;
  let count = 0;
  const buckets = q.buckets;
  for (let i = 0; i < buckets.length; i++) {
    let child: NodeSnapshot | undefined;
    for (const c of node.children) {
      if (c.key === i) {
        child = c;
        break;
      }
    }
    if (child !== undefined) {
      sum = Math.fround(sum + Math.fround(sum0(child.dists[0]?.sum)));
      count += child.count;
    }
    const hi = (buckets[i] as { hi: number }).hi;
    const le = hi === Infinity ? '+Inf' : isDuration ? floatSeconds(hi) : formatFloor(hi);
    out.push(`${head}${le}"} ${count}`);
  }
  if (count === 0) return;
  const b = labels === '' ? '' : `{${labels}}`;
  out.push(`${fam}_sum${b} ${formatCFixed(isDuration ? Math.fround(sum / 1e6) : sum, 6)}`);
  out.push(`${fam}_count${b} ${count}`);
}

function metric(out: string[], ms: MetricSnapshot, prefix: string, fieldFamilies: boolean, reg: NameRegistry): void {
  const def = ms.def;
  if (!isMetricName(def.name)) return;
  const levels = def.groupBy;
  const grouped = levels.length > 0;
  const fam = reg.claim(`${prefix}_${def.name}`, 'dovecot');
  const of = def.description === '' ? '' : ` of ${def.description}`;
  const visits = walk(ms);
  const root = ms.root;
  const b = (v: Visit): string => `{${v.labels}}`;

  if (hasHistogram(levels)) {
    out.push(`# HELP ${fam} Histogram${of}`, `# TYPE ${fam} histogram`);
    const quantizers = levels.map(quantizerOf);
    for (const v of visits) {
      const q = quantizers[v.depth];
      if (q !== null && q !== undefined) histogram(out, fam, v.node, q, v.labels);
    }
    const q0 = quantizers[0];
    if (q0 !== null && q0 !== undefined) histogram(out, fam, root, q0, '');
  } else {
    out.push(`# HELP ${fam} Total number of all events of this kind${of}`, `# TYPE ${fam} counter`);
    for (const v of visits) out.push(`${fam}_total${b(v)} ${v.node.count}`);
    out.push(`${fam}${grouped ? '_count' : '_total'} ${root.count}`);
    const d = reg.claim(`${fam}_duration_seconds`, 'dovecot', 'seconds');
    out.push(`# HELP ${d} Total duration of all events of this kind${of}`, `# TYPE ${d} counter`);
    for (const v of visits) out.push(`${d}_total${b(v)} ${floatSeconds(sum0(v.node.dists[0]?.sum))}`);
    out.push(`${d}${grouped ? '_sum' : '_total'} ${floatSeconds(sum0(root.dists[0]?.sum))}`);
  }
  if (!fieldFamilies) return;
  def.fields.forEach((f, i) => {
    const ff = reg.claim(`${fam}_${namePart(f)}`, 'dovecot');
    out.push(`# HELP ${ff} Total of field value for events of this kind${of}`, `# TYPE ${ff} counter`);
    for (const v of visits) out.push(`${ff}_total${b(v)} ${formatSample(sum0(v.node.dists[i + 1]?.sum))}`);
    out.push(`${ff}${grouped ? '_sum' : '_total'} ${formatSample(sum0(root.dists[i + 1]?.sum))}`);
  });
}

export function renderDovecot(snap: EngineSnapshot, opts: MetricsOptions): string {
  const p = opts.prefix;
  const [version, revision, node] = buildInfo(opts);
  const out: string[] = [
    '# HELP process_start_time_seconds Timestamp of service start',
    '# TYPE process_start_time_seconds gauge',
    `process_start_time_seconds ${formatFloor(opts.startTimeSeconds)}`,
    '# HELP tallyd_build tallyd build information',
    '# TYPE tallyd_build info',
    `tallyd_build_info{version="${escapeLabelValue(version)}",revision="${escapeLabelValue(revision)}",node="${escapeLabelValue(node)}"} 1`,
  ];
  const reg = new NameRegistry();
  reg.claim('process_start_time_seconds', 'gauge');
  reg.claim('tallyd_build', 'info');
  const fields = opts.compat !== '2.3';
  for (const ms of snap.metrics) metric(out, ms, p, fields, reg);
  const self = selfFamilies(snap, opts.extra).map((f) => ({ ...f, name: reg.claim(f.name, f.kind) }));
  out.push(serializeFamilies(self, true, false) + '# EOF\n');
  return out.join('\n');
}
