/**
 * The HDR kind: the non-zero counts of the fixed geometry as two parallel
 * arrays, ascending counts-array index (Uint16Array: the geometry has fewer
 * than 65,536 indices) and count (Uint32Array, or Float64Array once a merged
 * count passes 2^32 - 1). Two of them add like two sorted lists.
 */
import type { Int32Histogram } from 'hdr-histogram-js';
import { COUNTS_LENGTH, highestAtIndex, histValue, indexOfValue } from './geometry.js';
import type { BucketsHist, DistHist } from './types.js';

const UINT32_MAX = 4294967295;
const scratchIndex = new Uint16Array(COUNTS_LENGTH);
const scratchCounts = new Float64Array(COUNTS_LENGTH);

/** the first n scratch pairs as a new BucketsHist; `max` is the largest count */
function fromScratch(n: number, max: number): BucketsHist {
  const counts = max <= UINT32_MAX ? Uint32Array.from(scratchCounts.subarray(0, n)) : scratchCounts.slice(0, n);
  return { kind: 'hdr', index: scratchIndex.slice(0, n), counts };
}

/** the largest count toScratch last copied */
let scratchMax = 0;

/**
 * Copies the non-zero counts of c[lo..hi] and their indices into the
 * scratch arrays; how many. Nothing follows its loop: V8 compiles a long
 * loop on stack replacement, and a call after it, without feedback yet,
 * threw that code away at once, call after call (inline in MergedDist.hist,
 * 533 times in one bench:dovecot run's dumps).
 */
function toScratch(c: ArrayLike<number>, lo: number, hi: number): number {
  let n = 0;
  let max = 0;
  for (let i = lo; i <= hi; i++) {
    const x = c[i] as number;
    if (x !== 0) {
      scratchIndex[n] = i;
      scratchCounts[n++] = x;
      if (x > max) max = x;
    }
  }
  scratchMax = max;
  return n;
}

/** The non-zero counts of counts array `c` between indices lo and hi (inclusive). */
export function countsHist(c: ArrayLike<number>, lo: number, hi: number): BucketsHist {
  const n = toScratch(c, lo, hi);
  return fromScratch(n, scratchMax);
}

/** the non-zero counts of `h` between indices lo and hi (inclusive) */
export function readHistogram(h: Int32Histogram, lo: number, hi: number): BucketsHist {
  return countsHist(h._counts, lo, hi);
}

/** exact values (ascending) as buckets */
function fromValues(v: Float64Array): BucketsHist {
  let n = 0;
  let at = -1;
  for (let k = 0; k < v.length; k++) {
    const i = indexOfValue(histValue(v[k] as number));
    if (i === at) scratchCounts[n - 1] = (scratchCounts[n - 1] as number) + 1;
    else {
      scratchIndex[n] = i;
      scratchCounts[n++] = 1;
      at = i;
    }
  }
  return fromScratch(n, 0);
}

/** (index, count) of every non-zero count, ascending */
export function eachBucket(h: BucketsHist, visit: (index: number, count: number) => void): void {
  for (let k = 0; k < h.index.length; k++) visit(h.index[k] as number, h.counts[k] as number);
}

/** the bucket-wise sum of two hists of either kind */
export function mergeToBuckets(x: DistHist, y: DistHist): BucketsHist {
  const a = x.kind === 'hdr' ? x : fromValues(x.values);
  const b = y.kind === 'hdr' ? y : fromValues(y.values);
  const ai = a.index;
  const ac = a.counts;
  const bi = b.index;
  const bc = b.counts;
  let i = 0;
  let j = 0;
  let n = 0;
  let max = 0;
  while (i < ai.length || j < bi.length) {
    const ia = i < ai.length ? (ai[i] as number) : COUNTS_LENGTH;
    const ib = j < bi.length ? (bi[j] as number) : COUNTS_LENGTH;
    let c: number;
    if (ia < ib) c = ac[i++] as number;
    else if (ib < ia) c = bc[j++] as number;
    else c = (ac[i++] as number) + (bc[j++] as number);
    scratchIndex[n] = ia < ib ? ia : ib;
    scratchCounts[n++] = c;
    if (c > max) max = c;
  }
  return fromScratch(n, max);
}

/** the highest value of the bucket holding the value of 0-based rank `rank` */
export function bucketValueAt(h: BucketsHist, rank: number): number {
  const idx = h.index;
  const c = h.counts;
  let seen = 0;
  for (let k = 0; k < idx.length; k++) {
    seen += c[k] as number;
    if (seen > rank) return highestAtIndex(idx[k] as number);
  }
  return Infinity;
}
