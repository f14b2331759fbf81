import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Distribution, HIST_MAX, INLINE_MAX, emptyDist, mergeDist, mergeInto, statOf, subtractBasic } from '../../src/aggregate/index.js';
import type { DistSnapshot } from '../../src/aggregate/index.js';
import { entries, oracle, oracleMedian, oraclePercentile, withinHdr } from './oracle.js';
import type { BucketsHist } from '../../src/aggregate/index.js';

const FIGURES = ['median', '%0', '%1', '%25', '%50', '%90', '%95', '%99', '%99.9', '%100'];

function snap(values: readonly number[], depth: 'basic' | 'full' = 'full'): DistSnapshot {
  const d = new Distribution();
  for (const v of values) d.record(v);
  return d.snapshot(depth);
}

/** merge in an order and grouping chosen by `choices` */
function mergeAll(parts: DistSnapshot[], choices: readonly number[]): DistSnapshot {
  const list = [...parts];
  let c = 0;
  while (list.length > 1) {
    const i = (choices[c++ % choices.length] ?? 0) % list.length;
    const a = list.splice(i, 1)[0] as DistSnapshot;
    const j = (choices[c++ % choices.length] ?? 0) % list.length;
    const b = list.splice(j, 1)[0] as DistSnapshot;
    list.push((choices[c++ % choices.length] ?? 0) % 2 === 0 ? mergeDist(a, b) : mergeDist(b, a));
  }
  return list[0] ?? emptyDist();
}

function split<T>(values: readonly T[], cuts: readonly number[], k: number): T[][] {
  const at = cuts.slice(0, k - 1).map((c) => c % (values.length + 1)).sort((a, b) => a - b);
  const parts: T[][] = [];
  let from = 0;
  for (const c of at) {
    parts.push(values.slice(from, c));
    from = c;
  }
  parts.push(values.slice(from));
  return parts;
}

/** floats too close to 0 are left out: their squares are subnormal and M2 loses its digits */
const value = fc.oneof(
  fc.integer({ min: 0, max: 3000 }),
  fc.integer({ min: 0, max: 10_000_000 }),
  fc.integer({ min: -1000, max: 1000 }),
  fc.double({ min: -1e6, max: 1e9, noNaN: true }).filter((v) => v === 0 || Math.abs(v) > 1e-100),
);

describe('mergeDist', () => {
  it('merging parts in any grouping and order equals recording the whole', () => {
    fc.assert(
      fc.property(
        fc.array(value, { maxLength: 1500 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.nat(), { minLength: 4, maxLength: 4 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 16 }),
        (values, k, cuts, choices) => {
          const whole = snap(values);
          const merged = mergeAll(split(values, cuts, k).map((p) => snap(p)), choices);
          const o = oracle(values);
          expect(merged.count).toBe(whole.count);
          expect(merged.min).toBe(whole.min);
          expect(merged.max).toBe(whole.max);
          const abs = values.reduce((a, v) => a + Math.abs(v), 0);
          expect(Math.abs(merged.sum - whole.sum)).toBeLessThanOrEqual(1e-12 * abs);
          if (values.every(Number.isInteger)) expect(merged.sum).toBe(whole.sum);
          const floor = 1e-12 * values.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
          for (const s of [statOf(merged, 'stddev') as number, o.stddev]) {
            const w = statOf(whole, 'stddev') as number;
            expect(Math.abs(s - w)).toBeLessThanOrEqual(1e-9 * w + floor);
          }
          expect(merged.hist?.kind).toBe(values.length <= INLINE_MAX ? 'values' : 'hdr');
          for (const f of FIGURES) expect(statOf(merged, f), f).toBe(statOf(whole, f));
          const exact = values.length <= INLINE_MAX;
          expect(exact || withinHdr(statOf(merged, 'median') as number, oracleMedian(o), o.max, 1)).toBe(true);
          for (const p of [0, 1, 25, 50, 90, 95, 99, 99.9, 100]) {
            const got = statOf(merged, `%${p}`) as number;
            if (exact) expect(got).toBe(oraclePercentile(o, p));
            else expect(withinHdr(got, oraclePercentile(o, p), o.max), `%${p}`).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('empty is the identity, on either side', () => {
    for (const x of [snap([]), snap([4, 2.5, -1]), snap(Array.from({ length: 2000 }, (_, i) => i)), snap([1, 2], 'basic')]) {
      expect(mergeDist(emptyDist(), x)).toEqual(x);
      expect(mergeDist(x, emptyDist())).toEqual(x);
      expect(mergeDist(snap([]), x)).toEqual(x.count === 0 ? snap([]) : x);
    }
  });

  it('does not mutate its inputs', () => {
    const a = snap(Array.from({ length: 900 }, (_, i) => i * 3));
    const b = snap([5, 6, 7]);
    const ca = structuredClone(a);
    const cb = structuredClone(b);
    mergeDist(a, b);
    mergeDist(b, a);
    const t = mergeDist(emptyDist(), a);
    mergeInto(t, b);
    mergeInto(t, a);
    expect(a).toEqual(ca);
    expect(b).toEqual(cb);
    expect(statOf(t, 'count')).toBe(1803);
  });

  it('merges mean and M2 by the parallel formula', () => {
    const a = [1, 2, 3, 4];
    const b = [5, 6, 7, 8];
    const m = mergeDist(snap(a), snap(b));
    expect(m.mean).toBe(4.5);
    expect(m.m2).toBeCloseTo(42, 12);
    expect(statOf(m, 'stddev')).toBeCloseTo(2.29128784747792, 12);
  });

  it('mergeInto accumulates like mergeDist', () => {
    const parts = [[1, 2, 3], Array.from({ length: 700 }, (_, i) => i * 11), [], [-4.5, 9.25]];
    const acc = emptyDist();
    let pairwise = emptyDist();
    for (const p of parts) {
      mergeInto(acc, snap(p));
      pairwise = mergeDist(pairwise, snap(p));
    }
    expect(acc).toEqual(pairwise);
  });

  it('a basic side drops the hist of a non-empty result', () => {
    const m = mergeDist(snap([1, 2, 3]), snap([4], 'basic'));
    expect(m.hist).toBeUndefined();
    expect([m.count, m.sum, m.min, m.max]).toEqual([4, 10, 1, 4]);
    expect(statOf(m, 'median')).toBeUndefined();
    expect(mergeDist(snap([1, 2], 'basic'), snap([3], 'basic'))).toEqual(snap([1, 2, 3], 'basic'));
  });

  it('keeps bucket counts exact up to 2^53 and across the whole range', () => {
    const values = [0, 1, 2047, 2048, 5000, 5000, 5000, 1e6, 3.6e9, 6e10, 6e10, HIST_MAX];
    for (let i = 0; i < 600; i++) values.push(700 + i * i);
    let m = snap(values);
    const base = entries(m.hist as BucketsHist);
    const figures = FIGURES.map((f) => statOf(m, f));
    for (let k = 0; k < 40; k++) m = mergeDist(m, m);
    expect(m.count).toBe(values.length * 2 ** 40);
    expect(entries(m.hist as BucketsHist)).toEqual(base.map(([i, c]) => [i, c * 2 ** 40]));
    expect((m.hist as BucketsHist).counts).toBeInstanceOf(Float64Array);
    expect(FIGURES.map((f) => statOf(m, f))).toEqual(figures);
  });

  it('survives structured cloning between merges', () => {
    const a = structuredClone(snap(Array.from({ length: 1000 }, (_, i) => i)));
    const b = structuredClone(snap([1, 2, 3]));
    expect(mergeDist(a, b)).toEqual(snap([...Array.from({ length: 1000 }, (_, i) => i), 1, 2, 3]));
  });
});

describe('subtractBasic', () => {
  it('subtracts count and sum', () => {
    const parent = snap([1, 2, 3, 10]);
    const child = mergeDist(snap([1]), snap([3]));
    expect(subtractBasic(parent, child)).toEqual({ count: 2, sum: 12 });
    expect(subtractBasic(parent, parent)).toEqual({ count: 0, sum: 0 });
  });
});
