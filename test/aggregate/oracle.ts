/** Sorted-array reference figures for the aggregate tests (docs/contract.md §5.4). */
import { eachBucket } from '../../src/aggregate/buckets.js';
import { rankIndex } from '../../src/aggregate/index.js';
import type { BucketsHist } from '../../src/aggregate/index.js';

export interface Oracle {
  sorted: number[];
  count: number;
  sum: number;
  min: number;
  max: number;
  mean: number;
  stddev: number;
}

export function oracle(values: readonly number[]): Oracle {
  // a distribution records -0 as 0
  const sorted = values.map((v) => (v === 0 ? 0 : v)).sort((a, b) => a - b);
  const n = sorted.length;
  let sum = 0;
  for (const v of sorted) sum += v;
  const mean = n > 0 ? sum / n : 0;
  let ss = 0;
  for (const v of sorted) ss += (v - mean) * (v - mean);
  return {
    sorted,
    count: n,
    sum,
    min: n > 0 ? (sorted[0] as number) : 0,
    max: n > 0 ? (sorted[n - 1] as number) : 0,
    mean,
    stddev: n > 0 ? Math.sqrt(ss / n) : 0,
  };
}

export function oraclePercentile(o: Oracle, p: number): number {
  return o.count === 0 ? 0 : (o.sorted[rankIndex(o.count, p)] as number);
}

export function oracleMedian(o: Oracle): number {
  const n = o.count;
  if (n === 0) return 0;
  return Math.floor(((o.sorted[Math.floor((n - 1) / 2)] as number) + (o.sorted[Math.floor(n / 2)] as number)) / 2);
}

/**
 * A percentile read from the HDR kind against the exact one: floats round to
 * the nearest integer (±0.5), a bucket's highest value is within 1/1024 above,
 * negatives are 0 in the histogram (then clamped to max); the first and last
 * ranks are min and max exactly. `slack` covers the median's floor.
 */
export function withinHdr(got: number, exact: number, max: number, slack = 0): boolean {
  if (got === exact) return true;
  const e = exact < 0 ? Math.min(0, max) : exact;
  return Math.abs(got - e) <= 0.5 + Math.abs(e) / 1000 + slack;
}

/** the (index, count) pairs of an HDR-kind hist */
export function entries(h: BucketsHist): [number, number][] {
  const out: [number, number][] = [];
  eachBucket(h, (i, c) => out.push([i, c]));
  return out;
}
