/**
 * Self-metric families (docs/contract.md §10): the engine counters of the snapshot plus
 * the families the runtime hands in.
 */
import type { EngineSnapshot } from '../metrics/types.js';
import { labelSet, NO_LABELS, type ScalarFamily } from './family.js';
import { uniqueLabelNames } from './names.js';
import type { MetricsOptions, SelfFamily } from './types.js';

function scalar(name: string, help: string, kind: 'counter' | 'gauge', samples: ScalarFamily['samples']): ScalarFamily {
  return { kind, name, help, unit: null, metric: -1, samples };
}

function one(value: number): ScalarFamily['samples'] {
  return [{ labels: NO_LABELS, value }];
}

function byLabel(label: string, entries: [string, number][]): ScalarFamily['samples'] {
  const names = [label];
  return entries.map(([v, n]) => ({ labels: labelSet(names, [v]), value: n }));
}

/** A runtime family: the stem of a counter is its name without `_total`; label names are made valid. */
function fromExtra(f: SelfFamily): ScalarFamily {
  const name = f.type === 'counter' && f.name.endsWith('_total') ? f.name.slice(0, -'_total'.length) : f.name;
  const samples = f.samples.map((s) => {
    const keys = Object.keys(s.labels);
    const names = uniqueLabelNames(keys);
    return { labels: labelSet(names, keys.map((k) => s.labels[k] as string)), value: s.value };
  });
  const fam = scalar(name, f.help, f.type, samples);
  // a counter named without `_total` (KumoMTA's `total_messages_delivered`) keeps its name as a JSON key
  return f.type === 'counter' && name === f.name ? { ...fam, jsonKey: f.name } : fam;
}

/** Families with OpenMetrics stems (a counter `tallyd_batches` prints `tallyd_batches_total`). */
export function selfFamilies(snap: EngineSnapshot, extra: readonly SelfFamily[]): ScalarFamily[] {
  const c = snap.counters;
  const out: ScalarFamily[] = [
    scalar('tallyd_events_received', 'Events received, accepted or rejected', 'counter', one(c.eventsReceived)),
    scalar('tallyd_events_accepted', 'Events accepted', 'counter', one(c.eventsAccepted)),
    scalar(
      'tallyd_events_rejected',
      'Events rejected, by reason',
      'counter',
      byLabel('reason', Object.entries(c.eventsRejected)),
    ),
    scalar('tallyd_events_lost', 'Events lost in a shard worker that died', 'counter', one(c.eventsLost)),
    scalar('tallyd_batches', 'Batches received', 'counter', one(c.batches)),
    scalar('tallyd_bytes', 'Bytes of batches received', 'counter', one(c.bytes)),
    scalar(
      'tallyd_negative_values',
      'Negative values, recorded as 0 in the percentile histograms',
      'counter',
      one(c.negativeValues),
    ),
    scalar(
      'tallyd_sub_metrics_overflow',
      'Events that went to an __overflow__ sub-metric',
      'counter',
      byLabel('metric', snap.metrics.map((m) => [m.def.name, m.overflow])),
    ),
    scalar(
      'tallyd_sub_metrics',
      'Sub-metrics of a metric, all levels',
      'gauge',
      byLabel('metric', snap.metrics.map((m) => [m.def.name, m.subMetrics])),
    ),
  ];
  for (const f of extra) out.push(fromExtra(f));
  return out;
}

/** The label values of `tallyd_build_info`: version, revision, node. */
export function buildInfo(opts: MetricsOptions): [string, string, string] {
  return [opts.version, opts.revision ?? 'unknown', opts.node ?? process.version];
}
