/**
 * Prometheus' protobuf exposition (`io.prometheus.client.MetricFamily`,
 * length-delimited), encoded by protobufjs from Prometheus' own
 * client_model metrics.proto (vendored in ./proto). Same families as the
 * strict text formats, plus a native histogram for every distribution at
 * every leaf (docs/native-histograms.md); where the last group_by level
 * quantizes, the classic buckets travel in the same Histogram message.
 */
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import type { EngineSnapshot } from '../metrics/types.js';
import type { Family, LabelSet } from './family.js';
import { buildModel, type NativeFamily } from './model.js';
import { NATIVE_SCHEMA, spansOf, ZERO_THRESHOLD, type NativeAcc } from './native.js';
import type { MetricsOptions } from './types.js';

export const CONTENT_TYPE_PROTOBUF = 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited';

const PROTO = fileURLToPath(new URL('./proto/metrics.proto', import.meta.url));
let familyType: protobuf.Type | undefined;

/** The MetricFamily message type (the .proto is parsed once). */
export function metricFamilyType(): protobuf.Type {
  familyType ??= protobuf.loadSync(PROTO).lookupType('io.prometheus.client.MetricFamily');
  return familyType;
}

// MetricType enum of metrics.proto
const COUNTER = 0;
const GAUGE = 1;
const HISTOGRAM = 4;

function labelsOf(l: LabelSet): { name: string; value: string }[] {
  return l.names.map((n, i) => ({ name: n, value: l.values[i] as string }));
}

/** The native part of a Histogram message. */
export function nativeFields(h: NativeAcc): Record<string, unknown> {
  const { spans, deltas } = spansOf(h);
  return {
    sampleCount: h.count,
    sampleSum: h.sum,
    schema: NATIVE_SCHEMA,
    zeroThreshold: ZERO_THRESHOLD,
    zeroCount: h.zero,
    positiveSpan: spans,
    positiveDelta: deltas,
  };
}

/** The families as plain objects of the MetricFamily shape (before encoding). */
export function protobufFamilies(families: readonly Family[], natives: readonly NativeFamily[]): Record<string, unknown>[] {
  const byName = new Map(natives.map((n) => [n.name, n]));
  const used = new Set<string>();
  const out: Record<string, unknown>[] = [];
  for (const f of families) {
    switch (f.kind) {
      case 'counter':
        out.push({ name: `${f.name}_total`, help: f.help, type: COUNTER, metric: f.samples.map((s) => ({ label: labelsOf(s.labels), counter: { value: s.value } })) });
        break;
      case 'gauge':
      case 'info':
        out.push({
          name: f.kind === 'info' ? `${f.name}_info` : f.name,
          help: f.help,
          type: GAUGE,
          metric: f.samples.map((s) => ({ label: labelsOf(s.labels), gauge: { value: s.value } })),
        });
        break;
      case 'histogram': {
        const nat = byName.get(f.name);
        if (nat !== undefined) used.add(f.name);
        const natByLabels = new Map((nat?.samples ?? []).map((s) => [s.labels.text, s.hist]));
        out.push({
          name: f.name,
          help: f.help,
          type: HISTOGRAM,
          metric: f.samples.map((s) => {
            const h = natByLabels.get(s.labels.text);
            const classic = {
              sampleCount: s.count,
              ...(s.sum !== null ? { sampleSum: s.sum } : {}),
              bucket: f.bounds.map((b, i) => ({ upperBound: b, cumulativeCount: s.cumulative[i] as number })),
            };
            // the native histogram's count and sum are those of all the leaf's values
            return { label: labelsOf(s.labels), histogram: h === undefined ? classic : { ...classic, ...nativeFields(h) } };
          }),
        });
        break;
      }
    }
  }
  for (const n of natives) {
    if (used.has(n.name)) continue;
    out.push({ name: n.name, help: n.help, type: HISTOGRAM, metric: n.samples.map((s) => ({ label: labelsOf(s.labels), histogram: nativeFields(s.hist) })) });
  }
  return out;
}

/** Renders the protobuf exposition: every MetricFamily, length-delimited. */
export function renderProtobuf(snap: EngineSnapshot, opts: MetricsOptions): Buffer {
  const model = buildModel(snap, opts, true);
  const T = metricFamilyType();
  const parts = protobufFamilies(model.families, model.natives).map((f) => T.encodeDelimited(T.fromObject(f)).finish());
  return Buffer.concat(parts);
}
