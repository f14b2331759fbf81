import { serialize } from 'node:v8';
import fc from 'fast-check';
import { Int32Histogram } from 'hdr-histogram-js';
import { describe, expect, it } from 'vitest';
import { Distribution, MergedDist, HIST_MAX, INLINE_MAX, SIGNIFICANT_DIGITS, emptyDist, statOf } from '../../src/aggregate/index.js';
import type { BucketsHist, DistSnapshot, ValuesHist } from '../../src/aggregate/index.js';
import { DeltaWriter, KIND_BUCKETS, KIND_INDICES, KIND_RAW } from '../../src/merge/delta.js';
import { entries, oracle, oracleMedian, oraclePercentile, withinHdr } from './oracle.js';

const PS = [0, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100];

function dist(values: readonly number[]): Distribution {
  const d = new Distribution();
  for (const v of values) d.record(v);
  return d;
}

function basicFigures(s: DistSnapshot): (number | undefined)[] {
  return ['count', 'sum', 'min', 'max', 'avg'].map((f) => statOf(s, f));
}

describe('Distribution', () => {
  it('keeps count/sum/min/max exact with floats and negatives', () => {
    const values = [1.25, -3.5, 1e-9, 2 ** 40 + 0.5, -0.25, 7];
    const s = dist(values).snapshot('full');
    const o = oracle(values);
    expect(s.count).toBe(6);
    expect(s.sum).toBe(values.reduce((a, b) => a + b, 0));
    expect(s.min).toBe(-3.5);
    expect(s.max).toBe(2 ** 40 + 0.5);
    expect(statOf(s, 'stddev')).toBeCloseTo(o.stddev, 3);
    expect(statOf(s, '%0')).toBe(-3.5);
    expect(statOf(s, '%100')).toBe(2 ** 40 + 0.5);
  });

  it('is exact for every figure while it holds at most INLINE_MAX values', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1e12, max: 1e12, noNaN: true }), { maxLength: INLINE_MAX }), (values) => {
        const s = dist(values).snapshot('full');
        const o = oracle(values);
        expect(s.hist?.kind).toBe('values');
        for (const p of PS) expect(statOf(s, `%${p}`)).toBe(oraclePercentile(o, p));
        expect(statOf(s, 'median')).toBe(oracleMedian(o));
        expect([s.min, s.max, s.count]).toEqual([o.min, o.max, o.count]);
      }),
      { numRuns: 200 },
    );
  });

  it('percentiles from the histogram: exact below 2048, within 0.1% above (sorted-array oracle)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 0, max: 2047 }), fc.integer({ min: 0, max: HIST_MAX }), fc.integer({ min: 2048, max: 5_000_000 })), {
          minLength: INLINE_MAX + 1,
          maxLength: 3000,
        }),
        (values) => {
          const d = dist(values);
          expect(d.dense).toBe(true);
          const s = d.snapshot('full');
          const o = oracle(values);
          for (const p of PS) {
            const exact = oraclePercentile(o, p);
            const got = statOf(s, `%${p}`) as number;
            if (exact < 2048) expect(got).toBe(exact);
            else {
              expect(got).toBeGreaterThanOrEqual(exact);
              expect(got).toBeLessThanOrEqual(exact * 1.001);
            }
          }
          const m = oracleMedian(o);
          const gm = statOf(s, 'median') as number;
          if ((o.sorted[Math.floor(o.count / 2)] as number) < 2048) expect(gm).toBe(m);
          else expect(Math.abs(gm - m)).toBeLessThanOrEqual(m / 1000 + 1);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('reports what hdr-histogram-js itself reports, clamped to [min, max]', () => {
    const lib = new Int32Histogram(1, HIST_MAX, SIGNIFICANT_DIGITS);
    const d = new Distribution();
    let x = 7;
    for (let i = 0; i < 20_000; i++) {
      x = (x * 1103515245 + 12345) % 2147483648;
      const v = Math.floor(Math.exp((x / 2147483648) * 20));
      lib.recordValue(v);
      d.record(v);
    }
    const s = d.snapshot('full');
    for (const p of PS.filter((q) => q > 0)) {
      expect(statOf(s, `%${p}`), `%${p}`).toBe(Math.min(Math.max(lib.getValueAtPercentile(p), s.min), s.max));
    }
  });

  it('handles floats, negatives and values above the range in the histogram', () => {
    const values: number[] = [];
    for (let i = 0; i < 1000; i++) values.push(i % 7 === 0 ? -i : i * 1.37, i === 999 ? HIST_MAX * 4 : 3e9 + i);
    const s = dist(values).snapshot('full');
    const o = oracle(values);
    expect([s.count, s.min, s.max]).toEqual([o.count, o.min, o.max]);
    expect(s.sum).toBeCloseTo(o.sum, 0);
    expect(statOf(s, '%100')).toBe(HIST_MAX * 4);
    for (const p of PS) expect(withinHdr(statOf(s, `%${p}`) as number, oraclePercentile(o, p), o.max), `%${p}`).toBe(true);
    const above = dist([...Array.from({ length: 600 }, () => 1), ...Array.from({ length: 600 }, () => HIST_MAX * 2)]).snapshot('full');
    expect(statOf(above, '%99')).toBe(HIST_MAX);
    expect(statOf(above, 'max')).toBe(HIST_MAX * 2);
  });

  it('promotion to the histogram preserves every figure', () => {
    const values = Array.from({ length: INLINE_MAX + 1 }, (_, i) => (i * 37) % 2000);
    const before = dist(values.slice(0, INLINE_MAX));
    const after = dist(values);
    expect(before.dense).toBe(false);
    expect(after.dense).toBe(true);
    const o = oracle(values);
    const s = after.snapshot('full');
    expect(s.hist?.kind).toBe('hdr');
    expect(basicFigures(s)).toEqual([o.count, o.sum, o.min, o.max, o.sum / o.count]);
    expect(statOf(s, 'stddev')).toBeCloseTo(o.stddev, 9);
    expect(statOf(s, 'median')).toBe(oracleMedian(o));
    for (const p of PS) expect(statOf(s, `%${p}`)).toBe(oraclePercentile(o, p));
    expect(entries(s.hist as BucketsHist).reduce((a, [, c]) => a + c, 0)).toBe(INLINE_MAX + 1);
  });

  it('grows its inline store without losing values', () => {
    const d = new Distribution();
    for (let i = INLINE_MAX; i > 0; i--) d.record(i);
    const h = d.snapshot('full').hist as ValuesHist;
    expect(Array.from(h.values)).toEqual(Array.from({ length: INLINE_MAX }, (_, i) => i + 1));
  });

  it('gives the same figures whenever it is read: reading mid-stream, deltas and resets lose no value', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5_000_000 }), { minLength: 2500, maxLength: 9000 }),
        fc.array(fc.integer({ min: 1, max: 8999 }), { maxLength: 6 }),
        (values, cuts) => {
          const once = dist(values);
          const read = new Distribution();
          const deltas = new Distribution();
          // the deltas, folded on the other side, are the whole stream again
          const merged = new MergedDist();
          const ship = (): void => {
            const w = new DeltaWriter();
            deltas.writeDelta(w);
            expect(merged.addFlat(w.buf, 0)).toBe(w.len);
          };
          values.forEach((v, i) => {
            read.record(v);
            deltas.record(v);
            if (cuts.includes(i)) {
              read.snapshot('full');
              ship();
            }
          });
          ship();
          expect(read.snapshot('full')).toEqual(once.snapshot('full'));
          const whole = once.snapshot('full');
          expect({ count: merged.count, sum: merged.sum, min: merged.min, max: merged.max }).toEqual({ count: whole.count, sum: whole.sum, min: whole.min, max: whole.max });
          expect(merged.hist).toEqual(whole.hist);
          expect(deltas.count).toBe(0);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('ships a delta as its values, its pending indices or its buckets, and the other side counts the same', () => {
    // [values in the delta, read mid-way (folds the pending indices)], and the kind that delta must have
    const segments: [number, boolean, number][] = [
      [100, false, KIND_RAW],
      [1000, false, KIND_INDICES],
      [5000, false, KIND_BUCKETS],
      [1000, true, KIND_BUCKETS],
      [INLINE_MAX + 1, false, KIND_INDICES],
    ];
    let x = 12345;
    const next = (): number => {
      x = (x * 1103515245 + 12345) % 2147483648;
      return x % 3_000_000;
    };
    const all: number[] = [];
    const d = new Distribution();
    const merged = new MergedDist();
    const kinds: number[] = [];
    for (const [n, read, kind] of segments) {
      for (let i = 0; i < n; i++) {
        const v = next();
        all.push(v);
        d.record(v);
        if (read && i === n >> 1) d.snapshot('full');
      }
      const w = new DeltaWriter();
      d.writeDelta(w);
      kinds.push(w.buf[6] as number);
      expect(w.buf[7]).toBe(kind === KIND_BUCKETS ? (w.len - 8) / 2 : n);
      expect(merged.addFlat(w.buf, 0)).toBe(w.len);
    }
    expect(kinds).toEqual(segments.map((s) => s[2]));
    const whole = dist(all).snapshot('full');
    expect({ count: merged.count, sum: merged.sum, min: merged.min, max: merged.max }).toEqual({ count: whole.count, sum: whole.sum, min: whole.min, max: whole.max });
    expect(merged.hist).toEqual(whole.hist);
  });

  it('absorbs another distribution as if it had recorded its values, leaving the other as it was', () => {
    const values = fc.array(fc.oneof(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 0, max: 50_000_000 })), { maxLength: 3000 });
    fc.assert(
      fc.property(values, values, fc.boolean(), fc.boolean(), (a, b, readA, readB) => {
        const x = dist(a);
        const y = dist(b);
        // a read folds pending indices: absorbing then reads the other's histogram counts
        if (readA) x.snapshot('full');
        if (readB) y.snapshot('full');
        const before = y.snapshot('full');
        x.absorb(y);
        const whole = dist([...a, ...b]).snapshot('full');
        const got = x.snapshot('full');
        expect(basicFigures(got)).toEqual(basicFigures(whole));
        expect(got.hist).toEqual(whole.hist);
        expect(statOf(got, 'stddev')).toBeCloseTo(statOf(whole, 'stddev') as number, 6);
        expect(y.snapshot('full')).toEqual(before);
        // and it still ships as one delta
        const m = new MergedDist();
        const w = new DeltaWriter();
        x.writeDelta(w);
        m.addFlat(w.buf, 0);
        expect(m.count).toBe(whole.count);
        if (whole.count > 0) expect(m.hist).toEqual(whole.hist);
      }),
      { numRuns: 150 },
    );
  });

  it('reset zeroes everything and keeps working, sparse or dense', () => {
    for (const n of [3, 5000]) {
      const d = dist(Array.from({ length: n }, (_, i) => 100 + i));
      expect(d.dense).toBe(n > INLINE_MAX);
      d.reset();
      expect(d.count).toBe(0);
      expect(d.dense).toBe(false);
      const z = d.snapshot('full');
      expect(z).toEqual({ ...emptyDist(), hist: { kind: 'values', values: new Float64Array(0) } });
      for (const f of ['count', 'sum', 'min', 'max', 'avg', 'median', 'stddev', '%95']) expect(statOf(z, f)).toBe(0);
      d.record(5);
      d.record(9);
      expect(basicFigures(d.snapshot('full'))).toEqual([2, 14, 5, 9, 7]);
      expect(statOf(d.snapshot('full'), 'median')).toBe(7);
      for (let i = 0; i < 1000; i++) d.record(3);
      const again = d.snapshot('full');
      expect(d.dense).toBe(true);
      expect(entries(again.hist as BucketsHist)).toEqual([
        [3, 1000],
        [5, 1],
        [9, 1],
      ]);
      expect(statOf(again, '%99.9')).toBe(5);
      expect(statOf(again, '%100')).toBe(9);
      expect(statOf(again, '%99')).toBe(3);
    }
  });

  it("'basic' snapshots have no hist; all snapshots survive structured cloning", () => {
    const d = dist([1, 2, 3]);
    expect('hist' in d.snapshot('basic')).toBe(false);
    const big = dist(Array.from({ length: 10_000 }, (_, i) => i * i));
    for (const s of [d.snapshot('full'), big.snapshot('full'), big.snapshot('basic')]) {
      const c = structuredClone(s);
      expect(c).toEqual(s);
      for (const f of ['median', '%95', '%99.9', 'stddev']) expect(statOf(c, f)).toBe(statOf(s, f));
    }
  });

  it('snapshots are compact', () => {
    const sparse = dist([1, 2, 3]).snapshot('full');
    expect(serialize(sparse).length).toBeLessThan(200);
    const values = Array.from({ length: 100_000 }, (_, i) => 1000 + ((i * 7919) % 1_000_000));
    const s = dist(values).snapshot('full');
    const h = s.hist as BucketsHist;
    const e = entries(h);
    expect(e.reduce((a, [, c]) => a + c, 0)).toBe(values.length);
    expect(e.length).toBeLessThan(new Set(values).size);
    for (let i = 1; i < e.length; i++) expect((e[i] as number[])[0]).toBeGreaterThan((e[i - 1] as number[])[0] as number);
    expect(h.counts).toBeInstanceOf(Uint32Array);
    expect(h.index.buffer.byteLength).toBe(2 * e.length);
    expect(h.counts.buffer.byteLength).toBe(4 * e.length);
    expect(serialize(s).length).toBeLessThan(6 * e.length + 200);
  });
});
