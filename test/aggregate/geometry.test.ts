import fc from 'fast-check';
import { Int32Histogram } from 'hdr-histogram-js';
import { describe, expect, it } from 'vitest';
import { COUNTS_LENGTH, HIST_MAX, SIGNIFICANT_DIGITS, highestAtIndex, histValue, indexOfValue } from '../../src/aggregate/index.js';
import { lowestAtIndex } from '../../src/aggregate/geometry.js';

const lib = new Int32Histogram(1, HIST_MAX, SIGNIFICANT_DIGITS);

describe('HDR geometry', () => {
  it('matches the hdr-histogram-js layout', () => {
    expect(lib.countsArrayLength).toBe(COUNTS_LENGTH);
    expect(indexOfValue(HIST_MAX)).toBe(COUNTS_LENGTH - 1);
    expect(lib.countsArrayIndex(HIST_MAX)).toBe(COUNTS_LENGTH - 1);
  });

  it('computes the library index and equivalent range for every edge', () => {
    const edges: number[] = [0, 1, 2047, 2048, 2049, 4095, 4096, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 3.6e9, HIST_MAX - 1, HIST_MAX];
    for (let k = 11; k < 36; k++) edges.push(2 ** k - 1, 2 ** k, 2 ** k + 1, 3 * 2 ** (k - 1));
    for (const x of edges) {
      const i = indexOfValue(x);
      expect(i, `index of ${x}`).toBe(lib.countsArrayIndex(x));
      expect(highestAtIndex(i), `highest of ${x}`).toBe(lib.highestEquivalentValue(x));
      expect(lowestAtIndex(i), `lowest of ${x}`).toBe(lib.lowestEquivalentValue(x));
    }
  });

  it('agrees with the library on random values', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: HIST_MAX }), (x) => {
        const i = indexOfValue(x);
        return i === lib.countsArrayIndex(x) && highestAtIndex(i) === lib.highestEquivalentValue(x);
      }),
      { numRuns: 5000 },
    );
  });

  it('keeps 3 significant digits: exact below 2048, within 1/1024 above', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: HIST_MAX }), (x) => {
        const h = highestAtIndex(indexOfValue(x));
        return x < 2048 ? h === x : h >= x && h - x <= x / 1024;
      }),
    );
  });

  it('maps floats to the nearest integer, negatives to 0, the rest into range', () => {
    expect(histValue(2.4)).toBe(2);
    expect(histValue(2.5)).toBe(3);
    expect(histValue(0.4)).toBe(0);
    expect(histValue(-5)).toBe(0);
    expect(histValue(-0.2)).toBe(0);
    expect(histValue(HIST_MAX + 10)).toBe(HIST_MAX);
    expect(histValue(1e300)).toBe(HIST_MAX);
  });
});
