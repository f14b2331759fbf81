/**
 * Combining snapshots (docs/contract.md §6): counts, sums and histogram counts add, min/max
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

/**
 * The moments of `b` added into `a` (count, sum, min, max, mean and M2 by the
 * parallel formula of Chan et al.): the one place they combine.
 */
export function addMoments(a: DistSnapshot, b: DistSnapshot): void {
  addMomentsOf(a, b.count, b.sum, b.min, b.max, b.mean, b.m2);
}

/** The mean of two parts together. */
export function combinedMean(na: number, meanA: number, nb: number, meanB: number): number {
  return (na * meanA + nb * meanB) / (na + nb);
}

/** The M2 (sum of squared deviations) of two parts together, by the parallel formula. */
export function combinedM2(na: number, meanA: number, m2a: number, nb: number, meanB: number, m2b: number): number {
  const delta = meanB - meanA;
  return m2a + m2b + delta * delta * ((na * nb) / (na + nb));
}

/**
 * The layout of a distribution's numbers in one array (Distribution's
 * Float64Array, MergedDist's array of doubles): the moments, then the
 * values it keeps exactly.
 */
export const COUNT = 0;
export const SUM = 1;
export const MIN = 2;
export const MAX = 3;
export const MEAN = 4;
export const M2 = 5;
export const VALUES = 6;

/** addMomentsOf for moments kept in an array laid out as above */
export function addMomentsAt(s: Float64Array | number[], nb: number, sum: number, min: number, max: number, mean: number, m2: number): void {
  if (nb === 0) return;
  const na = s[COUNT] as number;
  if (na === 0) {
    s[COUNT] = nb;
    s[SUM] = sum;
    s[MIN] = min;
    s[MAX] = max;
    s[MEAN] = mean;
    s[M2] = m2;
    return;
  }
  const ma = s[MEAN] as number;
  s[M2] = combinedM2(na, ma, s[M2] as number, nb, mean, m2);
  s[MEAN] = combinedMean(na, ma, nb, mean);
  s[COUNT] = na + nb;
  s[SUM] = (s[SUM] as number) + sum;
  if (min < (s[MIN] as number)) s[MIN] = min;
  if (max > (s[MAX] as number)) s[MAX] = max;
}

/** addMoments of a distribution given by its figures */
export function addMomentsOf(a: DistSnapshot, nb: number, sum: number, min: number, max: number, mean: number, m2: number): void {
  if (nb === 0) return;
  const na = a.count;
  if (na === 0) {
    a.count = nb;
    a.sum = sum;
    a.min = min;
    a.max = max;
    a.mean = mean;
    a.m2 = m2;
    return;
  }
  a.m2 = combinedM2(na, a.mean, a.m2, nb, mean, m2);
  a.mean = combinedMean(na, a.mean, nb, mean);
  a.count = na + nb;
  a.sum += sum;
  if (min < a.min) a.min = min;
  if (max > a.max) a.max = max;
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
    if (na === 0 && target.hist === undefined && src.hist !== undefined) target.hist = src.hist as DistHist;
    return target;
  }
  addMoments(target, src);
  if (na === 0) {
    if (src.hist !== undefined) target.hist = src.hist as DistHist;
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
