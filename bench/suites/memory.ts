/**
 * Memory of sparse sub-metrics, in-process (heapUsed + external after a full
 * gc; needs node --expose-gc): a `series` sub-metric holding 3 values costs
 * a MetricNode with its Distribution in the shard that saw it, and an AccNode
 * with its DistSnapshot in the main thread's Accumulator. Also
 * bench/distribution-memory.ts's figures per distribution.
 */
import { Distribution, emptyDist, mergeInto } from '../../src/aggregate/index.js';
import { Engine } from '../../src/engine/engine.js';
import { MetricNode } from '../../src/metrics/node.js';
import { distributionMemory } from '../distribution-memory.js';
import { benchConfig } from '../fixtures/config.js';
import { seriesEvents } from '../fixtures/mail.js';
import { emptyAccumulator } from '../fixtures/state.js';
import { heapGrowth, heapNow } from '../lib/heap.js';
import { valueRow, type ValueRow } from '../lib/report.js';
import type { SuiteOptions } from './common.js';

export interface SubMetricMemory {
  /** bytes per sparse sub-metric in the shard's Metric tree */
  shard: number;
  /** bytes per sparse sub-metric in the main thread's Accumulator */
  main: number;
}

/**
 * heap per sparse (3-value) sub-metric, shard side and main side. The shard
 * side: an Engine alone, taking a delta after every batch as a shard does
 * (the deltas dropped); then the whole: an Engine and an Accumulator that
 * folds each delta as it is taken; the main side is the difference. Events
 * and deltas are made inside the measured windows and are garbage by their
 * ends (made before a window, freeing them would count against the nodes).
 */
export function subMetricMemory(n: number): SubMetricMemory {
  const config = benchConfig();
  const feed = (engine: Engine, acc: ReturnType<typeof emptyAccumulator> | null): void => {
    for (let i = 0; i < n; i += 999) {
      engine.ingest(seriesEvents(100 + i, 100 + Math.min(n, i + 999), 3));
      const d = engine.takeDelta();
      if (acc !== null) acc.apply(d, 1);
    }
  };
  const warm = (engine: Engine, acc: ReturnType<typeof emptyAccumulator> | null): void => {
    // code paths and the first nodes, outside the measurement
    engine.ingest(seriesEvents(0, 100, 3));
    const d = engine.takeDelta();
    if (acc !== null) acc.apply(d, 1);
  };
  const alone = new Engine(config);
  warm(alone, null);
  let before = heapNow();
  feed(alone, null);
  const shard = heapGrowth(before, heapNow());
  const engine = new Engine(config);
  const acc = emptyAccumulator(config);
  warm(engine, acc);
  before = heapNow();
  feed(engine, acc);
  const both = heapGrowth(before, heapNow());
  (globalThis as { keepBench?: unknown }).keepBench = [alone, engine, acc];
  (globalThis as { keepBench?: unknown }).keepBench = null;
  return { shard: shard / n, main: (both - shard) / n };
}

/** heap per object made by `make`, over `n` of them */
function perObject(n: number, make: (i: number) => unknown): number {
  const keep: unknown[] = new Array<unknown>(n).fill(0);
  const before = heapNow();
  for (let i = 0; i < n; i++) keep[i] = make(i);
  const per = heapGrowth(before, heapNow()) / n;
  (globalThis as { keepBench?: unknown }).keepBench = keep;
  (globalThis as { keepBench?: unknown }).keepBench = null;
  return per;
}

/** what a sparse sub-metric is made of (heap per object, 100k objects each) */
function components(): ValueRow[] {
  const n = 100_000;
  const three = (): Distribution => {
    const d = new Distribution();
    d.record(1000);
    d.record(2000);
    d.record(3000);
    return d;
  };
  const snap = three().snapshot('full');
  const rows: [string, (i: number) => unknown][] = [
    ['Float64Array(3)', () => new Float64Array(3)],
    ['Float64Array(14) (a Distribution\'s stats + first inline values)', () => new Float64Array(14)],
    ['number[] of 9 doubles (plain JS array, for comparison)', (i) => [i + 0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5]],
    ['Distribution with 3 values', three],
    ['MetricNode between deltas, holding no Distribution (shard side, names not shared)', (i) => new MetricNode(`s${i}`, `s${i}`, i, 3, i)],
    ['Map with 1 entry', (i) => new Map([[`s${i}`, 1]])],
    ['DistSnapshot of 3 values, full (what a delta carries)', () => three().snapshot('full')],
    ['emptyDist() + mergeInto(3-value snapshot), main side (hist shared with the snapshot, not counted)', () => mergeInto(emptyDist(), snap)],
  ];
  return rows.map(([name, make]) => valueRow('memory', `component: ${name}`, perObject(n, make), 'bytes/object'));
}

export async function memorySuite(opts: SuiteOptions): Promise<ValueRow[]> {
  const n = opts.quick ? 20_000 : 100_000;
  const sub = subMetricMemory(n);
  const rows = [
    valueRow('memory', `sparse sub-metric (3 values), shard Metric tree, ${n} sub-metrics`, sub.shard, 'bytes/sub-metric'),
    valueRow('memory', `sparse sub-metric (3 values), main Accumulator, ${n} sub-metrics`, sub.main, 'bytes/sub-metric'),
    valueRow('memory', 'sparse sub-metric (3 values), shard + main', sub.shard + sub.main, 'bytes/sub-metric'),
  ];
  if (!opts.quick) {
    const d = distributionMemory(50_000);
    rows.push(
      valueRow('memory', 'Distribution, sparse (3 values)', d.sparsePer, 'bytes/distribution'),
      valueRow('memory', 'Distribution, dense (1000 values, HDR)', d.densePer, 'bytes/distribution'),
      valueRow('memory', 'hdr-histogram-js Int32Histogram, same geometry (reference)', d.plainPer, 'bytes/histogram'),
      ...components(),
    );
  }
  return Promise.resolve(rows);
}
