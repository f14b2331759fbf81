/**
 * Snapshot of one distribution (SPEC 5.4): plain data, structured-clonable,
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
