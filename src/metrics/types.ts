/**
 * Snapshot of the metric trees (docs/contract.md §5): what shards send, merge combines and
 * exports render. Plain data, structured-clonable.
 */
import type { DistSnapshot } from '../aggregate/types.js';
import type { MetricDef } from '../config/types.js';

/**
 * Identity of a child within its parent: the (modified) string of a discrete
 * level, the integer of a discrete level fed an integer, the bucket index of a
 * quantized level, or null for the overflow child `__overflow__` (docs/contract.md §5.5).
 * A string "5" and the number 5 are two different children (as in Dovecot).
 */
export type ChildKey = string | number | null;

export interface NodeSnapshot {
  /** sanitized display name of this sub-metric (docs/contract.md §5.3); the root's is the metric name */
  name: string;
  key: ChildKey;
  /**
   * accept order of the first event that created this node (global across
   * shards); merged children are ordered by it
   */
  firstSeq: number;
  /** number of events that reached this node (= dists[0].count) */
  count: number;
  /** index 0: duration; index i: def.fields[i - 1] */
  dists: DistSnapshot[];
  /** in first-seen order */
  children: NodeSnapshot[];
}

export interface MetricSnapshot {
  def: MetricDef;
  root: NodeSnapshot;
  /** events that went to an `__overflow__` child (tallyd_sub_metrics_overflow_total) */
  overflow: number;
  /** total children (all levels) */
  subMetrics: number;
}

/** Counters of the engine itself (self-metrics, contract §10). */
export interface EngineCounters {
  eventsReceived: number;
  eventsAccepted: number;
  /** by reason */
  eventsRejected: Record<string, number>;
  eventsLost: number;
  batches: number;
  bytes: number;
  /** values < 0 recorded as 0 in a histogram */
  negativeValues: number;
}

export interface EngineSnapshot {
  metrics: MetricSnapshot[];
  counters: EngineCounters;
}
