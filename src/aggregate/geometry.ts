/**
 * The one HDR geometry every histogram uses (hdr-histogram-js counts-array
 * layout): lowest discernible value 1, highest trackable 2^36 - 1, 3
 * significant digits. Exact for integers below 2048; above, a bucket of width
 * 2^k holds [1024·2^k, 2048·2^k), so its highest value is within 1/1024 of
 * any value in it. Values are stored as `histValue(v)`.
 */
import { createRequire } from 'node:module';
import type { Int32Histogram } from 'hdr-histogram-js';

// The class alone: the package's index also loads its log writer, which builds an
// Intl.NumberFormat as it loads (about 70 ms of CPU per thread that imports it, 6 ms
// this way). Required, so that it is the CommonJS module's `default` under every loader.
const Int32HistogramClass = (createRequire(import.meta.url)('hdr-histogram-js/dist/Int32Histogram.js') as { default: typeof Int32Histogram }).default;

export const SIGNIFICANT_DIGITS = 3;
/** 68,719,476,735: about 19.1 hours in microseconds, 64 GiB in bytes */
export const HIST_MAX = 2 ** 36 - 1;
const SUB_HALF = 1024;
const SUB_COUNT = 2048;
const TWO_32 = 4294967296;
/** 27 half-buckets of 1024 (26 buckets): 27,648 counts */
export const COUNTS_LENGTH = 27 * SUB_HALF;

/** A value as the histogram holds it: nearest integer, negatives 0, clamped to HIST_MAX. */
export function histValue(v: number): number {
  return v > 0 ? (v < HIST_MAX ? Math.round(v) : HIST_MAX) : 0;
}

/** counts-array index of an integer in [0, HIST_MAX] (= Int32Histogram.countsArrayIndex) */
export function indexOfValue(x: number): number {
  if (x < SUB_COUNT) return x;
  if (x < TWO_32) {
    // the common case: 32-bit integer arithmetic only
    const bucket = 21 - Math.clz32(x);
    return bucket * SUB_HALF + (x >>> bucket);
  }
  const msb = 63 - Math.clz32(Math.floor(x / TWO_32));
  const bucket = msb - 10;
  return bucket * SUB_HALF + Math.floor(x / 2 ** bucket);
}

/** lowest value counted at a counts-array index */
export function lowestAtIndex(i: number): number {
  if (i < SUB_COUNT) return i;
  const bucket = Math.floor(i / SUB_HALF) - 1;
  return ((i % SUB_HALF) + SUB_HALF) * 2 ** bucket;
}

/** highest value counted at a counts-array index (what a percentile reports, before clamping) */
export function highestAtIndex(i: number): number {
  if (i < SUB_COUNT) return i;
  const bucket = Math.floor(i / SUB_HALF) - 1;
  return ((i % SUB_HALF) + SUB_HALF + 1) * 2 ** bucket - 1;
}

/** a new, empty histogram of the fixed geometry (never resizes) */
export function newHistogram(): Int32Histogram {
  return new Int32HistogramClass(1, HIST_MAX, SIGNIFICANT_DIGITS);
}
