/**
 * Export formats (docs/contract.md §8): dump table, OpenMetrics (strict or dovecot style),
 * Prometheus text 0.0.4 and KumoMTA-style JSON.
 */
import type { SnapshotDepth } from '../aggregate/types.js';
import type { EngineSnapshot } from '../metrics/types.js';
import { CONTENT_TYPE_DUMP, DEFAULT_DUMP_FIELDS, renderDump } from './dump.js';
import { renderDovecot } from './dovecot.js';
import { CONTENT_TYPE_JSON, renderJson } from './json.js';
import { CONTENT_TYPE_OPENMETRICS, CONTENT_TYPE_OPENMETRICS_0_0_1, renderOpenMetrics } from './openmetrics.js';
import { CONTENT_TYPE_PROMETHEUS_TEXT, renderPrometheus } from './prometheus.js';
import type { ExportFormat, ExportOptions } from './types.js';

export { formatC2, formatCFixed, formatFloor, formatJsonNumber, formatSample } from './cformat.js';
export { CONTENT_TYPE_DUMP, DEFAULT_DUMP_FIELDS, dumpCell, dumpNamePart, parseDumpFields, renderDump } from './dump.js';
export { floatSeconds, renderDovecot } from './dovecot.js';
export { CONTENT_TYPE_JSON, renderJson, SUMMARY_STATS } from './json.js';
export { buildModel } from './model.js';
export type { Model } from './model.js';
export type { Family, HistFamily, HistSample, LabelSet, ScalarFamily, ScalarSample } from './family.js';
export { CONTENT_TYPE_OPENMETRICS, CONTENT_TYPE_OPENMETRICS_0_0_1, renderOpenMetrics } from './openmetrics.js';
export { CONTENT_TYPE_PROMETHEUS_TEXT, renderPrometheus } from './prometheus.js';
export { selfFamilies } from './self.js';
export type { DumpOptions, ExportFormat, ExportOptions, MetricsOptions, SelfFamily } from './types.js';

/** What a format needs from a snapshot: percentiles ('full') only for the dump and JSON. */
export function depthFor(format: ExportFormat): SnapshotDepth {
  return format === 'dump' || format === 'json' ? 'full' : 'basic';
}

/**
 * The Content-Type of a format. `openmetrics` in the dovecot style is what
 * Dovecot sends (version 0.0.1); `version001` asks for that version of the
 * strict style (a client accepting only OpenMetrics 0.0.1).
 */
export function contentTypeFor(format: ExportFormat, opts?: { style?: string; version001?: boolean }): string {
  switch (format) {
    case 'dump':
      return CONTENT_TYPE_DUMP;
    case 'json':
      return CONTENT_TYPE_JSON;
    case 'prometheus':
      return CONTENT_TYPE_PROMETHEUS_TEXT;
    case 'dovecot':
      return CONTENT_TYPE_OPENMETRICS_0_0_1;
    case 'openmetrics':
      return opts?.style === 'dovecot' || opts?.version001 === true
        ? CONTENT_TYPE_OPENMETRICS_0_0_1
        : CONTENT_TYPE_OPENMETRICS;
  }
}

/**
 * Renders one format. `openmetrics` follows `opts.style` (strict or
 * dovecot); `dovecot` is the dovecot style whatever the setting.
 */
export function renderExport(format: ExportFormat, snap: EngineSnapshot, opts: ExportOptions): string {
  switch (format) {
    case 'dump':
      return renderDump(snap, opts.fields ?? DEFAULT_DUMP_FIELDS, { compat: opts.compat ?? '2.4' });
    case 'openmetrics':
      return renderOpenMetrics(snap, opts);
    case 'prometheus':
      return renderPrometheus(snap, opts);
    case 'dovecot':
      return renderDovecot(snap, opts);
    case 'json':
      return renderJson(snap, opts);
  }
}
