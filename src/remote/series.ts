/**
 * One snapshot → the TimeSeries of a remote-write WriteRequest: every
 * counter and gauge of the strict model (metric families and tallyd's own)
 * as a sample, every native histogram (docs/native-histograms.md) as a
 * histogram; classic buckets are not sent (the native histogram carries the
 * same events at a finer resolution). Labels sorted, empty values dropped
 * (as a scrape would), external_labels added where the series has no such
 * label, all at the snapshot's time.
 */
import { buildModel } from '../export/model.js';
import { NATIVE_SCHEMA, spansOf, ZERO_THRESHOLD, type NativeAcc } from '../export/native.js';
import type { LabelSet } from '../export/family.js';
import type { MetricsOptions } from '../export/types.js';
import type { EngineSnapshot } from '../metrics/types.js';

export interface Label {
  name: string;
  value: string;
}

export interface TimeSeries {
  labels: Label[];
  samples?: { value: number; timestamp: number }[];
  histograms?: Record<string, unknown>[];
}

function labelsOf(name: string, l: LabelSet, external: readonly (readonly [string, string])[]): Label[] {
  const out: Label[] = [{ name: '__name__', value: name }];
  for (let i = 0; i < l.names.length; i++) {
    const v = l.values[i] as string;
    if (v !== '') out.push({ name: l.names[i] as string, value: v });
  }
  for (const [k, v] of external) if (!out.some((x) => x.name === k)) out.push({ name: k, value: v });
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function histogramOf(h: NativeAcc, timestamp: number): Record<string, unknown> {
  const { spans, deltas } = spansOf(h);
  return {
    countInt: h.count,
    sum: h.sum,
    schema: NATIVE_SCHEMA,
    zeroThreshold: ZERO_THRESHOLD,
    zeroCountInt: h.zero,
    positiveSpans: spans,
    positiveDeltas: deltas,
    timestamp,
  };
}

/** The series of one snapshot; `timestamp` in ms since the epoch. */
export function seriesOf(snap: EngineSnapshot, opts: MetricsOptions, external: readonly (readonly [string, string])[], timestamp: number): TimeSeries[] {
  const model = buildModel(snap, opts, true);
  const out: TimeSeries[] = [];
  for (const f of model.families) {
    if (f.kind === 'histogram') continue;
    const name = f.kind === 'counter' ? `${f.name}_total` : f.kind === 'info' ? `${f.name}_info` : f.name;
    for (const s of f.samples) out.push({ labels: labelsOf(name, s.labels, external), samples: [{ value: s.value, timestamp }] });
  }
  for (const n of model.natives) {
    for (const s of n.samples) out.push({ labels: labelsOf(n.name, s.labels, external), histograms: [histogramOf(s.hist, timestamp)] });
  }
  return out;
}

/** Samples a series carries (a histogram counts as one). */
export function sampleCount(ts: readonly TimeSeries[]): number {
  let n = 0;
  for (const t of ts) n += (t.samples?.length ?? 0) + (t.histograms?.length ?? 0);
  return n;
}
