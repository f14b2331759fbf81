/**
 * Native (sparse exponential) histograms from tallyd's distributions
 * (docs/native-histograms.md). Every value goes through the one HDR geometry
 * (src/aggregate/geometry.ts): an inline value is first taken to its HDR
 * counts-array index, exactly as the histogram would record it, so a
 * distribution maps to the same buckets whether it still keeps its values or
 * already counts them; a parent minus its children is then exact per bucket.
 *
 * An HDR bucket lands, whole, in the exponential bucket that holds its
 * representative: the midpoint of its integer range (the value itself below
 * 2048, where HDR is exact), times `scale` (1e-6 for durations in seconds).
 * The HDR value 0 (zero and every negative value, which HDR records as 0) is
 * the zero bucket. Values above HIST_MAX are in HDR's top bucket, so in the
 * exponential bucket of its midpoint. Count and sum come from the exact stats.
 */
import { lowestAtIndex, highestAtIndex, histValue, indexOfValue } from '../aggregate/geometry.js';
import type { DistSnapshot } from '../aggregate/types.js';

/** 2^(1/256) per bucket: ±0.14% around a bucket's middle, about HDR's 3 digits (±0.05%) */
export const NATIVE_SCHEMA = 8;
/** client_golang's default: only exact zeros (the HDR value 0) fall in it */
export const ZERO_THRESHOLD = 2 ** -128;
const FACTOR = 2 ** NATIVE_SCHEMA;

/** A native histogram under construction: exact count/sum, zero bucket, buckets by index. */
export interface NativeAcc {
  count: number;
  sum: number;
  zero: number;
  buckets: Map<number, number>;
}

export function newNative(): NativeAcc {
  return { count: 0, sum: 0, zero: 0, buckets: new Map() };
}

/** Upper bound of exponential bucket `k` at NATIVE_SCHEMA: 2^(k/256); bucket k is (bound(k-1), bound(k)]. */
export function upperBound(k: number): number {
  return 2 ** (k / FACTOR);
}

/** Index of the exponential bucket holding x > 0. */
export function bucketIndex(x: number): number {
  let k = Math.ceil(Math.log2(x) * FACTOR);
  // log2 rounding near a bound: settle on bound(k-1) < x <= bound(k)
  while (upperBound(k) < x) k++;
  while (upperBound(k - 1) >= x) k--;
  return k;
}

/** The value an HDR counts-array index stands for (its integer range's midpoint). */
export function representative(i: number): number {
  return (lowestAtIndex(i) + highestAtIndex(i)) / 2;
}

/** Adds `times` (±1) the counts of an HDR index into acc. */
function addIndex(acc: NativeAcc, i: number, n: number, scale: number): void {
  if (i === 0) {
    acc.zero += n;
    return;
  }
  const k = bucketIndex(representative(i) * scale);
  acc.buckets.set(k, (acc.buckets.get(k) ?? 0) + n);
}

/** Adds (sign 1) or subtracts (sign -1) one distribution's figures; `scale` converts HDR units. */
export function addDist(acc: NativeAcc, d: DistSnapshot, scale: number, sign: 1 | -1 = 1): void {
  if (d.count === 0) return;
  acc.count += sign * d.count;
  acc.sum += sign * d.sum * scale;
  const h = d.hist;
  if (h === undefined) throw new Error('a native histogram needs a full snapshot');
  if (h.kind === 'values') {
    const v = (h as unknown as { values: Float64Array }).values;
    for (let j = 0; j < v.length; j++) addIndex(acc, indexOfValue(histValue(v[j] as number)), sign, scale);
  } else {
    const b = h as unknown as { index: Uint16Array; counts: ArrayLike<number> };
    for (let j = 0; j < b.index.length; j++) addIndex(acc, b.index[j] as number, sign * (b.counts[j] as number), scale);
  }
}

/** Zeroes buckets a subtraction left negative (a strlist level: children add up to more than the parent). */
export function clampNative(acc: NativeAcc): void {
  if (acc.zero < 0) acc.zero = 0;
  for (const [k, n] of acc.buckets) if (n <= 0) acc.buckets.delete(k);
  if (acc.count < 0) acc.count = 0;
}

export interface Span {
  offset: number;
  length: number;
}

/** Spans and delta-encoded counts of the positive buckets (Prometheus' wire form). */
export function spansOf(acc: NativeAcc): { spans: Span[]; deltas: number[]; counts: number[] } {
  const keys = [...acc.buckets.keys()].filter((k) => (acc.buckets.get(k) as number) > 0).sort((a, b) => a - b);
  const spans: Span[] = [];
  const deltas: number[] = [];
  const counts: number[] = [];
  let prevEnd = 0;
  let prevCount = 0;
  for (const k of keys) {
    const last = spans[spans.length - 1];
    if (last !== undefined && k === prevEnd) last.length++;
    else spans.push({ offset: spans.length === 0 ? k : k - prevEnd, length: 1 });
    prevEnd = k + 1;
    const n = acc.buckets.get(k) as number;
    counts.push(n);
    deltas.push(n - prevCount);
    prevCount = n;
  }
  return { spans, deltas, counts };
}
