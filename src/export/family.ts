/**
 * The family model of the strict formats: families, samples and label sets,
 * format-neutral (OpenMetrics, Prometheus text and JSON serialize it).
 */
import { escapeLabelValue } from './names.js';

/** One label set, rendered once per render and shared by every family of a metric. */
export interface LabelSet {
  readonly names: readonly string[];
  readonly values: readonly string[];
  /** `a="x",b="y"` (escaped), '' without labels */
  readonly text: string;
}

export interface ScalarSample {
  readonly labels: LabelSet;
  readonly value: number;
}

export interface HistSample {
  readonly labels: LabelSet;
  /** cumulative count per bucket (the last is +Inf) */
  readonly cumulative: readonly number[];
  readonly count: number;
  /** null when the quantized field's sum is not kept (not in `fields`) */
  readonly sum: number | null;
}

interface FamilyBase {
  /** OpenMetrics family name (a counter's samples add `_total`) */
  readonly name: string;
  readonly help: string;
  /** `seconds` or null */
  readonly unit: string | null;
  /** index of the metric in the snapshot, or -1 (preamble, self-metrics) */
  readonly metric: number;
  /** the key in /metrics.json when it is not the text sample name (KumoMTA-style counters) */
  readonly jsonKey?: string;
}

export interface ScalarFamily extends FamilyBase {
  readonly kind: 'counter' | 'gauge' | 'info';
  readonly samples: readonly ScalarSample[];
}

export interface HistFamily extends FamilyBase {
  readonly kind: 'histogram';
  /** finite upper bounds, ascending (the +Inf bucket is implicit) */
  readonly bounds: readonly number[];
  /** `le` values of every bucket, `+Inf` last */
  readonly les: readonly string[];
  readonly samples: readonly HistSample[];
}

export type Family = ScalarFamily | HistFamily;

export const NO_LABELS: LabelSet = { names: [], values: [], text: '' };

export function labelSet(names: readonly string[], values: readonly string[]): LabelSet {
  let text = '';
  for (let i = 0; i < names.length; i++) {
    text += `${i === 0 ? '' : ','}${names[i] as string}="${escapeLabelValue(values[i] as string)}"`;
  }
  return { names, values, text };
}

export function helpOf(base: string, description: string): string {
  return description === '' ? base : `${base} of ${description}`;
}
