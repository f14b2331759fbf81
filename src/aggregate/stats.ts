/**
 * The dump figures of a snapshot (docs/contract.md §5.4). Numbers only; formatting is the
 * exporters' business.
 */
import { bucketValueAt } from './buckets.js';
import type { DistHist, DistSnapshot } from './types.js';

/** the leading number of `text` as C's strtod reads it (decimal or inf), 0 if none */
export function parsePercent(text: string): number {
  const m = /^[\t\n\v\f\r ]*([+-]?)(?:(inf(?:inity)?)|((?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?))/i.exec(text);
  if (m === null) return 0;
  const v = m[2] !== undefined ? Infinity : Number(m[3]);
  return m[1] === '-' ? -v : v;
}

/** 0-based nearest-rank index of percentile p (0..100) among n values: ⌈n·p/100⌉ − 1, clamped */
export function rankIndex(n: number, p: number): number {
  if (!(p > 0)) return 0;
  if (p >= 100) return n - 1;
  const x = (n * p) / 100;
  const i = Math.ceil(x - x * 1e-12) - 1;
  return i < 0 ? 0 : i >= n ? n - 1 : i;
}

/** the value of 0-based rank `rank` (count > 0); the first is min, the last max, the rest clamped to them */
function valueAt(d: DistSnapshot, h: DistHist, rank: number): number {
  if (h.kind === 'values') return h.values[rank] ?? d.max;
  if (rank <= 0) return d.min;
  if (rank >= d.count - 1) return d.max;
  const v = bucketValueAt(h, rank);
  return v < d.min ? d.min : v > d.max ? d.max : v;
}

function histOf(d: DistSnapshot): DistHist | undefined {
  const h = d.hist;
  return h !== undefined && (h.kind === 'values' || h.kind === 'hdr') ? (h as DistHist) : undefined;
}

/** median = floor((v[⌊(n−1)/2⌋] + v[⌊n/2⌋]) / 2); undefined if the snapshot has no hist */
export function medianOf(d: DistSnapshot): number | undefined {
  const n = d.count;
  if (n === 0) return 0;
  const h = histOf(d);
  if (h === undefined) return undefined;
  return Math.floor((valueAt(d, h, Math.floor((n - 1) / 2)) + valueAt(d, h, Math.floor(n / 2))) / 2);
}

/** %P (nearest rank) for p in percent; undefined if the snapshot has no hist */
export function percentileOf(d: DistSnapshot, p: number): number | undefined {
  const n = d.count;
  if (n === 0) return 0;
  const h = histOf(d);
  if (h === undefined) return undefined;
  return valueAt(d, h, rankIndex(n, p));
}

function variance(d: DistSnapshot): number {
  return d.count > 0 && d.m2 > 0 ? d.m2 / d.count : 0;
}

/**
 * A dump field of `d`: count, sum, min, max, avg, median, stddev, variance or
 * %P; undefined for an unknown name, and for median/%P of a 'basic' snapshot.
 */
export function statOf(d: DistSnapshot, name: string): number | undefined {
  const empty = d.count === 0;
  switch (name) {
    case 'count':
      return d.count;
    case 'sum':
      return empty ? 0 : d.sum;
    case 'min':
      return empty ? 0 : d.min;
    case 'max':
      return empty ? 0 : d.max;
    case 'avg':
      return empty ? 0 : d.sum / d.count;
    case 'median':
      return medianOf(d);
    case 'variance':
      return variance(d);
    case 'stddev':
      return Math.sqrt(variance(d));
  }
  if (name.charCodeAt(0) === 37) return percentileOf(d, parsePercent(name.slice(1)));
  return undefined;
}
