import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Distribution, MergedDist, rankIndex, windowPercentiles, type DistHist } from '../../src/aggregate/index.js';
import { highestAtIndex, indexOfValue } from '../../src/aggregate/geometry.js';

const PS = [50, 95, 99];

/** the nearest-rank percentile the histogram reports for exactly these values */
function expected(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return highestAtIndex(indexOfValue(sorted[rankIndex(sorted.length, p)] as number));
}

function addAll(m: MergedDist, values: number[]): void {
  const d = new Distribution();
  for (const v of values) d.record(v);
  m.add(d.snapshot('full'));
}

describe('windowPercentiles (the values recorded between two snapshots)', () => {
  it('gives the percentiles of exactly the values added between then and now, for any history', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 0, max: 50_000_000 })), { maxLength: 3000 }),
        fc.array(fc.oneof(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 0, max: 50_000_000 })), { minLength: 1, maxLength: 3000 }),
        (before, during) => {
          const m = new MergedDist();
          addAll(m, before);
          const then = m.hist as DistHist | undefined;
          addAll(m, during);
          const w = windowPercentiles(m.hist as DistHist, then, PS);
          expect(w.count).toBe(during.length);
          expect(w.values).toEqual(PS.map((p) => expected(during, p)));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('is exact for integer values below 2048, and empty when nothing came in between', () => {
    const m = new MergedDist();
    addAll(m, Array.from({ length: 5000 }, () => 1000));
    const then = m.hist as DistHist;
    expect(windowPercentiles(m.hist as DistHist, then, PS)).toEqual({ count: 0, values: [0, 0, 0] });
    addAll(m, Array.from({ length: 100 }, (_, i) => i + 1));
    expect(windowPercentiles(m.hist as DistHist, then, PS)).toEqual({ count: 100, values: [50, 95, 99] });
    // without a start: everything so far
    expect(windowPercentiles(m.hist as DistHist, undefined, [50]).count).toBe(5100);
  });
});
