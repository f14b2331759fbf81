/**
 * Combining snapshots (docs/contract.md §6): counts, sums and histogram counts add, min/max
 * combine, mean/M2 by the parallel formula (Chan et al.). Inputs are never
 * mutated; hist arrays are shared read-only between snapshots.
 */
import { mergeToBuckets } from './buckets.js';
import type { CountSum, DistHist, DistSnapshot, HistData, RawHist } from './types.js';
import { INLINE_MAX, mergeValues, valuesHist } from './values.js';

export function emptyDist(): DistSnapshot {
  return { count: 0, sum: 0, min: 0, max: 0, mean: 0, m2: 0 };
}

function copyOf(d: DistSnapshot): DistSnapshot {
  const c: DistSnapshot = { count: d.count, sum: d.sum, min: d.min, max: d.max, mean: d.mean, m2: d.m2 };
  if (d.hist !== undefined) c.hist = d.hist;
  return c;
}

/** a RawHist (a shard delta's values in record order) as the sorted kind */
export function sortedHist(h: HistData): DistHist {
  const r = h as DistHist | RawHist;
  return r.kind === 'raw' ? valuesHist(Float64Array.from(r.values).sort()) : r;
}

/**
 * The moments of `b` added into `a` (count, sum, min, max, mean and M2 by the
 * parallel formula of Chan et al.): the one place they combine.
 */
export function addMoments(a: DistSnapshot, b: DistSnapshot): void {
  const nb = b.count;
  if (nb === 0) return;
  const na = a.count;
  if (na === 0) {
    a.count = nb;
    a.sum = b.sum;
    a.min = b.min;
    a.max = b.max;
    a.mean = b.mean;
    a.m2 = b.m2;
    return;
  }
  const n = na + nb;
  const delta = b.mean - a.mean;
  a.m2 = a.m2 + b.m2 + delta * delta * ((na * nb) / n);
  a.mean = (na * a.mean + nb * b.mean) / n;
  a.count = n;
  a.sum += b.sum;
  if (b.min < a.min) a.min = b.min;
  if (b.max > a.max) a.max = b.max;
}

function mergeHist(x: HistData, y: HistData): DistHist {
  const a = sortedHist(x);
  const b = sortedHist(y);
  if (a.kind === 'values' && b.kind === 'values' && a.values.length + b.values.length <= INLINE_MAX) {
    return mergeValues(a.values, b.values);
  }
  return mergeToBuckets(a, b);
}

/** adds `src` into `target` (target's fields are replaced, src is untouched); returns target */
export function mergeInto(target: DistSnapshot, src: DistSnapshot): DistSnapshot {
  const nb = src.count;
  const na = target.count;
  if (nb === 0) {
    if (na === 0 && target.hist === undefined && src.hist !== undefined) target.hist = sortedHist(src.hist);
    return target;
  }
  addMoments(target, src);
  if (na === 0) {
    if (src.hist !== undefined) target.hist = sortedHist(src.hist);
    else delete target.hist;
  } else if (target.hist !== undefined && src.hist !== undefined) target.hist = mergeHist(target.hist, src.hist);
  else delete target.hist;
  return target;
}

/** a + b as a new snapshot */
export function mergeDist(a: DistSnapshot, b: DistSnapshot): DistSnapshot {
  return mergeInto(copyOf(a), b);
}

/** count and sum of `a` minus those of `b` */
export function subtractBasic(a: CountSum, b: CountSum): CountSum {
  return { count: a.count - b.count, sum: a.sum - b.sum };
}
