/**
 * The HDR → exponential bucket mapping (docs/native-histograms.md) and the
 * protobuf exposition, decoded back with protobufjs from Prometheus' .proto.
 */
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { describe, expect, test } from 'vitest';
import { Distribution, HIST_MAX, indexOfValue } from '../../src/aggregate/index.js';
import { highestAtIndex, lowestAtIndex } from '../../src/aggregate/geometry.js';
import { addDist, bucketIndex, NATIVE_SCHEMA, newNative, representative, spansOf, upperBound, type NativeAcc } from '../../src/export/native.js';
import { metricFamilyType, renderProtobuf } from '../../src/export/protobuf.js';
import { OPTS, snapshotOf } from './helpers.js';

function nativeOf(values: number[], scale = 1): NativeAcc {
  const d = new Distribution();
  for (const v of values) d.record(v);
  const acc = newNative();
  addDist(acc, d.snapshot('full'), scale);
  return acc;
}

/** The value at nearest rank q from a native histogram: the upper bound of the bucket holding that rank. */
function nativeQuantile(acc: NativeAcc, q: number): number {
  const rank = Math.max(1, Math.ceil(acc.count * q));
  let run = acc.zero;
  if (run >= rank) return 0;
  for (const k of [...acc.buckets.keys()].sort((a, b) => a - b)) {
    run += acc.buckets.get(k) as number;
    if (run >= rank) return upperBound(k);
  }
  return Infinity;
}

const values = fc.array(fc.oneof(fc.integer({ min: -1000, max: 3000 }), fc.integer({ min: 0, max: HIST_MAX }), fc.double({ min: 0, max: 1e12, noNaN: true })), {
  minLength: 1,
  maxLength: 1500,
});

describe('bucketIndex', () => {
  test('bound(k-1) < x <= bound(k), also on the bounds themselves', () => {
    fc.assert(
      fc.property(fc.double({ min: 1e-9, max: 1e15, noNaN: true }), (x) => {
        const k = bucketIndex(x);
        expect(upperBound(k - 1)).toBeLessThan(x);
        expect(upperBound(k)).toBeGreaterThanOrEqual(x);
      }),
    );
    for (const k of [-300, -1, 0, 1, 255, 256, 257, 2560]) expect(bucketIndex(upperBound(k))).toBe(k);
    expect(NATIVE_SCHEMA).toBe(8);
  });
});

describe('HDR → exponential buckets', () => {
  test('counts preserved exactly; count and sum are the exact stats', () => {
    fc.assert(
      fc.property(values, (vs) => {
        const acc = nativeOf(vs);
        let inBuckets = acc.zero;
        for (const n of acc.buckets.values()) inBuckets += n;
        expect(inBuckets).toBe(vs.length);
        expect(acc.count).toBe(vs.length);
        expect(acc.sum).toBeCloseTo(vs.reduce((a, b) => a + b, 0), 0);
        // zeros, negatives and values rounding to 0 are the zero bucket
        expect(acc.zero).toBe(vs.filter((v) => Math.round(v) <= 0).length);
      }),
      { numRuns: 60 },
    );
  });

  test('each HDR bucket lands in the exponential bucket holding its midpoint, inside its value range', () => {
    for (let i = 1; i < 27 * 1024; i += 7) {
      const lo = lowestAtIndex(i);
      const hi = highestAtIndex(i);
      const mid = representative(i);
      expect(mid).toBeGreaterThanOrEqual(lo);
      expect(mid).toBeLessThanOrEqual(hi);
      const k = bucketIndex(mid);
      expect(upperBound(k - 1) < mid && mid <= upperBound(k)).toBe(true);
      const acc = nativeOf([lo, hi]);
      expect([...acc.buckets.entries()]).toEqual([[k, 2]]);
    }
  });

  test('the top of the range: values above HIST_MAX go with HDR top bucket', () => {
    const acc = nativeOf([HIST_MAX, HIST_MAX * 4, 1e300]);
    expect([...acc.buckets.entries()]).toEqual([[bucketIndex(representative(indexOfValue(HIST_MAX))), 3]]);
    expect(acc.count).toBe(3);
  });

  test('quantiles within the bucket error (schema 8 + HDR 3 digits)', () => {
    const bound = 2 ** (1 / 256) - 1 + 1 / 1024; // ≈ 0.37%
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 2 ** 34 }), { minLength: 1, maxLength: 2000 }), fc.double({ min: 0.01, max: 1, noNaN: true }), (vs, q) => {
        const sorted = [...vs].sort((a, b) => a - b);
        const exact = sorted[Math.max(1, Math.ceil(vs.length * q)) - 1] as number;
        const got = nativeQuantile(nativeOf(vs), q);
        expect(Math.abs(got - exact) / exact).toBeLessThanOrEqual(bound);
      }),
      { numRuns: 80 },
    );
  });

  test('spans and deltas encode the buckets', () => {
    const acc = newNative();
    for (const [k, n] of [[5, 2], [6, 3], [9, 1], [-3, 4]] as const) acc.buckets.set(k, n);
    const { spans, deltas } = spansOf(acc);
    expect(spans).toEqual([
      { offset: -3, length: 1 },
      { offset: 7, length: 2 },
      { offset: 2, length: 1 },
    ]);
    expect(deltas).toEqual([4, -2, 1, -2]);
  });
});

describe('protobuf exposition', () => {
  const CONF = `metric imap {
  filter = event=imap
  fields = bytes
  group_by = cmd duration:exponential:1:5:10
}
metric auth {
  filter = event=auth
  group_by = user
}
`;
  const events: unknown[] = [];
  for (let i = 0; i < 700; i++) events.push({ event: 'imap', duration: (i * 37) % 5000, fields: { cmd: i % 3 === 0 ? 'SELECT' : 'FETCH', bytes: i } });
  events.push({ event: 'imap', duration: 10, fields: {} }); // stops above the cmd level
  for (let i = 0; i < 5; i++) events.push({ event: 'auth', duration: 1000 * i, fields: { user: `u${i % 2}` } });

  function decode(buf: Buffer): Record<string, { type: string; metric: Record<string, unknown>[] }> {
    const T = metricFamilyType();
    const r = protobuf.Reader.create(buf);
    const out: Record<string, { type: string; metric: Record<string, unknown>[] }> = {};
    while (r.pos < r.len) {
      const m = T.toObject(T.decodeDelimited(r), { enums: String, longs: Number, defaults: false }) as { name: string; type: string; metric: Record<string, unknown>[] };
      out[m.name] = m;
    }
    return out;
  }

  test('native histograms at every leaf, counters as in text, decoded with protobufjs', () => {
    const snap = snapshotOf(CONF, events);
    const fams = decode(renderProtobuf(snap, OPTS));
    expect(fams['dovecot_imap_total']?.type).toBe('COUNTER');
    const dur = fams['dovecot_imap_duration_seconds'];
    expect(dur?.type).toBe('HISTOGRAM');
    const hs = (dur?.metric ?? []).map((m) => m['histogram'] as { sampleCount: number; sampleSum: number; schema: number; zeroCount?: number; positiveDelta?: number[]; bucket?: unknown[] });
    // SELECT, FETCH and the event that stopped above cmd
    expect(hs.length).toBe(3);
    expect(hs.reduce((a, h) => a + h.sampleCount, 0)).toBe(701);
    for (const h of hs) {
      expect(h.schema).toBe(8);
      expect((h.bucket ?? []).length).toBe(5); // classic buckets too: the last level quantizes
      let run = 0;
      let total = h.zeroCount ?? 0;
      for (const d of h.positiveDelta ?? []) total += run += d;
      expect(total).toBe(h.sampleCount);
    }
    const sumUs = events.reduce((a: number, e) => a + ((e as { event: string; duration: number }).event === 'imap' ? (e as { duration: number }).duration : 0), 0);
    expect(hs.reduce((a, h) => a + h.sampleSum, 0)).toBeCloseTo(sumUs / 1e6, 9);
    // a listed field: its own native histogram, count = events that have it
    const bytes = fams['dovecot_imap_bytes'];
    expect(bytes?.type).toBe('HISTOGRAM');
    expect((bytes?.metric ?? []).reduce((a, m) => a + (m['histogram'] as { sampleCount: number }).sampleCount, 0)).toBe(700);
    // no classic buckets where the last level does not quantize
    const auth = fams['dovecot_auth_duration_seconds']?.metric ?? [];
    expect(auth.map((m) => (m['histogram'] as { sampleCount: number; bucket?: unknown[] }).sampleCount)).toEqual([3, 2]);
    expect(auth.every((m) => ((m['histogram'] as { bucket?: unknown[] }).bucket ?? []).length === 0)).toBe(true);
    expect(fams['dovecot_auth_duration_seconds_total']?.type).toBe('COUNTER');
    expect(fams['tallyd_build_info']?.type).toBe('GAUGE');
  });
});
