import { describe, expect, it } from 'vitest';
import { compileFilter } from '../../src/filter/index.js';
import { ev, matches } from './helpers.js';

describe('boolean expressions over string fields (test-event-filter-expr.c)', () => {
  const values = [undefined, '', 'X', 'Y'] as const;
  const isEmpty = (v: string | undefined) => v === undefined || v === '';
  const is = (v: string | undefined, c: string) => v === c;

  const unary = (fields: Record<string, unknown>, expr: string, truth: boolean) => {
    const e = ev('e', fields);
    expect(matches(expr, e), expr).toBe(truth);
    expect(matches(`NOT ${expr}`, e), `NOT ${expr}`).toBe(!truth);
    expect(matches(`NOT (${expr})`, e), `NOT (${expr})`).toBe(!truth);
  };

  const binary = (fields: Record<string, unknown>, e1: string, e2: string, t1: boolean, t2: boolean) => {
    const e = ev('e', fields);
    for (const [op, f] of [
      ['OR', (a: boolean, b: boolean) => a || b],
      ['AND', (a: boolean, b: boolean) => a && b],
    ] as const) {
      const cases: [string, boolean][] = [
        [`${e1} ${op} ${e2}`, f(t1, t2)],
        [`NOT ${e1} ${op} ${e2}`, f(!t1, t2)],
        [`NOT (${e1}) ${op} ${e2}`, f(!t1, t2)],
        [`(NOT ${e1}) ${op} ${e2}`, f(!t1, t2)],
        [`${e1} ${op} NOT ${e2}`, f(t1, !t2)],
        [`${e1} ${op} NOT (${e2})`, f(t1, !t2)],
        [`${e1} ${op} (NOT ${e2})`, f(t1, !t2)],
        [`NOT (${e1} ${op} ${e2})`, !f(t1, t2)],
        [`NOT ${e1} ${op} NOT ${e2}`, f(!t1, !t2)],
        [`NOT (${e1}) ${op} NOT (${e2})`, f(!t1, !t2)],
        [`(NOT ${e1}) ${op} (NOT ${e2})`, f(!t1, !t2)],
      ];
      for (const [src, want] of cases) expect(matches(src, e), `${src} ${JSON.stringify(fields)}`).toBe(want);
    }
  };

  const fieldsOf = (a: string | undefined, b?: string) => {
    const f: Record<string, unknown> = {};
    if (a !== undefined) f['a'] = a;
    if (b !== undefined) f['b'] = b;
    return f;
  };

  it('unary', () => {
    for (const a of values) {
      unary(fieldsOf(a), 'a=""', isEmpty(a));
      unary(fieldsOf(a), 'a=X', is(a, 'X'));
    }
  });

  it('binary', () => {
    for (const a of values) {
      for (const b of values) {
        const f = fieldsOf(a, b);
        binary(f, 'a=""', 'b=""', isEmpty(a), isEmpty(b));
        binary(f, 'a=X', 'b=""', is(a, 'X'), isEmpty(b));
        binary(f, 'a=""', 'b=Y', isEmpty(a), is(b, 'Y'));
        binary(f, 'a=X', 'b=Y', is(a, 'X'), is(b, 'Y'));
      }
    }
  });
});

describe('strings with escapes (test-event-filter.c)', () => {
  const e = ev('e', { str: 'hello \\world' });
  const e2 = ev('e', { str: 'hello *world' });
  it('matches backslashes and escaped stars', () => {
    expect(matches('str = "hello \\\\world"', e)).toBe(true);
    expect(matches('str = "hello \\\\world"', e2)).toBe(false);
    expect(matches('str = "hello *world"', e)).toBe(true);
    expect(matches('str = "hello *world"', e2)).toBe(true);
    expect(matches('str = "hello \\*world"', e)).toBe(false);
    expect(matches('str = "hello \\*world"', e2)).toBe(true);
  });
});

describe('named events and fields (test-event-filter.c)', () => {
  const events = {
    nonameNostr: ev(''),
    nonameStr: ev('', { str: 'str' }),
    nonameWrong: ev('', { str: 'wrong' }),
    namedNostr: ev('named'),
    namedStr: ev('named', { str: 'str' }),
    namedWrong: ev('named', { str: 'wrong' }),
    wrongNostr: ev('wrong'),
    wrongStr: ev('wrong', { str: 'str' }),
    wrongWrong: ev('wrong', { str: 'wrong' }),
  };
  it('event=named AND str=str', () => {
    const f = compileFilter('event=named AND str=str');
    expect(f.requiresName).toBe(true);
    const hits = Object.entries(events).filter(([, e]) => f.match(e)).map(([k]) => k);
    expect(hits).toEqual(['namedStr']);
  });
  it('event=named OR str=str', () => {
    const f = compileFilter('event=named OR str=str');
    expect(f.requiresName).toBe(false);
    const hits = Object.entries(events).filter(([, e]) => f.match(e)).map(([k]) => k);
    expect(hits).toEqual(['nonameStr', 'namedNostr', 'namedStr', 'namedWrong', 'wrongStr']);
  });
});

describe('numbers (test-event-filter.c)', () => {
  it('compares with signs, wildcards and non-numbers', () => {
    for (const [src, n, want] of [
      ['number > 0', 1, true],
      ['number > 0', 0, false],
      ['number > 0', -1, false],
      ['number < 0', 1, false],
      ['number < 0', 0, false],
      ['number < 0', -1, true],
      ['number=0', 0, true],
      ['number=*', 0, true],
      ['number > fish', 0, false],
      ['number=fish', 0, false],
      ['status_code > 2*', 204, false],
      ['status_code = 2*', 204, true],
      ['duration < 1000', 0, true],
    ] as const) {
      const key = src.split(/[ =<>]/)[0] as string;
      expect(matches(src, ev('e', { [key]: n })), src).toBe(want);
    }
  });
});

describe('IP addresses (test-event-filter.c)', () => {
  it('equality, wildcards and ranges', () => {
    for (const [src, ip, want] of [
      ['ip = 127.0.0.1', '127.0.0.1', true],
      ['ip = 127.0.0.1', '127.0.0.2', false],
      ['ip = 127.0.0.*', '127.0.0.1', true],
      ['ip = 127.0.0.*', '127.0.1.1', false],
      ['ip = 127.0.0.*', '127.0.0.3', true],
      ['ip = 127.0.0.0/16', '127.0.255.255', true],
      ['ip = 127.0.0.0/16', '127.1.255.255', false],
      ['ip = 127.0.0.0/16', '127.0.0.0/16', true],
      ['ip = fish', '127.0.0.1', false],
      ['ip = ::1', '::1', true],
      ['ip = ::2', '::1', false],
      ['ip = ::1/128', '::1', true],
      ['ip = ::1/126', '::2', true],
      ['ip = "::1/126"', '::3', true],
      ['ip = ::1/126', '::4', false],
      ['ip = 2001::/8', '2001::1', true],
      ['ip = 2001::/8', '20ff:ffff::1', true],
      ['ip = 2001::/8', '2100::1', false],
      ['ip = 2001::1', '2001::1', true],
      ['ip = "2001::1"', '2001::1', true],
      ['ip = 2001:0:0:0:0:0:0:1', '2001::1', true],
      ['ip = 2001::1', '2001::2', false],
      ['ip = 2000:1190:c02a:130:a87a:ad7:5b76:3310', '2000:1190:c02a:130:a87a:ad7:5b76:3310', true],
      ['ip = 2001:1190:c02a:130:a87a:ad7:5b76:3310', '2000:1190:c02a:130:a87a:ad7:5b76:3310', false],
      ['ip = fe80::1%lo', 'fe80::1%lo', true],
    ] as const) {
      expect(matches(src, ev('e', { ip })), `${src} vs ${ip}`).toBe(want);
    }
    expect(matches('ip = 127.0.0.1', ev('e', { ip: 2130706433 }))).toBe(false);
  });

  it('a string that parses as an address matches by containment (tallyd has no IP type)', () => {
    expect(matches('ip = 127.0.0.0/16', ev('e', { ip: '127.0.123.45' }))).toBe(true);
  });
});

describe('size units (test-event-filter.c)', () => {
  const K = 1024;
  it.each([
    ['field = -1', -1, true],
    ['field = 1', 1, true],
    ['field = 1b', 1, true],
    ['field = 1B', 1, true],
    ['field < 1B', 1, false],
    ['field > 1B', 1, false],
    ['field = 1k', K, true],
    ['field = 1KB', K, true],
    ['field = 1Kb', K, true],
    ['field = 1kB', K, true],
    ['field = 1kb', K, true],
    ['field = 1KIB', K, true],
    ['field = 1KiB', K, true],
    ['field >= 1KB', K, true],
    ['field <= 1KB', K, true],
    ['field > 1B', K, true],
    ['field > 1000', K, true],
    ['field < 1KB', K, false],
    ['field > 1KB', K, false],
    ['field = 1MB', K ** 2, true],
    ['field >= 1MB', K ** 2, true],
    ['field <= 1MB', K ** 2, true],
    ['field > 1KB', K ** 2, true],
    ['field > 1000000', K ** 2, true],
    ['field < 1MB', K ** 2, false],
    ['field > 1MB', K ** 2, false],
    ['field = 1g', K ** 3, true],
    ['field = 1GB', K ** 3, true],
    ['field >= 1GB', K ** 3, true],
    ['field <= 1GB', K ** 3, true],
    ['field < 1TB', K ** 3, true],
    ['field > 1000000000', K ** 3, true],
    ['field < 1GB', K ** 3, false],
    ['field > 1GB', K ** 3, false],
    ['field = 1t', K ** 4, true],
    ['field = 1TB', K ** 4, true],
    ['field >= 1TB', K ** 4, true],
    ['field <= 1TB', K ** 4, true],
    ['field > 1GB', K ** 4, true],
    ['field > 1000000000000', K ** 4, true],
    ['field < 1TB', K ** 4, false],
    ['field > 1TB', K ** 4, false],
  ] as const)('%s on %d is %s', (src, value, want) => {
    expect(matches(src, ev('e', { field: value }))).toBe(want);
  });
});

describe('interval units (test-event-filter.c)', () => {
  const MS = 1000;
  const S = 1000 * MS;
  const MIN = 60 * S;
  const H = 60 * MIN;
  const D = 24 * H;
  const W = 7 * D;
  it.each([
    ['field = -1', -1, true],
    ['field = 1milliseconds', MS, true],
    ['field = 1millisecs', MS, true],
    ['field = 1mseconds', MS, true],
    ['field = 1msecs', MS, true],
    ['field = 1ms', MS, true],
    ['field = 1000', MS, true],
    ['field >= 1msecs', MS, true],
    ['field <= 1msecs', MS, true],
    ['field > 1', MS, true],
    ['field > 1msecs', MS, false],
    ['field < 1msecs', MS, false],
    ['field = 1seconds', S, true],
    ['field = 1secs', S, true],
    ['field = 1s', S, true],
    ['field = 1000000', S, true],
    ['field >= 1secs', S, true],
    ['field <= 1secs', S, true],
    ['field > 1msecs', S, true],
    ['field > 1secs', S, false],
    ['field < 1secs', S, false],
    ['field = 1minutes', MIN, true],
    ['field = 1mins', MIN, true],
    ['field = 60000000', MIN, true],
    ['field >= 1mins', MIN, true],
    ['field <= 1mins', MIN, true],
    ['field > 1secs', MIN, true],
    ['field > 1mins', MIN, false],
    ['field < 1mins', MIN, false],
    ['field = 1hours', H, true],
    ['field = 1h', H, true],
    ['field = 3600000000', H, true],
    ['field >= 1hours', H, true],
    ['field <= 1hours', H, true],
    ['field > 1mins', H, true],
    ['field > 1hours', H, false],
    ['field < 1hours', H, false],
    ['field = 1days', D, true],
    ['field = 1d', D, true],
    ['field = 86400000000', D, true],
    ['field >= 1days', D, true],
    ['field <= 1days', D, true],
    ['field > 1hours', D, true],
    ['field > 1days', D, false],
    ['field < 1days', D, false],
    ['field = 1weeks', W, true],
    ['field = 1w', W, true],
    ['field = 604800000000', W, true],
    ['field >= 1weeks', W, true],
    ['field <= 1weeks', W, true],
    ['field > 1days', W, true],
    ['field > 1weeks', W, false],
    ['field < 1weeks', W, false],
  ] as const)('%s on %d is %s', (src, value, want) => {
    expect(matches(src, ev('e', { field: value }))).toBe(want);
  });
});

describe('ambiguous units (test-event-filter.c)', () => {
  it('field = 1m never matches a number but matches the string "1m"', () => {
    expect(matches('field = 1m', ev('e', { field: 1000 }))).toBe(false);
    expect(matches('field = 1m', ev('e', { field: 60_000_000 }))).toBe(false);
    expect(matches('field = 1m', ev('e', { field: 1024 * 1024 }))).toBe(false);
    expect(matches('field = 1m', ev('e', { field: '1m' }))).toBe(true);
    expect(matches('field = 1m', ev('e', { field: '1M' }))).toBe(true);
  });
});

describe('strlists (test-event-filter.c)', () => {
  it('empty, members, negation and inequalities', () => {
    expect(matches('abc=""', ev('e'))).toBe(true);
    expect(matches('abc=""', ev('e', { abc: [] }))).toBe(true);
    expect(matches('abc=""', ev('e', { abc: ['one'] }))).toBe(false);
    expect(matches('abc=one', ev('e', { abc: ['one', 'two'] }))).toBe(true);
    expect(matches('abc=one AND NOT abc=three', ev('e', { abc: ['one', 'two'] }))).toBe(true);
    expect(matches('abc=one AND NOT abc=three', ev('e', { abc: ['one', 'three'] }))).toBe(false);
    expect(matches('abc>one', ev('e', { abc: ['one', 'two'] }))).toBe(false);
  });
});
