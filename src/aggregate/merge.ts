/**
 * Combining snapshots (SPEC 6): counts, sums and histogram counts add, min/max
 * combine, mean/M2 by the parallel formula (Chan et al.). Inputs are never
 * mutated; hist arrays are shared read-only between snapshots.
 */
import { mergeToBuckets } from './buckets.js';
import type { CountSum, DistHist, DistSnapshot, HistData } from './types.js';
import { INLINE_MAX, mergeValues } from './values.js';

export function emptyDist(): DistSnapshot {
  return { count: 0, sum: 0, min: 0, max: 0, mean: 0, m2: 0 };
}

function copyOf(d: DistSnapshot): DistSnapshot {
  const c: DistSnapshot = { count: d.count, sum: d.sum, min: d.min, max: d.max, mean: d.mean, m2: d.m2 };
  if (d.hist !== undefined) c.hist = d.hist;
  return c;
}

function mergeHist(x: HistData, y: HistData): DistHist {
  const a = x as DistHist;
  const b = y as DistHist;
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
    if (na === 0 && target.hist === undefined && src.hist !== undefined) target.hist = src.hist;
    return target;
  }
  if (na === 0) {
    target.count = nb;
    target.sum = src.sum;
    target.min = src.min;
    target.max = src.max;
    target.mean = src.mean;
    target.m2 = src.m2;
    if (src.hist !== undefined) target.hist = src.hist;
    else delete target.hist;
    return target;
  }
  const n = na + nb;
  const delta = src.mean - target.mean;
  target.m2 = target.m2 + src.m2 + delta * delta * ((na * nb) / n);
  target.mean = (na * target.mean + nb * src.mean) / n;
  target.count = n;
  target.sum += src.sum;
  if (src.min < target.min) target.min = src.min;
  if (src.max > target.max) target.max = src.max;
  if (target.hist !== undefined && src.hist !== undefined) target.hist = mergeHist(target.hist, src.hist);
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
