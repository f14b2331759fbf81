import type { MetricDef } from '../config/types.js';

/**
 * The fields a metric keeps a distribution for, in distribution order
 * (index i + 1 of a node's dists): the configured `fields`, then — when the
 * last group_by level quantizes a field that is not among them — that field,
 * so its histogram has a `_sum` and `_count` (docs/contract.md §8.2). Exports of `fields`
 * (dump, field families) read only the configured ones.
 */
export function trackedFields(def: MetricDef): readonly string[] {
  const last = def.groupBy[def.groupBy.length - 1];
  if (last !== undefined && last.kind !== 'discrete' && last.field !== 'duration' && !def.fields.includes(last.field)) {
    return [...def.fields, last.field];
  }
  return def.fields;
}
