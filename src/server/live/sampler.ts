/**
 * The live page's figures: the merged state sampled once a second (while a
 * live client is connected), a ring of the last minute of samples, and
 * from it true time windows — events/s from counter differences between
 * two samples divided by the time between them, and p50/p95/p99 of the
 * last minute from the difference of the duration histograms now and a
 * minute ago (aggregate/window.ts).
 *
 * Cost bounds: per metric, at most MAX_NODES_PER_METRIC sub-metrics are
 * counted (first seen first), and only the metric itself and its
 * TOP_SUB_METRICS busiest sub-metrics of the last minute keep histograms.
 */
import { windowPercentiles, type DistHist } from '../../aggregate/index.js';
import { dumpNamePart } from '../../export/index.js';
import type { EngineSnapshot, NodeSnapshot } from '../../metrics/types.js';
import type { Runtime } from '../../shard/runtime.js';

export const WINDOW_SECONDS = 60;
export const TOP_SUB_METRICS = 20;
export const MAX_NODES_PER_METRIC = 1000;
export const SAMPLE_INTERVAL_MS = 1000;
const PERCENTILES = [50, 95, 99] as const;
/** a sample this much older than a window's length still serves as its start (timer jitter) */
const SLACK_MS = 400;

interface MetricSample {
  /** counts by slot (see Sampler.slots) */
  counts: Float64Array;
  /** duration histograms of the tracked series (the metric itself: '') */
  hists: Map<string, DistHist | undefined>;
  subMetrics: number;
}

interface Sample {
  /** Unix time, ms */
  t: number;
  accepted: number;
  received: number;
  lost: number;
  rejected: Record<string, number>;
  shards: { index: number; accepted: number; fill: number; restarts: number; pending: number }[];
  metrics: Map<string, MetricSample>;
}

/** One series (a metric, or one of its sub-metrics) at one sample. */
export interface SeriesPoint {
  /** dump name: `metric` or `metric_sub_sub` */
  name: string;
  /** events counted so far */
  count: number;
  /** events/s over the last second */
  eps: number;
  /** events/s over the last minute */
  eps60: number;
  /** duration percentiles of the last minute; null when no event came in it */
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

export interface MetricPoint {
  name: string;
  total: SeriesPoint;
  /** the busiest sub-metrics of the last minute, at most TOP_SUB_METRICS */
  subs: SeriesPoint[];
  /** sub-metrics the metric has */
  subMetrics: number;
}

export interface ShardPoint {
  index: number;
  /** ring fill, 0 to 1 */
  fill: number;
  /** events/s the shard accepted over the last second */
  eps: number;
  restarts: number;
  pending: number;
}

export interface LivePoint {
  /** Unix time, s */
  t: number;
  accepted: number;
  received: number;
  lost: number;
  /** rejected events so far, by reason */
  rejected: Record<string, number>;
  /** accepted events/s over the last 1, 10 and 60 s */
  eps: { s1: number; s10: number; s60: number };
  /** rejected events of the last minute, by reason; lost events of the last minute */
  rejected60: Record<string, number>;
  lost60: number;
  /** seconds of samples behind the minute figures (less than 60 in the first minute a page is open) */
  span: number;
  shards: ShardPoint[];
  metrics: MetricPoint[];
}

/** a difference of two readings of a counter; a counter that went down was reset: what it counts since */
function delta(now: number, then: number): number {
  return now >= then ? now - then : now;
}

function rate(now: number, then: number, ms: number): number {
  return ms > 0 ? (delta(now, then) * 1000) / ms : 0;
}

export class Sampler {
  private readonly rt: Runtime;
  private samples: Sample[] = [];
  /** per metric: sub-metric dump name → slot in MetricSample.counts (the metric itself is slot 0) */
  private slots = new Map<string, Map<string, number>>();

  constructor(rt: Runtime) {
    this.rt = rt;
  }

  /** Forgets the history (no one is watching). */
  clear(): void {
    this.samples = [];
    this.slots = new Map();
  }

  /** Takes a sample of the merged state and returns the figures of this moment. */
  async sample(): Promise<LivePoint> {
    const s = await this.rt.snapshot((snap) => this.take(snap));
    this.samples.push(s);
    const keep = (WINDOW_SECONDS + 2) * 1000;
    while (this.samples.length > 0 && s.t - (this.samples[0] as Sample).t > keep) this.samples.shift();
    return this.point(s);
  }

  /** The sample at the start of a window of `seconds` ending at `now`: the oldest one within it, else `now`. */
  private base(now: Sample, seconds: number): Sample {
    for (const x of this.samples) if (now.t - x.t <= seconds * 1000 + SLACK_MS) return x;
    return now;
  }

  private previous(now: Sample): Sample {
    return this.samples.length >= 2 ? (this.samples[this.samples.length - 2] as Sample) : now;
  }

  /** Synchronous, inside the snapshot: the state must not change while it is read. */
  private take(snap: EngineSnapshot): Sample {
    const t = Date.now();
    const st = this.rt.stats();
    const c = snap.counters;
    const s: Sample = {
      t,
      accepted: c.eventsAccepted,
      received: c.eventsReceived,
      lost: c.eventsLost,
      rejected: { ...c.eventsRejected },
      shards: st.shards.map((x) => ({ index: x.index, accepted: x.accepted, fill: x.ringUsed / x.ringCapacity, restarts: x.restarts, pending: x.pending })),
      metrics: new Map(),
    };
    const now = { t } as Sample;
    const base = this.samples.length > 0 ? this.base(now, WINDOW_SECONDS) : null;
    for (const m of snap.metrics) {
      const name = m.def.name;
      let slots = this.slots.get(name);
      if (slots === undefined) this.slots.set(name, (slots = new Map([['', 0]])));
      const nodes = new Map<string, NodeSnapshot>([['', m.root]]);
      let visited = 0;
      const visit = (n: NodeSnapshot, path: string): void => {
        for (const ch of n.children) {
          if (visited >= MAX_NODES_PER_METRIC) return;
          const p = path === '' ? dumpNamePart(ch.name) : `${path}_${dumpNamePart(ch.name)}`;
          if (nodes.has(p)) continue;
          visited++;
          nodes.set(p, ch);
          if (!(slots as Map<string, number>).has(p) && (slots as Map<string, number>).size <= MAX_NODES_PER_METRIC) {
            (slots as Map<string, number>).set(p, (slots as Map<string, number>).size);
          }
          visit(ch, p);
        }
      };
      visit(m.root, '');
      const counts = new Float64Array(slots.size);
      for (const [p, n] of nodes) {
        const slot = slots.get(p);
        if (slot !== undefined) counts[slot] = n.count;
      }
      // the busiest sub-metrics of the last minute keep their histograms
      const before = base?.metrics.get(name)?.counts;
      const ranked: [string, number, number][] = [];
      for (const [p, slot] of slots) {
        if (p === '') continue;
        const now = counts[slot] ?? 0;
        if (now === 0) continue;
        ranked.push([p, delta(now, before?.[slot] ?? 0), now]);
      }
      ranked.sort((a, b) => b[1] - a[1] || b[2] - a[2]);
      const hists = new Map<string, DistHist | undefined>();
      hists.set('', m.root.dists[0]?.hist as DistHist | undefined);
      for (const [p] of ranked.slice(0, TOP_SUB_METRICS)) hists.set(p, nodes.get(p)?.dists[0]?.hist as DistHist | undefined);
      s.metrics.set(name, { counts, hists, subMetrics: m.subMetrics });
    }
    return s;
  }

  private series(name: string, key: string, slot: number, now: Sample, prev: Sample, base: Sample): SeriesPoint {
    const metricNow = now.metrics.get(name) as MetricSample;
    const count = metricNow.counts[slot] ?? 0;
    const prevCount = prev.metrics.get(name)?.counts[slot] ?? 0;
    const baseCount = base.metrics.get(name)?.counts[slot] ?? 0;
    // the histogram at the window's start: the base sample's, or the first later one that kept it
    // (a sub-metric that just became one of the busiest); none when the series was empty at the start
    let then: DistHist | undefined;
    let thenCount = 0;
    let found = baseCount === 0;
    for (let i = this.samples.indexOf(base); !found && i >= 0 && i < this.samples.length; i++) {
      const ms = (this.samples[i] as Sample).metrics.get(name);
      if (ms?.hists.has(key) === true) {
        then = ms.hists.get(key);
        thenCount = ms.counts[slot] ?? 0;
        found = true;
      }
    }
    if (thenCount > count) then = undefined; // reset within the window
    const w = windowPercentiles(metricNow.hists.get(key), then, PERCENTILES);
    const ps = w.count === 0 ? [null, null, null] : w.values;
    return {
      name: key === '' ? name : `${name}_${key}`,
      count,
      eps: rate(count, prevCount, now.t - prev.t),
      eps60: rate(count, baseCount, now.t - base.t),
      p50: ps[0] ?? null,
      p95: ps[1] ?? null,
      p99: ps[2] ?? null,
    };
  }

  private point(now: Sample): LivePoint {
    const prev = this.previous(now);
    const b10 = this.base(now, 10);
    const b60 = this.base(now, WINDOW_SECONDS);
    const rejected60: Record<string, number> = {};
    for (const [reason, n] of Object.entries(now.rejected)) {
      const d = delta(n, b60.rejected[reason] ?? 0);
      if (d > 0) rejected60[reason] = d;
    }
    const metrics: MetricPoint[] = [];
    for (const [name, ms] of now.metrics) {
      const slots = this.slots.get(name) as Map<string, number>;
      const subs: SeriesPoint[] = [];
      for (const key of ms.hists.keys()) if (key !== '') subs.push(this.series(name, key, slots.get(key) as number, now, prev, b60));
      metrics.push({ name, total: this.series(name, '', 0, now, prev, b60), subs, subMetrics: ms.subMetrics });
    }
    return {
      t: now.t / 1000,
      accepted: now.accepted,
      received: now.received,
      lost: now.lost,
      rejected: now.rejected,
      eps: {
        s1: rate(now.accepted, prev.accepted, now.t - prev.t),
        s10: rate(now.accepted, b10.accepted, now.t - b10.t),
        s60: rate(now.accepted, b60.accepted, now.t - b60.t),
      },
      rejected60,
      lost60: delta(now.lost, b60.lost),
      span: (now.t - b60.t) / 1000,
      shards: now.shards.map((x) => {
        const p = prev.shards.find((y) => y.index === x.index);
        return { index: x.index, fill: x.fill, eps: rate(x.accepted, p?.accepted ?? x.accepted, now.t - prev.t), restarts: x.restarts, pending: x.pending };
      }),
      metrics,
    };
  }
}
