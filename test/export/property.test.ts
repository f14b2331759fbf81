import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { renderOpenMetrics } from '../../src/export/index.js';
import { OPTS, snapshotOf } from './helpers.js';

/**
 * Property: the strict families are a partition of the events. Summing every
 * sample of the count family gives the number of events that matched the
 * metric; the duration and field totals (or a histogram's _sum/_count) give
 * the sums over those events. An independent model of how far each event
 * descends is the oracle. Not generated: strlist values at a discrete level
 * (one event feeds several children, so the leaves overcount by design) and
 * negative values (counters clamp at 0).
 */

const LEVELS = ['a', 'b', 'duration:exponential:1:3:10', 'duration:linear:0:1000:250', 'n:linear:0:1000:300'] as const;

interface Ev {
  event: string;
  duration: number;
  fields: Record<string, string | number>;
}

const value = fc.oneof(fc.constantFrom('p', 'q', '', 'UID FETCH', 'x"y'), fc.integer({ min: 0, max: 3 }));
const eventArb: fc.Arbitrary<Ev> = fc.record({
  event: fc.constantFrom('e', 'e', 'e', 'other'),
  duration: fc.integer({ min: 0, max: 5000 }),
  fields: fc.record(
    {
      a: value,
      b: value,
      n: fc.oneof(fc.integer({ min: 0, max: 2000 }), fc.constant('z')),
      x: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.double({ min: 0, max: 100, noNaN: true })),
    },
    { requiredKeys: [] },
  ),
});

const caseArb = fc.record({
  compat: fc.constantFrom('2.3', '2.4'),
  levels: fc.shuffledSubarray([...LEVELS], { minLength: 0, maxLength: 3 }),
  fields: fc.subarray(['x', 'n', 'duration']),
  events: fc.array(eventArb, { maxLength: 40 }),
});

function configOf(c: { compat: string; levels: string[]; fields: string[] }): string {
  return [
    `dovecot_compat = ${c.compat}`,
    'metric m {',
    '  filter = event=e',
    c.fields.length > 0 ? `  fields = ${c.fields.join(' ')}` : '',
    c.levels.length > 0 ? `  group_by = ${c.levels.join(' ')}` : '',
    '}',
    '',
  ].join('\n');
}

/** How many levels the event descends (the oracle). */
function reach(ev: Ev, levels: string[], compat: string): number {
  let d = 0;
  for (const l of levels) {
    const [field, kind] = l.split(':') as [string, string | undefined];
    const v = field === 'duration' ? ev.duration : ev.fields[field];
    if (kind !== undefined) {
      if (typeof v !== 'number') return d;
    } else if (v === undefined && compat === '2.3') return d;
    d++;
  }
  return d;
}

function fieldValue(ev: Ev, f: string): number | undefined {
  if (f === 'duration') return ev.duration;
  const v = ev.fields[f];
  return v === undefined ? undefined : typeof v === 'number' ? v : 0;
}

/** Sample values of the lines named exactly `name` (with or without labels). */
function samples(text: string, name: string): { labels: string; value: number }[] {
  const out: { labels: string; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== '{' && rest[0] !== ' ') continue;
    const sp = line.lastIndexOf(' ');
    out.push({ labels: rest[0] === '{' ? line.slice(name.length, sp) : '', value: Number(line.slice(sp + 1)) });
  }
  return out;
}

const sum = (xs: { value: number }[]): number => xs.reduce((s, x) => s + x.value, 0);

function close(actual: number, expected: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(expected)));
}

describe('strict families partition the events (property)', () => {
  test('count, duration, field totals and histogram sums', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const snap = snapshotOf(configOf(c), c.events);
        const text = renderOpenMetrics(snap, OPTS);
        const matched = c.events.filter((e) => e.event === 'e');
        const n = c.levels.length;
        const last = c.levels[n - 1];
        const lastQ = last !== undefined && last.includes(':');
        const lastField = lastQ ? ((last as string).split(':')[0] as string) : null;

        const counts = samples(text, 'dovecot_m_total');
        expect(sum(counts)).toBe(matched.length);
        expect(new Set(counts.map((s) => s.labels)).size).toBe(counts.length);

        if (lastField === 'duration') {
          const reached = matched.filter((e) => reach(e, c.levels, c.compat) === n);
          expect(sum(samples(text, 'dovecot_m_duration_seconds_count'))).toBe(reached.length);
          close(sum(samples(text, 'dovecot_m_duration_seconds_sum')), reached.reduce((s, e) => s + e.duration, 0) / 1e6);
        } else {
          close(sum(samples(text, 'dovecot_m_duration_seconds_total')), matched.reduce((s, e) => s + e.duration, 0) / 1e6);
        }
        if (lastField !== null && lastField !== 'duration') {
          const reached = matched.filter((e) => reach(e, c.levels, c.compat) === n);
          const buckets = samples(text, `dovecot_m_${lastField}_bucket`).filter((s) => s.labels.includes('le="+Inf"'));
          expect(sum(buckets)).toBe(reached.length);
          // listed in fields or not, the histogram has the field's count and sum
          expect(sum(samples(text, `dovecot_m_${lastField}_count`))).toBe(reached.length);
          close(sum(samples(text, `dovecot_m_${lastField}_sum`)), reached.reduce((s, e) => s + (fieldValue(e, lastField) ?? 0), 0));
        }
        // a field quantized by the last level names the histogram, whose _sum is its total
        const familyOf = (f: string): string => `dovecot_m_${f}_total`;
        for (const f of c.fields) {
          if (f === lastField && f !== 'duration') continue;
          const expected = matched.reduce((s, e) => s + (fieldValue(e, f) ?? 0), 0);
          close(sum(samples(text, familyOf(f))), expected);
        }
      }),
      { numRuns: 400 },
    );
  });
});
