/**
 * `GET /metrics` as Prometheus text 0.0.4: the twin of the strict OpenMetrics
 * output (counters named with `_total`, build info as a gauge, no `# UNIT`,
 * no `# EOF`).
 */
import type { EngineSnapshot } from '../metrics/types.js';
import { serializeFamilies } from './exposition.js';
import { buildModel } from './model.js';
import type { MetricsOptions } from './types.js';

export const CONTENT_TYPE_PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';

export function renderPrometheus(snap: EngineSnapshot, opts: MetricsOptions): string {
  return serializeFamilies(buildModel(snap, opts).families, false);
}
