/**
 * The strict family model (docs/contract.md §8.2) shared by OpenMetrics, Prometheus text
 * 0.0.4 and /metrics.json: per metric, one series per label set, built from
 * the leaves of the group_by tree plus what stopped above them.
 *
 * - Label levels: every group_by level but a last quantized one. A node's
 *   events that went no deeper (its count minus its children's, clamped at 0;
 *   likewise each sum) form the series with "" for the levels below; a real ""
 *   child with that label set is summed into the same series.
 * - A last quantized level gives each label-level series a histogram from its
 *   bucket children (all buckets, cumulative). Events that stopped above the
 *   last level are in the count and field families but in no bucket. For a
 *   field F other than duration, `_sum` is the sum of F when F is among the
 *   metric's `fields`; otherwise F's sum is not kept and the histogram has
 *   neither `_sum` nor `_count`.
 * - A strlist at a discrete level feeds one child per element, so its leaves
 *   add up to more than the events; nothing is subtracted there.
 * - Counter values and histogram sums are clamped at 0 (negative values would
 *   make an invalid counter; tallyd_negative_values_total counts them).
 */
import type { GroupByLevel } from '../config/types.js';
import type { Quantizer } from '../metrics/quantize.js';
import type { EngineSnapshot, MetricSnapshot, NodeSnapshot } from '../metrics/types.js';
import {
  childValues,
  escapeLabelValue,
  isMetricName,
  NameRegistry,
  namePart,
  quantizerOf,
  uniqueLabelNames,
} from './names.js';
import { buildInfo, selfFamilies } from './self.js';
import { helpOf, labelSet, NO_LABELS, type Family, type HistFamily, type HistSample, type LabelSet } from './family.js';
import type { MetricsOptions } from './types.js';
import { addDist, clampNative, newNative, type NativeAcc } from './native.js';

export interface Model {
  readonly families: Family[];
  readonly registry: NameRegistry;
  /** native histograms of every distribution at every leaf (only when asked for: they need a full snapshot) */
  readonly natives: NativeFamily[];
}

/** One native histogram family: `<stem>_duration_seconds` or `<stem>_<field>` (docs/native-histograms.md). */
export interface NativeFamily {
  readonly name: string;
  readonly help: string;
  readonly unit: string | null;
  readonly metric: number;
  readonly samples: { labels: LabelSet; hist: NativeAcc }[];
}

/** Accumulated figures of one series. */
interface Acc {
  labels: LabelSet;
  count: number;
  dur: number;
  fields: number[];
  /** per-bucket counts (not cumulative); null for a series without bucket data */
  buckets: number[] | null;
  hcount: number;
  hsum: number;
  /** per distribution index, when native histograms are built */
  nat: NativeAcc[] | null;
}

function clamp0(x: number): number {
  return x > 0 ? x : 0;
}

interface Shape {
  levels: readonly GroupByLevel[];
  /** number of label levels */
  depth: number;
  labelNames: string[];
  quantizers: (Quantizer | null)[];
  /** quantizer of a last quantized level, else null */
  last: Quantizer | null;
  /** dist index of the last quantized field's sum (0 = duration), -1 if not kept */
  lastDist: number;
  nFields: number;
}

export function shapeOf(ms: MetricSnapshot): Shape {
  const levels = ms.def.groupBy;
  const n = levels.length;
  const lastLevel = levels[n - 1];
  const lastQ = lastLevel !== undefined && lastLevel.kind !== 'discrete';
  const depth = lastQ ? n - 1 : n;
  const quantizers = levels.map(quantizerOf);
  const last = lastQ ? (quantizers[n - 1] ?? null) : null;
  let lastDist = -1;
  if (lastLevel !== undefined && lastQ) {
    const fi = ms.def.fields.indexOf(lastLevel.field);
    // a quantized field not among `fields` has a hidden distribution after them (trackedFields)
    lastDist = lastLevel.field === 'duration' ? 0 : fi < 0 ? ms.def.fields.length + 1 : fi + 1;
  }
  return {
    levels,
    depth,
    labelNames: uniqueLabelNames(levels.slice(0, depth).map((l) => l.field)),
    quantizers,
    last,
    lastDist,
    nFields: ms.def.fields.length,
  };
}

/** The series of one metric, in first-seen (pre-order) order. */
function seriesOf(ms: MetricSnapshot, sh: Shape, native: boolean): Acc[] {
  const nDists = ms.root.dists.length;
  const scales = ms.root.dists.map((_, i) => (i === 0 ? 1e-6 : 1));
  const map = new Map<string, Acc>();
  const order: Acc[] = [];
  const D = sh.depth;
  const nF = sh.nFields;
  const emptySuffix: string[] = [];
  for (let d = 0; d <= D; d++) {
    let s = '';
    for (let i = d; i < D; i++) s += `,${sh.labelNames[i] as string}=""`;
    emptySuffix.push(s);
  }
  /** the series of a label set; only sets with an empty value can be reached twice */
  const get = (text: string, values: () => string[], mergeable: boolean): Acc => {
    let a = mergeable ? map.get(text) : undefined;
    if (a === undefined) {
      a = {
        labels: { names: sh.labelNames, values: values(), text },
        count: 0,
        dur: 0,
        fields: new Array<number>(nF).fill(0),
        buckets: null,
        hcount: 0,
        hsum: 0,
        nat: native ? Array.from({ length: nDists }, newNative) : null,
      };
      if (mergeable) map.set(text, a);
      order.push(a);
    }
    return a;
  };
  const nb = sh.last === null ? 0 : sh.last.buckets.length;

  const leaf = (node: NodeSnapshot, vals: string[], text: string, empty: boolean): void => {
    const a = get(text, () => vals, empty);
    a.count += node.count;
    if (a.nat !== null) node.dists.forEach((d, i) => addDist(a.nat?.[i] as NativeAcc, d, scales[i] as number));
    a.dur += node.dists[0]?.sum ?? 0;
    for (let i = 0; i < nF; i++) a.fields[i] = (a.fields[i] as number) + (node.dists[i + 1]?.sum ?? 0);
    if (sh.last !== null) {
      const b = a.buckets ?? (a.buckets = new Array<number>(nb).fill(0));
      for (const c of node.children) {
        const k = c.key;
        if (typeof k !== 'number' || k < 0 || k >= nb) continue;
        b[k] = (b[k] as number) + c.count;
        a.hcount += c.count;
        if (sh.lastDist >= 0) a.hsum += c.dists[sh.lastDist]?.sum ?? 0;
      }
    }
  };

  const visit = (node: NodeSnapshot, depth: number, vals: string[], text: string, empty: boolean): void => {
    if (depth === D) {
      leaf(node, vals, text, empty);
      return;
    }
    const kids = node.children;
    let cc = 0;
    let cd = 0;
    const fc = new Array<number>(nF).fill(0);
    const fs = new Array<number>(nF).fill(0);
    for (const c of kids) {
      cc += c.count;
      cd += c.dists[0]?.sum ?? 0;
      for (let i = 0; i < nF; i++) {
        const d = c.dists[i + 1];
        if (d === undefined) continue;
        fc[i] = (fc[i] as number) + d.count;
        fs[i] = (fs[i] as number) + d.sum;
      }
    }
    const rc = node.count - cc;
    if (rc > 0) {
      const suffix = emptySuffix[depth] as string;
      const a = get(
        text === '' ? suffix.slice(1) : text + suffix,
        () => {
          const v = vals.slice();
          while (v.length < D) v.push('');
          return v;
        },
        true,
      );
      a.count += rc;
      if (a.nat !== null) {
        for (let i = 0; i < nDists; i++) {
          const r = newNative();
          const d = node.dists[i];
          if (d !== undefined) addDist(r, d, scales[i] as number);
          for (const c of kids) {
            const chd = c.dists[i];
            if (chd !== undefined) addDist(r, chd, scales[i] as number, -1);
          }
          clampNative(r);
          mergeNative(a.nat[i] as NativeAcc, r);
        }
      }
      a.dur += clamp0((node.dists[0]?.sum ?? 0) - cd);
      for (let i = 0; i < nF; i++) {
        const d = node.dists[i + 1];
        if (d !== undefined && d.count - (fc[i] as number) > 0) {
          a.fields[i] = (a.fields[i] as number) + clamp0(d.sum - (fs[i] as number));
        }
      }
    }
    if (kids.length === 0) return;
    const names = childValues(kids, sh.quantizers[depth] ?? null);
    const ln = sh.labelNames[depth] as string;
    for (let i = 0; i < kids.length; i++) {
      const v = names[i] as string;
      const t = `${text === '' ? '' : `${text},`}${ln}="${escapeLabelValue(v)}"`;
      visit(kids[i] as NodeSnapshot, depth + 1, [...vals, v], t, empty || v === '');
    }
  };
  visit(ms.root, 0, [], '', false);
  return order;
}

function mergeNative(into: NativeAcc, r: NativeAcc): void {
  into.count += r.count;
  into.sum += r.sum;
  into.zero += r.zero;
  for (const [k, n] of r.buckets) into.buckets.set(k, (into.buckets.get(k) ?? 0) + n);
}

function secondsLe(us: number): number {
  return us / 1e6;
}

/** The families of one metric: count, duration (counter or histogram), histogram of a quantized field, fields. */
export function metricFamilies(
  ms: MetricSnapshot,
  index: number,
  prefix: string,
  reg: NameRegistry,
  out: Family[],
  natives?: NativeFamily[],
): void {
  const def = ms.def;
  if (!isMetricName(def.name)) return;
  const sh = shapeOf(ms);
  const series = seriesOf(ms, sh, natives !== undefined);
  const stem = `${prefix}_${def.name}`;
  const desc = def.description;
  if (natives !== undefined) {
    const lastField = sh.levels[sh.levels.length - 1]?.field ?? '';
    ms.root.dists.forEach((_, i) => {
      const field = i === 0 ? null : i <= def.fields.length ? (def.fields[i - 1] as string) : lastField;
      natives.push({
        name: field === null ? `${stem}_duration_seconds` : `${stem}_${namePart(field)}`,
        help: helpOf(field === null ? 'Histogram of the duration of all events of this kind' : `Histogram of field ${field} for events of this kind`, desc),
        unit: field === null ? 'seconds' : null,
        metric: index,
        samples: series.map((a) => ({ labels: a.labels, hist: a.nat?.[i] as NativeAcc })),
      });
    });
  }

  out.push({
    kind: 'counter',
    name: reg.claim(stem, 'counter'),
    help: helpOf('Total number of all events of this kind', desc),
    unit: null,
    metric: index,
    samples: series.map((a) => ({ labels: a.labels, value: a.count })),
  });

  const histOf = (name: string, help: string, unit: string | null, toLe: (x: number) => number, scale: number): HistFamily => {
    const q = sh.last as Quantizer;
    const bounds: number[] = [];
    const les: string[] = [];
    for (const b of q.buckets) {
      if (b.hi === Infinity) continue;
      const le = toLe(b.hi);
      bounds.push(le);
      les.push(String(le));
    }
    les.push('+Inf');
    const samples: HistSample[] = [];
    for (const a of series) {
      const b = a.buckets;
      if (b === null) continue;
      const cumulative: number[] = new Array(b.length);
      let run = 0;
      for (let i = 0; i < b.length; i++) cumulative[i] = run += b[i] as number;
      samples.push({
        labels: a.labels,
        cumulative,
        count: a.hcount,
        sum: sh.lastDist >= 0 ? clamp0(a.hsum) / scale : null,
      });
    }
    return { kind: 'histogram', name, help, unit, metric: index, bounds, les, samples };
  };

  const lastLevel = sh.last === null ? null : (sh.levels[sh.levels.length - 1] as GroupByLevel);
  if (lastLevel !== null && lastLevel.field === 'duration') {
    out.push(
      histOf(
        reg.claim(`${stem}_duration_seconds`, 'histogram', 'seconds'),
        helpOf('Histogram of the duration of all events of this kind', desc),
        'seconds',
        secondsLe,
        1e6,
      ),
    );
  } else {
    out.push({
      kind: 'counter',
      name: reg.claim(`${stem}_duration_seconds`, 'counter', 'seconds'),
      help: helpOf('Total duration of all events of this kind', desc),
      unit: 'seconds',
      metric: index,
      samples: series.map((a) => ({ labels: a.labels, value: clamp0(a.dur) / 1e6 })),
    });
    if (lastLevel !== null) {
      out.push(
        histOf(
          reg.claim(`${stem}_${namePart(lastLevel.field)}`, 'histogram'),
          helpOf(`Histogram of field ${lastLevel.field} for events of this kind`, desc),
          null,
          (x) => x,
          1,
        ),
      );
    }
  }

  def.fields.forEach((f, i) => {
    // the histogram of a quantized field carries its total as `_sum`
    if (lastLevel !== null && lastLevel.field === f && f !== 'duration') return;
    out.push({
      kind: 'counter',
      name: reg.claim(`${stem}_${namePart(f)}`, 'counter'),
      help: helpOf(`Total of field ${f} for events of this kind`, desc),
      unit: null,
      metric: index,
      samples: series.map((a) => ({ labels: a.labels, value: clamp0(a.fields[i] as number) })),
    });
  });
}

/** Preamble, metric families and self-metrics of the strict style. */
export function buildModel(snap: EngineSnapshot, opts: MetricsOptions, native = false): Model {
  const natives: NativeFamily[] = [];
  const reg = new NameRegistry();
  const families: Family[] = [];
  families.push({
    kind: 'gauge',
    name: reg.claim('process_start_time_seconds', 'gauge', 'seconds'),
    help: 'Start time of the process since unix epoch in seconds',
    unit: 'seconds',
    metric: -1,
    samples: [{ labels: NO_LABELS, value: opts.startTimeSeconds }],
  });
  families.push({
    kind: 'info',
    name: reg.claim('tallyd_build', 'info'),
    help: 'tallyd build information',
    unit: null,
    metric: -1,
    samples: [{ labels: labelSet(['version', 'revision', 'node'], buildInfo(opts)), value: 1 }],
  });
  snap.metrics.forEach((ms, i) => metricFamilies(ms, i, opts.prefix, reg, families, native ? natives : undefined));
  for (const f of selfFamilies(snap, opts.extra)) families.push({ ...f, name: reg.claim(f.name, f.kind) });
  return { families, registry: reg, natives };
}

