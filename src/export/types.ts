/**
 * Shared types of the export formats (docs/contract.md §8).
 */
import type { DovecotCompat, OpenMetricsStyle } from '../config/types.js';

export type ExportFormat = 'dump' | 'openmetrics' | 'prometheus' | 'dovecot' | 'json';

/** A family of self-metrics handed in by the runtime (docs/contract.md §10). */
export interface SelfFamily {
  /** full sample name; a counter's ends in `_total` (added if missing) */
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  samples: { labels: Record<string, string>; value: number }[];
}

/** Options of the OpenMetrics, Prometheus text, dovecot-style and JSON renderers. */
export interface MetricsOptions {
  /** `metric_prefix` */
  prefix: string;
  /** `openmetrics_style` (only the `openmetrics` format looks at it) */
  style: OpenMetricsStyle;
  /** build version (`tallyd_build_info{version}`) */
  version: string;
  /** build revision (`tallyd_build_info{revision}`); default "unknown" */
  revision?: string;
  /** Node.js version (`tallyd_build_info{node}`); default this process's */
  node?: string;
  /** unix seconds of process start */
  startTimeSeconds: number;
  /** self-metric families beyond the engine counters */
  extra: SelfFamily[];
  /** `dovecot_compat` (dovecot style: no field families in 2.3); default 2.4 */
  compat?: DovecotCompat;
}

export interface DumpOptions {
  compat: DovecotCompat;
}

/** Everything `renderExport` may need, whatever the format. */
export interface ExportOptions extends MetricsOptions {
  /** dump columns; default `count sum min max avg median stddev %95` */
  fields?: string[];
}
