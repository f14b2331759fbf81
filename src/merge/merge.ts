/**
 * Exact combination of shard snapshots (docs/contract.md §6): counts and sums add,
 * min/max combine, histograms add, M2 by the parallel formula; children are
 * matched by identity and ordered by first sight across shards.
 */
import { mergeDist } from '../aggregate/index.js';
import type { EngineCounters, EngineSnapshot, MetricSnapshot, NodeSnapshot } from '../metrics/types.js';
import type { ChildKey } from '../metrics/types.js';

function mergeNodes(a: NodeSnapshot, b: NodeSnapshot): NodeSnapshot {
  const dists = a.dists.map((d, i) => {
    const o = b.dists[i];
    return o === undefined ? d : mergeDist(d, o);
  });
  return {
    name: a.name,
    key: a.key,
    firstSeq: Math.min(a.firstSeq, b.firstSeq),
    count: a.count + b.count,
    dists,
    children: mergeChildren(a.children, b.children),
  };
}

function mergeChildren(a: NodeSnapshot[], b: NodeSnapshot[]): NodeSnapshot[] {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  // A batch is processed by one shard, so children first seen in the same
  // batch come from one list: they keep that list's order (`rank`).
  const byKey = new Map<ChildKey, { n: NodeSnapshot; rank: number }>();
  const out: { n: NodeSnapshot; rank: number }[] = [];
  a.forEach((n, rank) => {
    const e = { n, rank };
    byKey.set(n.key, e);
    out.push(e);
  });
  b.forEach((c, rank) => {
    const e = byKey.get(c.key);
    if (e === undefined) {
      const f = { n: c, rank };
      byKey.set(c.key, f);
      out.push(f);
    } else {
      if (c.firstSeq < e.n.firstSeq) e.rank = rank;
      e.n = mergeNodes(e.n, c);
    }
  });
  return out.sort((x, y) => x.n.firstSeq - y.n.firstSeq || x.rank - y.rank).map((x) => x.n);
}

function mergeMetric(a: MetricSnapshot, b: MetricSnapshot): MetricSnapshot {
  return {
    def: a.def,
    root: mergeNodes(a.root, b.root),
    overflow: a.overflow + b.overflow,
    subMetrics: a.subMetrics + b.subMetrics,
  };
}

export function mergeCounters(a: EngineCounters, b: EngineCounters): EngineCounters {
  const rejected: Record<string, number> = { ...a.eventsRejected };
  for (const k of Object.keys(b.eventsRejected)) rejected[k] = (rejected[k] ?? 0) + (b.eventsRejected[k] ?? 0);
  return {
    eventsReceived: a.eventsReceived + b.eventsReceived,
    eventsAccepted: a.eventsAccepted + b.eventsAccepted,
    eventsRejected: rejected,
    eventsLost: a.eventsLost + b.eventsLost,
    batches: a.batches + b.batches,
    bytes: a.bytes + b.bytes,
    negativeValues: a.negativeValues + b.negativeValues,
  };
}

/** Merges shard snapshots; metrics in the order of the first snapshot that has them. */
export function mergeSnapshots(snaps: readonly EngineSnapshot[]): EngineSnapshot {
  const first = snaps[0];
  if (first === undefined) throw new Error('mergeSnapshots needs at least one snapshot');
  const order: string[] = [];
  const byName = new Map<string, MetricSnapshot>();
  let counters = first.counters;
  snaps.forEach((s, si) => {
    if (si > 0) counters = mergeCounters(counters, s.counters);
    for (const m of s.metrics) {
      const prev = byName.get(m.def.name);
      if (prev === undefined) {
        order.push(m.def.name);
        byName.set(m.def.name, m);
      } else byName.set(m.def.name, mergeMetric(prev, m));
    }
  });
  return { metrics: order.map((n) => byName.get(n) as MetricSnapshot), counters };
}
