/**
 * `GET /metrics` as OpenMetrics 1.0.0, `openmetrics_style = strict` (docs/contract.md §8.2).
 */
import type { EngineSnapshot } from '../metrics/types.js';
import { renderDovecot } from './dovecot.js';
import { serializeFamilies } from './exposition.js';
import { buildModel } from './model.js';
import type { MetricsOptions } from './types.js';

export const CONTENT_TYPE_OPENMETRICS = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
export const CONTENT_TYPE_OPENMETRICS_0_0_1 = 'application/openmetrics-text; version=0.0.1; charset=utf-8';

/** OpenMetrics text; `style: 'dovecot'` gives Dovecot's layout (docs/contract.md §8.3) instead. */
export function renderOpenMetrics(snap: EngineSnapshot, opts: MetricsOptions): string {
  if (opts.style === 'dovecot') return renderDovecot(snap, opts);
  return serializeFamilies(buildModel(snap, opts).families, true);
}
