/**
 * Memory and record() speed of Distribution against plain hdr-histogram-js
 * (js32, same geometry). Run: node --expose-gc dist/bench/distribution-memory.js
 */
import { serialize } from 'node:v8';
import { pathToFileURL } from 'node:url';
import { Int32Histogram } from 'hdr-histogram-js';
import { Bench } from 'tinybench';
import { Distribution, HIST_MAX, INLINE_MAX, SIGNIFICANT_DIGITS, mergeDist, statOf } from '../src/aggregate/index.js';
import { formatBytes, heapGrowth, heapNow } from './lib/heap.js';
import { durations } from './lib/rng.js';

const SPARSE = 100_000;
const PLAIN = 1_000;
const DENSE = 1_000;
const BATCH = 4096;

function plainHistogram(): Int32Histogram {
  return new Int32Histogram(1, HIST_MAX, SIGNIFICANT_DIGITS);
}

export interface DistributionMemory {
  /** heapUsed + external per sparse (3-value) Distribution */
  sparsePer: number;
  /** per plain hdr js32 histogram of the same geometry */
  plainPer: number;
  /** per dense (1,000-value) Distribution */
  densePer: number;
}

/** Heap per distribution, sparse / plain hdr / dense (needs --expose-gc). */
export function distributionMemory(sparseCount = SPARSE): DistributionMemory {
  const { sparse, plainPer, densePer } = measure(sparseCount);
  return { sparsePer: sparse / sparseCount, plainPer, densePer };
}

function measure(SPARSE: number): { sparse: number; plainPer: number; densePer: number; keep: unknown[] } {
  const vals = durations(3 * SPARSE, 1);
  let before = heapNow();
  const dists: Distribution[] = new Array(SPARSE);
  for (let i = 0; i < SPARSE; i++) {
    const d = new Distribution();
    for (let k = 0; k < 3; k++) d.record(vals[3 * i + k] as number);
    dists[i] = d;
  }
  const sparse = heapGrowth(before, heapNow());

  before = heapNow();
  const plain: Int32Histogram[] = new Array(PLAIN);
  for (let i = 0; i < PLAIN; i++) {
    const h = plainHistogram();
    for (let k = 0; k < 3; k++) h.recordValue(vals[3 * i + k] as number);
    plain[i] = h;
  }
  const plainPer = heapGrowth(before, heapNow()) / PLAIN;

  const many = durations(1000, 2);
  before = heapNow();
  const dense: Distribution[] = new Array(DENSE);
  for (let i = 0; i < DENSE; i++) {
    const d = new Distribution();
    for (let k = 0; k < many.length; k++) d.record(many[k] as number);
    dense[i] = d;
  }
  const densePer = heapGrowth(before, heapNow()) / DENSE;
  return { sparse, plainPer, densePer, keep: [dists, plain, dense] };
}

function memory(): void {
  const { sparse, plainPer, densePer, keep } = measure(SPARSE);
  const dists = keep[0] as Distribution[];
  console.log(`\nheap (heapUsed + external, after gc), ${SPARSE.toLocaleString('en')} distributions x 3 values`);
  console.table([
    { design: `Distribution (inline <= ${INLINE_MAX} values)`, total: formatBytes(sparse), 'per distribution': formatBytes(sparse / SPARSE), measured: `${SPARSE}` },
    { design: 'plain hdr js32 (same geometry)', total: formatBytes(plainPer * SPARSE), 'per distribution': formatBytes(plainPer), measured: `${PLAIN}, x${SPARSE / PLAIN}` },
    { design: 'Distribution dense (1,000 values)', total: formatBytes(densePer * SPARSE), 'per distribution': formatBytes(densePer), measured: `${DENSE}, x${SPARSE / DENSE}` },
  ]);
  console.log(`ratio plain / Distribution (sparse): ${((plainPer * SPARSE) / sparse).toFixed(0)}x`);

  const big = new Distribution();
  for (const v of durations(1_000_000, 3)) big.record(v);
  console.log('\nsnapshot bytes (v8.serialize, as postMessage clones)');
  console.table([
    { snapshot: 'sparse, 3 values, full', bytes: serialize((dists[0] as Distribution).snapshot('full')).length },
    { snapshot: 'any, basic', bytes: serialize(big.snapshot('basic')).length },
    { snapshot: 'dense, 1e6 values, full', bytes: serialize(big.snapshot('full')).length },
  ]);
  (globalThis as { keep?: unknown }).keep = keep;
}

function opsPerSec(bench: Bench, name: string): number {
  const r = bench.getTask(name)?.result;
  return r !== undefined && r.state === 'completed' ? (BATCH * 1000) / r.latency.p50 : NaN;
}

async function speed(): Promise<void> {
  const vals = durations(BATCH, 4);
  const plain = plainHistogram();
  const dense = new Distribution();
  for (let i = 0; i <= INLINE_MAX; i++) dense.record(vals[i] as number);
  const pool: Distribution[] = [];
  for (let i = 0; i < BATCH / 4; i++) pool.push(new Distribution());
  const big = new Distribution();
  for (const v of durations(1_000_000, 5)) big.record(v);
  const snapA = big.snapshot('full');
  const snapB = dense.snapshot('full');

  const bench = new Bench({ time: 2000, warmupTime: 500 });
  bench
    .add('plain js32 recordValue', () => {
      for (let i = 0; i < BATCH; i++) plain.recordValue(vals[i] as number);
    })
    .add('Distribution.record dense', () => {
      for (let i = 0; i < BATCH; i++) dense.record(vals[i] as number);
    })
    .add('Distribution.record sparse', () => {
      for (let j = 0; j < pool.length; j++) {
        const d = pool[j] as Distribution;
        d.reset();
        d.record(vals[4 * j] as number);
        d.record(vals[4 * j + 1] as number);
        d.record(vals[4 * j + 2] as number);
        d.record(vals[4 * j + 3] as number);
      }
    });
  await bench.run();
  const base = opsPerSec(bench, 'plain js32 recordValue');
  console.log(`\nrecord() speed, batches of ${BATCH} log-normal µs values, ops/s from the median batch time`);
  console.table(
    bench.tasks.map((t) => {
      const ops = opsPerSec(bench, t.name);
      return { task: t.name, 'ops/s': `${(ops / 1e6).toFixed(2)}M`, 'ns/op': (1e9 / ops).toFixed(1), 'time / plain js32': `${(base / ops).toFixed(2)}x` };
    }),
  );
  console.log('(sparse: each of 1,024 distributions is reset and given 4 values per batch; resets included)');

  const cost = new Bench({ time: 1000, warmupTime: 300 });
  cost
    .add('snapshot full, dense 1e6 values', () => big.snapshot('full'))
    .add('snapshot basic, dense', () => big.snapshot('basic'))
    .add('mergeDist dense + dense', () => mergeDist(snapA, snapB))
    .add('statOf %99, dense 1e6 values', () => statOf(snapA, '%99'))
    .add('snapshot full, sparse 4 values', () => (pool[0] as Distribution).snapshot('full'));
  await cost.run();
  console.log('\nsnapshot / merge cost');
  console.table(
    cost.tasks.map((t) => {
      const r = t.result;
      return { task: t.name, 'µs/op': r.state === 'completed' ? (r.latency.p50 * 1000).toFixed(2) : r.state };
    }),
  );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(`node ${process.version}; geometry 1..${HIST_MAX}, ${SIGNIFICANT_DIGITS} digits; inline up to ${INLINE_MAX} values`);
  memory();
  await speed();
}
