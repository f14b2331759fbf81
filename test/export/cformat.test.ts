import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { formatC2, formatCFixed, formatFloor, formatJsonNumber, formatSample } from '../../src/export/index.js';

describe('formatC2 (C printf %.2f)', () => {
  test.each([
    [0.125, '0.12'], // exact tie → even
    [0.375, '0.38'], // exact tie → even
    [0.625, '0.62'],
    [2.5, '2.50'],
    [2.675, '2.67'], // the double is 2.67499999…
    [1.005, '1.00'], // the double is 1.00499999…
    [1.015, '1.01'], // 1.01499999…
    [1.025, '1.02'], // 1.02499999…
    [0.115, '0.12'], // 0.11500000000000000499…
    [150, '150.00'],
    [108.0123449, '108.01'],
    [11666.666666666666, '11666.67'],
    [0, '0.00'],
    [-0, '-0.00'],
    [-0.001, '-0.00'],
    [-1.125, '-1.12'],
    [-2.675, '-2.67'],
    [0.005, '0.01'], // 0.005000000000000000104…
    [0.015, '0.01'], // 0.01499999…
    [1e21, '1000000000000000000000.00'],
    [123456789012345680000, '123456789012345683968.00'],
    [5e-324, '0.00'],
  ])('%s → %s', (x, s) => {
    expect(formatC2(x)).toBe(s);
  });

  test('toFixed differs on exact ties', () => {
    expect((0.125).toFixed(2)).toBe('0.13');
    expect(formatC2(0.125)).toBe('0.12');
  });

  test('non-finite values as C prints them', () => {
    expect(formatC2(NaN)).toBe('nan');
    expect(formatC2(Infinity)).toBe('inf');
    expect(formatC2(-Infinity)).toBe('-inf');
  });

  /** C's rounding from toFixed(100), exact for doubles whose expansion has at most 100 decimals */
  const reference = (x: number, d: number): string => {
    const exact = Math.abs(x).toFixed(100);
    const [ip, fp] = exact.split('.') as [string, string];
    const kept = BigInt(ip + fp.slice(0, d));
    const rest = fp.slice(d);
    const half = '5'.padEnd(rest.length, '0');
    const up = rest > half || (rest === half && kept % 2n === 1n);
    const q = (kept + (up ? 1n : 0n)).toString().padStart(d + 1, '0');
    const digits = d === 0 ? q : `${q.slice(0, q.length - d)}.${q.slice(q.length - d)}`;
    return (x < 0 || Object.is(x, -0) ? '-' : '') + digits;
  };

  test('any double of ordinary size (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.double({ min: 1e-10, max: 1e15, noNaN: true }), fc.double({ min: -1e15, max: -1e-10, noNaN: true })),
        fc.integer({ min: 0, max: 8 }),
        (x, d) => {
          expect(formatCFixed(x, d)).toBe(reference(x, d));
        },
      ),
      { numRuns: 5000 },
    );
  });

  test('agrees with the exact decimal expansion, ties to even (property)', () => {
    // k / 2^s has an exact expansion of at most s ≤ 60 decimals, which toFixed(100) prints exactly
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 8 }), (k, s, d) => {
        const x = k / 2 ** s;
        const exact = Math.abs(x).toFixed(100);
        const [ip, fp] = exact.split('.') as [string, string];
        const kept = BigInt(ip + fp.slice(0, d));
        const rest = fp.slice(d);
        const half = '5'.padEnd(rest.length, '0');
        const up = rest > half || (rest === half && kept % 2n === 1n);
        const q = (kept + (up ? 1n : 0n)).toString().padStart(d + 1, '0');
        const digits = d === 0 ? q : `${q.slice(0, q.length - d)}.${q.slice(q.length - d)}`;
        const sign = x < 0 || Object.is(x, -0) ? '-' : '';
        expect(formatCFixed(x, d)).toBe(sign + digits);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('formatCFixed %.6f (float seconds)', () => {
  test.each([
    [Math.fround(10 / 1e6), '0.000010'],
    [Math.fround(100 / 1e6), '0.000100'],
    [Math.fround(0.1), '0.100000'],
    [Math.fround(Math.fround(2719657) / 1e6), '2.719657'],
    [Math.fround(Math.fround(16777217) / 1e6), '16.777216'], // the float loses the last unit
    [0.0000005, '0.000000'], // 4.99999…e-7
    [0.0000015, '0.000002'], // 1.5000000000000000384…e-6
  ])('%s → %s', (x, s) => {
    expect(formatCFixed(x, 6)).toBe(s);
  });
});

describe('integers and samples', () => {
  test('formatFloor', () => {
    expect(formatFloor(150)).toBe('150');
    expect(formatFloor(150.99)).toBe('150');
    expect(formatFloor(-1.5)).toBe('-2');
    expect(formatFloor(-0)).toBe('0');
    expect(formatFloor(1e21)).toBe('1000000000000000000000');
    expect(formatFloor(2 ** 70)).toBe('1180591620717411303424');
  });
  test('formatSample', () => {
    expect(formatSample(3)).toBe('3');
    expect(formatSample(0.00045)).toBe('0.00045');
    expect(formatSample(-0)).toBe('0');
    expect(formatSample(NaN)).toBe('NaN');
    expect(formatSample(Infinity)).toBe('+Inf');
    expect(formatSample(-Infinity)).toBe('-Inf');
  });
  test('formatJsonNumber never prints NaN or Infinity', () => {
    expect(formatJsonNumber(NaN)).toBe('null');
    expect(formatJsonNumber(Infinity)).toBe('null');
    expect(formatJsonNumber(1.5)).toBe('1.5');
  });
});
