import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Distribution, MergedDist, statOf } from '../../src/aggregate/index.js';
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

  it('adds flat deltas across many folds, and a node absorbing its children equals recording everything', () => {
    // pending indices fold every 16,384 values (here 18,000 and more), so a delta may fill them part of the way;
    // the parent takes in three children, some sparse and some dense, twice (reset in between: its counts reused)
    fc.assert(
      fc.property(
        // parts of at most INLINE_MAX (480) values ship raw; unbiased values, so a misplaced index shows
        fc.array(fc.array(fc.noBias(fc.integer({ min: 0, max: 5_000_000 })), { minLength: 1, maxLength: 480, size: 'max' }), { minLength: 1, maxLength: 100, size: 'max' }),
        fc.array(fc.nat(2), { minLength: 100, maxLength: 100 }),
        (parts, owners) => {
          const whole = new Distribution();
          const kids = [new MergedDist(), new MergedDist(), new MergedDist()];
          const w = new DeltaWriter();
          parts.forEach((part, i) => {
            const d = new Distribution();
            for (const v of part) {
              d.record(v);
              whole.record(v);
            }
            d.writeDelta(w);
            const cells = w.buf.slice(0, w.len);
            w.len = 0;
            expect((kids[owners[i] ?? 0] as MergedDist).addFlat(cells, 0)).toBe(cells.length);
          });
          const ref = whole.snapshot('full');
          const refMerged = new MergedDist();
          refMerged.add(ref);
          const parent = new MergedDist();
          for (let round = 0; round < 2; round++) {
            parent.reset();
            for (const k of kids) parent.absorb(k);
            for (const s of STATS) expect([s, statOf(parent, s)]).toEqual([s, statOf(ref, s)]);
            expect(parent.hist).toEqual(refMerged.hist);
          }
          // absorbing leaves what it read as it was
          const again = new MergedDist();
          for (const k of kids) again.absorb(k);
          for (const s of STATS) expect([s, statOf(again, s)]).toEqual([s, statOf(ref, s)]);
        },
      ),
      // large inputs: a failure is reported as found (shrinking them takes minutes)
      { numRuns: 30, endOnFailure: true },
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
