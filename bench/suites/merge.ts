/**
 * Merging shard state on the main thread: mergeSnapshots of 2 and 4 full
 * shard snapshots, and Accumulator.apply of 2 and 4 shard deltas (what every
 * delta a shard ships costs the main thread). Each shard holds 8 mail batches
 * (built-in metrics) and the same 2,000 `series` sub-metrics, so every node
 * merges with its peers.
 */
import { mergeSnapshots } from '../../src/merge/merge.js';
import type { EngineSnapshot } from '../../src/metrics/types.js';
import { benchConfig } from '../fixtures/config.js';
import { deltasOf, emptyAccumulator, feedShards } from '../fixtures/state.js';
import { addTask, rowsOf, type Row } from '../lib/report.js';
import { keep, newBench, type SuiteOptions } from './common.js';

const SERIES = 2000;

export async function mergeSuite(opts: SuiteOptions): Promise<Row[]> {
  const config = benchConfig();
  const bench = newBench(opts, 'merge');
  for (const shards of [2, 4]) {
    const engines = feedShards(config, { shards, series: SERIES, valuesEach: 3, mailBatches: 8, overlap: true });
    const full: EngineSnapshot[] = engines.map((e) => e.snapshot('full'));
    const basic: EngineSnapshot[] = engines.map((e) => e.snapshot('basic'));
    const nodes = countNodes(full[0] as EngineSnapshot);
    addTask(bench, `mergeSnapshots, ${shards} shards, full (${nodes} nodes each)`, () => keep(mergeSnapshots(full)), shards, 'snapshots');
    addTask(bench, `mergeSnapshots, ${shards} shards, basic (${nodes} nodes each)`, () => keep(mergeSnapshots(basic)), shards, 'snapshots');
    const deltas = deltasOf(engines);
    const acc = emptyAccumulator(config);
    for (const d of deltas) acc.apply(d);
    addTask(bench, `Accumulator.apply, ${shards} shard deltas (${nodes} nodes each)`, () => {
      for (const d of deltas) acc.apply(d);
    }, shards, 'deltas');
  }
  await bench.run();
  return rowsOf('merge', bench);
}

export function countNodes(s: EngineSnapshot): number {
  let n = 0;
  const walk = (x: { children: readonly unknown[] }): void => {
    n++;
    for (const c of x.children) walk(c as { children: readonly unknown[] });
  };
  for (const m of s.metrics) walk(m.root);
  return n;
}
