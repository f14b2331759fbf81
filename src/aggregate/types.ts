/**
 * Snapshot of one distribution (docs/contract.md §5.4): plain data, structured-clonable,
 * mergeable. Produced by `Distribution.snapshot`, combined by `mergeDist`.
 */
export interface DistSnapshot {
  count: number;
  sum: number;
  /** exact min/max; 0 when count = 0 */
  min: number;
  max: number;
  /** running mean and M2 (sum of squared deviations) for the population stddev */
  mean: number;
  m2: number;
  /**
   * Value distribution for median/percentiles; absent in a 'basic' snapshot
   * (a /metrics scrape does not need it). Opaque outside src/aggregate.
   */
  hist?: HistData;
}

/** Opaque, structured-clonable histogram data owned by src/aggregate. */
export interface HistData {
  readonly kind: string;
}

/** What a snapshot includes: 'basic' = count/sum/min/max/mean/m2, 'full' = + hist. */
export type SnapshotDepth = 'basic' | 'full';

/**
 * Every value exactly, ascending (floats and negatives as recorded).
 * A snapshot's hist has this kind exactly when count <= INLINE_MAX.
 */
export interface ValuesHist extends HistData {
  readonly kind: 'values';
  readonly values: Float64Array;
}

/**
 * HDR bucket counts of the one fixed geometry (see geometry.ts), non-zero
 * ones only: ascending counts-array indices and their counts, same length.
 * Counts are a Uint32Array unless one passes 2^32 - 1 (then Float64Array).
 */
export interface BucketsHist extends HistData {
  readonly kind: 'hdr';
  readonly index: Uint16Array;
  readonly counts: Uint32Array | Float64Array;
}

export type DistHist = ValuesHist | BucketsHist;

/** count/sum of a parent minus its children (what exporters print for a missing level). */
export interface CountSum {
  count: number;
  sum: number;
}
