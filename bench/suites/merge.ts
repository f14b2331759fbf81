/**
 * Merging shard state on the main thread: mergeSnapshots of 2 and 4 full
 * shard snapshots, and Accumulator.apply of 2 and 4 shard deltas (what every
 * delta a shard ships costs the main thread). Each shard holds 8 mail batches
 * (built-in metrics) and the same 2,000 `series` sub-metrics, so every node
 * merges with its peers. And the runtime's per-batch costs: a shard ingests a
 * 1000-event batch and takes its delta; the main thread applies that delta to
 * an Accumulator in steady state, with and without its percentile hists.
 */
import type { FlatDelta } from '../../src/merge/delta.js';
import { Engine } from '../../src/engine/engine.js';
import { FORMAT_MSGPACK } from '../../src/event/decode.js';
import { mergeSnapshots } from '../../src/merge/merge.js';
import type { NodeSnapshot } from '../../src/metrics/types.js';
import { mailBatches, packBatch } from '../fixtures/mail.js';
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
    deltas.forEach((d, i) => acc.apply(d, i + 1));
    addTask(bench, `Accumulator.apply, ${shards} shard deltas (${nodes} nodes each)`, () => {
      deltas.forEach((d, i) => acc.apply(d, i + 1));
    }, shards, 'deltas');
  }
  perBatchTasks(bench);
  await bench.run();
  return rowsOf('merge', bench);
}

/** what the runtime pays per 1000-event batch: shard side and main side */
function perBatchTasks(bench: ReturnType<typeof newBench>): void {
  const config = benchConfig();
  const batches = mailBatches(64, 1000, 5).map(packBatch);
  const producer = new Engine(config);
  const deltas = batches.map((b) => {
    producer.ingestBytes(b, FORMAT_MSGPACK);
    return producer.takeDelta();
  });
  const shard = new Engine(config);
  const acc = emptyAccumulator(config);
  // steady state: the accumulators already hold a few thousand batches' worth
  for (let r = 0; r < 4; r++) for (let i = 0; i < deltas.length; i++) {
    acc.apply(deltas[i] as FlatDelta, 1);
  }
  let i = 0;
  let j = 0;
  addTask(bench, 'per batch, shard: Engine.ingestBytes + takeDelta (1000 events)', () => {
    shard.ingestBytes(batches[i++ % batches.length] as Buffer, FORMAT_MSGPACK);
    keep(shard.takeDelta());
  }, 1000, 'events');
  addTask(bench, 'per batch, main thread: Accumulator.apply of its delta', () => acc.apply(deltas[j++ % deltas.length] as FlatDelta, 1), 1000, 'events');
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
