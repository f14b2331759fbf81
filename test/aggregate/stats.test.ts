import { describe, expect, it } from 'vitest';
import { Distribution, emptyDist, parsePercent, rankIndex, statOf } from '../../src/aggregate/index.js';
import type { DistSnapshot } from '../../src/aggregate/index.js';

function full(values: readonly number[]): DistSnapshot {
  const d = new Distribution();
  for (const v of values) d.record(v);
  return d.snapshot('full');
}

const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);

describe('statOf (docs/contract.md §5.4 vectors)', () => {
  it('1..20 → median 10, %95 19', () => {
    const s = full(range(1, 20));
    expect(statOf(s, 'median')).toBe(10);
    expect(statOf(s, '%95')).toBe(19);
  });

  it('{1..8} → stddev 2.2913, variance 5.25', () => {
    const s = full(range(1, 8));
    expect(statOf(s, 'variance')).toBeCloseTo(5.25, 12);
    expect(statOf(s, 'stddev')).toBeCloseTo(2.29128784747792, 12);
  });

  it('durations 100, 300, 50', () => {
    const s = full([100, 300, 50]);
    const row = ['count', 'sum', 'min', 'max', 'avg', 'median', '%95'].map((f) => statOf(s, f));
    expect(row).toEqual([3, 450, 50, 300, 150, 100, 300]);
    expect(statOf(s, 'stddev')).toBeCloseTo(108.0123449734643, 10);
  });

  it('SELECT/OK 100, 300 → median 200, stddev 100; FETCH 50 → stddev 0', () => {
    const sel = full([100, 300]);
    expect(statOf(sel, 'median')).toBe(200);
    expect(statOf(sel, 'stddev')).toBe(100);
    const fetch = full([50]);
    expect([statOf(fetch, 'median'), statOf(fetch, '%95'), statOf(fetch, 'stddev')]).toEqual([50, 50, 0]);
  });

  it('empty → every figure 0', () => {
    for (const s of [emptyDist(), new Distribution().snapshot('full'), new Distribution().snapshot('basic')]) {
      for (const f of ['count', 'sum', 'min', 'max', 'avg', 'median', 'stddev', 'variance', '%95', '%0', '%100']) {
        expect(statOf(s, f), f).toBe(0);
      }
    }
  });

  it('unknown names → undefined; a basic snapshot has no median/percentiles', () => {
    const d = new Distribution();
    d.record(5);
    d.record(7);
    expect(statOf(d.snapshot('full'), 'p95')).toBeUndefined();
    expect(statOf(d.snapshot('full'), 'Count')).toBeUndefined();
    expect(statOf(d.snapshot('full'), '')).toBeUndefined();
    const b = d.snapshot('basic');
    expect(statOf(b, 'median')).toBeUndefined();
    expect(statOf(b, '%50')).toBeUndefined();
    expect(statOf(b, 'avg')).toBe(6);
  });

  it('%P: any P, nearest rank, clamped', () => {
    const s = full(range(1, 1000));
    expect(statOf(s, '%99.9')).toBe(999);
    expect(statOf(s, '%99.95')).toBe(1000);
    expect(statOf(s, '%50')).toBe(500);
    expect(statOf(s, '%0.1')).toBe(1);
    expect(statOf(s, '%abc')).toBe(1);
    expect(statOf(s, '%')).toBe(1);
    expect(statOf(s, '%-5')).toBe(1);
    expect(statOf(s, '%100')).toBe(1000);
    expect(statOf(s, '%250')).toBe(1000);
    expect(statOf(s, '%inf')).toBe(1000);
    expect(statOf(s, '%95abc')).toBe(950);
  });

  it('parses P as strtod does', () => {
    expect(parsePercent('95')).toBe(95);
    expect(parsePercent('99.9')).toBe(99.9);
    expect(parsePercent(' 50')).toBe(50);
    expect(parsePercent('.5')).toBe(0.5);
    expect(parsePercent('1e1')).toBe(10);
    expect(parsePercent('5x')).toBe(5);
    expect(parsePercent('abc')).toBe(0);
    expect(parsePercent('-3')).toBe(-3);
    expect(parsePercent('Infinity')).toBe(Infinity);
  });

  it('rank index = ⌈n·P/100⌉ − 1 (Dovecot examples)', () => {
    expect(rankIndex(20, 95)).toBe(18);
    expect(rankIndex(21, 95)).toBe(19);
    expect(rankIndex(3, 95)).toBe(2);
    expect(rankIndex(4, 50)).toBe(1);
    expect(rankIndex(1000, 99.9)).toBe(998);
    expect(rankIndex(10, 0)).toBe(0);
    expect(rankIndex(10, 1e-9)).toBe(0);
    expect(rankIndex(10, NaN)).toBe(0);
  });
});
