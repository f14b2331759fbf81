import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Distribution, MergedDist, RawIndices, statOf } from '../../src/aggregate/index.js';
import { DeltaWriter } from '../../src/merge/delta.js';

const STATS = ['count', 'sum', 'min', 'max', 'median', '%95', '%99.9', '%1', '%50'];

describe('MergedDist (the main thread state)', () => {
  it('gives the figures of one distribution holding every value, for any sequence of added deltas', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.oneof(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 0, max: 50_000_000 })), { maxLength: 700 }), {
          maxLength: 8,
        }),
        (parts) => {
          const whole = new Distribution();
          const merged = new MergedDist();
          for (const part of parts) {
            const d = new Distribution();
            for (const v of part) {
              d.record(v);
              whole.record(v);
            }
            merged.add(d.snapshot('full'));
          }
          const w = whole.snapshot('full');
          for (const s of STATS) expect([s, statOf(merged, s)]).toEqual([s, statOf(w, s)]);
          expect(statOf(merged, 'stddev')).toBeCloseTo(statOf(w, 'stddev') as number, 6);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('adds flat deltas of raw values through shared indices (a node and its ancestors), across many folds', () => {
    // the accumulator adds one delta dist to a node and each dense ancestor with one RawIndices;
    // pending indices fold every 16,384 values (here 18,000 and more), so a delta may fill them part of the way
    fc.assert(
      fc.property(
        // parts of at most INLINE_MAX (480) values ship raw; unbiased values, so a misplaced index shows
        fc.array(fc.array(fc.noBias(fc.integer({ min: 0, max: 5_000_000 })), { minLength: 300, maxLength: 480 }), { minLength: 60, maxLength: 100 }),
        (parts) => {
          const whole = new Distribution();
          const levels = [new MergedDist(), new MergedDist(), new MergedDist()];
          const raw = new RawIndices();
          const w = new DeltaWriter();
          for (const part of parts) {
            const d = new Distribution();
            for (const v of part) {
              d.record(v);
              whole.record(v);
            }
            d.writeDelta(w);
            const cells = w.buf.slice(0, w.len);
            w.len = 0;
            const ends = levels.map((m) => m.addFlat(cells, 0, raw));
            expect(new Set(ends)).toEqual(new Set([cells.length]));
          }
          const ref = whole.snapshot('full');
          for (const m of levels) for (const s of STATS) expect([s, statOf(m, s)]).toEqual([s, statOf(ref, s)]);
        },
      ),
      // large inputs: a failure is reported as found (shrinking them takes minutes)
      { numRuns: 12, endOnFailure: true },
    );
  });

  it('zeroes on reset and is reusable', () => {
    const m = new MergedDist();
    const d = new Distribution();
    for (let i = 1; i <= 1000; i++) d.record(i);
    m.add(d.snapshot('full'));
    expect(statOf(m, 'median')).toBe(500);
    m.reset();
    expect([statOf(m, 'count'), statOf(m, 'median'), statOf(m, 'max')]).toEqual([0, 0, 0]);
    const e = new Distribution();
    e.record(7);
    m.add(e.snapshot('full'));
    expect([statOf(m, 'count'), statOf(m, 'median'), statOf(m, '%99')]).toEqual([1, 7, 7]);
  });

  it('after any number of resets, dense or not, holds only what came after the last one', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 2 ** 40 })), { minLength: 300, maxLength: 1500 }), {
          minLength: 2,
          maxLength: 5,
        }),
        (rounds) => {
          const m = new MergedDist();
          for (const values of rounds) {
            m.reset();
            const d = new Distribution();
            for (const v of values) d.record(v);
            m.add(d.snapshot('full'));
            const fresh = new MergedDist();
            fresh.add(d.snapshot('full'));
            expect(m.hist).toEqual(fresh.hist);
            for (const s of STATS) expect([s, statOf(m, s)]).toEqual([s, statOf(fresh, s)]);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
