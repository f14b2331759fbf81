import { describe, expect, it } from 'vitest';
import { compileFilter } from '../../src/filter/index.js';
import { ev, matches } from './helpers.js';

describe('contract §4 test vectors', () => {
  it('event=a OR event=b AND x=1 is (a OR b) AND x=1', () => {
    const f = 'event=a OR event=b AND x=1';
    expect(matches(f, ev('a'))).toBe(false);
    expect(matches(f, ev('b'))).toBe(false);
    expect(matches(f, ev('a', { x: 1 }))).toBe(true);
    expect(matches(f, ev('c', { x: 1 }))).toBe(false);
  });

  it('bytes>1kb is bytes > 1024', () => {
    expect(matches('bytes>1kb', ev('e', { bytes: 1024 }))).toBe(false);
    expect(matches('bytes>1kb', ev('e', { bytes: 1025 }))).toBe(true);
    expect(matches('bytes>1kb', ev('e', { bytes: 1024.5 }))).toBe(true);
  });

  it('duration<1s is duration < 1000000 and reads the event duration', () => {
    expect(matches('duration<1s', ev('e', undefined, { duration: 999_999 }))).toBe(true);
    expect(matches('duration<1s', ev('e', undefined, { duration: 1_000_000 }))).toBe(false);
    expect(matches('duration<1s', ev('e', { duration: 5 }, { duration: 2_000_000 }))).toBe(false);
    expect(matches('duration>=1s', ev('e', { duration: 5 }, { duration: 2_000_000 }))).toBe(true);
  });

  it('size>10M never matches', () => {
    for (const size of [0, 10, 10 * 1024 * 1024, 10 * 1024 * 1024 + 1, 1e12]) {
      expect(matches('size>10M', ev('e', { size }))).toBe(false);
      expect(matches('size=10M', ev('e', { size }))).toBe(false);
    }
    expect(matches('size>10MB', ev('e', { size: 10 * 1024 * 1024 + 1 }))).toBe(true);
  });
});

describe('event', () => {
  it('compares the name case-sensitively', () => {
    expect(matches('event=imap_command_finished', ev('imap_command_finished'))).toBe(true);
    expect(matches('event=IMAP_command_finished', ev('imap_command_finished'))).toBe(false);
    expect(matches('event=imap_*', ev('IMAP_x'))).toBe(false);
    expect(matches('event=imap_*', ev('imap_x'))).toBe(true);
    expect(matches('event=imap_?', ev('imap_x'))).toBe(true);
    expect(matches('event=imap_?', ev('imap_xy'))).toBe(false);
  });

  it('never matches an unnamed event, not even event=*', () => {
    expect(matches('event=*', ev(''))).toBe(false);
    expect(matches('event=*', ev('x'))).toBe(true);
    expect(matches('event=""', ev(''))).toBe(false);
    expect(matches('event=**', ev(''))).toBe(false);
  });

  it('treats escaped wildcards as literal', () => {
    expect(matches('event="foo\\*"', ev('foo*'))).toBe(true);
    expect(matches('event="foo\\*"', ev('foobar'))).toBe(false);
    expect(matches('event="f\\?o*"', ev('f?oo'))).toBe(true);
    expect(matches('event="f\\?o*"', ev('fxoo'))).toBe(false);
  });

  it('requires a name when every match needs one (NOT event=foo skips unnamed events)', () => {
    const f = compileFilter('NOT event=foo');
    expect(f.requiresName).toBe(true);
    expect(f.match(ev('bar'))).toBe(true);
    expect(f.match(ev('foo'))).toBe(false);
    expect(f.match(ev(''))).toBe(false);
    expect(compileFilter('event=a AND x=1').requiresName).toBe(true);
    expect(compileFilter('x=1 AND event=a').requiresName).toBe(true);
    expect(compileFilter('event=a OR x=1').requiresName).toBe(false);
    expect(compileFilter('event=a OR event=b').requiresName).toBe(true);
    expect(compileFilter('x=1').requiresName).toBe(false);
    expect(compileFilter('NOT (event=a OR x=1)').requiresName).toBe(false);
    expect(compileFilter('event=a OR x=1').match(ev('', { x: 1 }))).toBe(true);
    expect(compileFilter('NOT event=""').match(ev(''))).toBe(false);
    expect(compileFilter('NOT event=""').match(ev('a'))).toBe(true);
  });
});

describe('category', () => {
  it('matches a category the event has, case-sensitively', () => {
    expect(matches('category=imap', ev('e', undefined, { categories: ['imap', 'mail'] }))).toBe(true);
    expect(matches('category=IMAP', ev('e', undefined, { categories: ['imap'] }))).toBe(false);
    expect(matches('category=pop3', ev('e', undefined, { categories: ['imap'] }))).toBe(false);
    expect(matches('category=imap', ev('e'))).toBe(false);
    expect(matches('category="im\\ap"', ev('e', undefined, { categories: ['imap'] }))).toBe(true);
  });

  it('reads a log-type word as the log type, which tallyd events never carry', () => {
    for (const t of ['debug', 'info', 'warning', 'error', 'fatal', 'panic']) {
      expect(matches(`category=${t}`, ev('e', undefined, { categories: [t] }))).toBe(false);
      expect(matches(`NOT category=${t}`, ev('e', undefined, { categories: [t] }))).toBe(true);
    }
  });

  it('addresses a category literally named like a log type only through an escape', () => {
    expect(matches('category="\\error"', ev('e', undefined, { categories: ['error'] }))).toBe(true);
    expect(matches('category=Error', ev('e', undefined, { categories: ['Error'] }))).toBe(true);
  });
});

describe('source_location', () => {
  it('never matches (tallyd events carry no source location), with or without a line', () => {
    expect(matches('source_location=file.c', ev('e', { source_location: 'file.c' }))).toBe(false);
    expect(matches('source_location=file.c:12', ev('e', { source_location: 'file.c:12' }))).toBe(false);
    expect(matches('NOT source_location=file.c:12', ev('e'))).toBe(true);
  });
});

describe('fields', () => {
  it('a missing field matches only field=""', () => {
    expect(matches('x=""', ev('e'))).toBe(true);
    expect(matches('x=""', ev('e', { y: 1 }))).toBe(true);
    expect(matches('x=""', ev('e', { x: null }))).toBe(true);
    expect(matches('x=abc', ev('e'))).toBe(false);
    expect(matches('x=*', ev('e'))).toBe(false);
    expect(matches('x=1', ev('e'))).toBe(false);
    expect(matches('x<1', ev('e'))).toBe(false);
    expect(matches('x>""', ev('e'))).toBe(false);
    expect(matches('NOT x=abc', ev('e'))).toBe(true);
  });

  it('compares strings with = only, case-insensitively', () => {
    expect(matches('user=Alice', ev('e', { user: 'alice' }))).toBe(true);
    expect(matches('user=alice', ev('e', { user: 'ALICE' }))).toBe(true);
    expect(matches('user=al*', ev('e', { user: 'ALICE' }))).toBe(true);
    expect(matches('user>alice', ev('e', { user: 'bob' }))).toBe(false);
    expect(matches('user>=alice', ev('e', { user: 'alice' }))).toBe(false);
    expect(matches('user="foo@example.com"', ev('e', { user: 'Foo@Example.com' }))).toBe(true);
    expect(matches('user="Ä"', ev('e', { user: 'ä' }))).toBe(false);
  });

  it('x=* does not match an empty or missing value', () => {
    expect(matches('x=*', ev('e', { x: '' }))).toBe(false);
    expect(matches('x=*', ev('e', {}))).toBe(false);
    expect(matches('x=*', ev('e', { x: 'a' }))).toBe(true);
    expect(matches('x=""', ev('e', { x: '' }))).toBe(true);
    expect(matches('x=""', ev('e', { x: 'a' }))).toBe(false);
    expect(matches('x=""', ev('e', { x: 0 }))).toBe(false);
  });

  it('field=007 is the integer 7', () => {
    expect(matches('field=007', ev('e', { field: '007' }))).toBe(false);
    expect(matches('field=007', ev('e', { field: '7' }))).toBe(true);
    expect(matches('field=007', ev('e', { field: 7 }))).toBe(true);
    expect(matches('field="007"', ev('e', { field: 7 }))).toBe(true);
  });

  it('compares integers with = < > <= >=', () => {
    const e = ev('e', { n: 5 });
    expect(matches('n=5', e)).toBe(true);
    expect(matches('n<6', e)).toBe(true);
    expect(matches('n<5', e)).toBe(false);
    expect(matches('n>4', e)).toBe(true);
    expect(matches('n>5', e)).toBe(false);
    expect(matches('n<=5', e)).toBe(true);
    expect(matches('n>=5', e)).toBe(true);
    expect(matches('n>=6', e)).toBe(false);
    expect(matches('n>-1', ev('e', { n: 0 }))).toBe(true);
    expect(matches('n=x', e)).toBe(false);
    expect(matches('n>x', e)).toBe(false);
  });

  it('an integer-string filter against a string field compares the text', () => {
    expect(matches('n=5', ev('e', { n: '5' }))).toBe(true);
    expect(matches('n>4', ev('e', { n: '5' }))).toBe(false);
    expect(matches('n=1kb', ev('e', { n: '1024' }))).toBe(true);
  });

  it('matches a digits-and-wildcards pattern against the decimal text of an integer', () => {
    expect(matches('size=4*', ev('e', { size: 42 }))).toBe(true);
    expect(matches('size=4*', ev('e', { size: 4 }))).toBe(true);
    expect(matches('size=4*', ev('e', { size: 142 }))).toBe(false);
    expect(matches('size=4?', ev('e', { size: 42 }))).toBe(true);
    expect(matches('size=4?', ev('e', { size: 402 }))).toBe(false);
    expect(matches('size=*2', ev('e', { size: -42 }))).toBe(true);
    expect(matches('size=*', ev('e', { size: 0 }))).toBe(true);
    expect(matches('size=2*', ev('e', { size: 2 ** 60 }))).toBe(false);
    expect(matches('size=1*', ev('e', { size: 2 ** 60 }))).toBe(true);
    expect(matches('size=-4*', ev('e', { size: -42 }))).toBe(false);
  });

  it('a pattern with an inequality never matches an integer (size>4*)', () => {
    expect(matches('size>4*', ev('e', { size: 42 }))).toBe(false);
    expect(matches('size>4*', ev('e', { size: 500 }))).toBe(false);
    expect(matches('size=4*a', ev('e', { size: 4 }))).toBe(false);
  });

  it('x=5.5 never matches a number', () => {
    expect(matches('x=5.5', ev('e', { x: 5 }))).toBe(false);
    expect(matches('x=5.5', ev('e', { x: 5.5 }))).toBe(false);
    expect(matches('x=5.5', ev('e', { x: '5.5' }))).toBe(true);
  });

  it('compares a float value as a number', () => {
    expect(matches('x>5', ev('e', { x: 5.5 }))).toBe(true);
    expect(matches('x<6', ev('e', { x: 5.5 }))).toBe(true);
    expect(matches('x=5', ev('e', { x: 5.0 }))).toBe(true);
    expect(matches('x=5', ev('e', { x: 5.5 }))).toBe(false);
    expect(matches('x>=1kb', ev('e', { x: 1023.9 }))).toBe(false);
    expect(matches('x<1s', ev('e', { x: 999999.5 }))).toBe(true);
    expect(matches('x=5*', ev('e', { x: 5.5 }))).toBe(false);
  });

  it('IP values: containment and equality', () => {
    expect(matches('ip=10.0.0.0/8', ev('e', { ip: '10.1.2.3' }))).toBe(true);
    expect(matches('ip=10.0.0.0/8', ev('e', { ip: '11.1.2.3' }))).toBe(false);
    expect(matches('ip=10.0.0.0/8', ev('e', { ip: '::ffff:10.1.2.3' }))).toBe(true);
    expect(matches('ip=10.0.0.0/8', ev('e', { ip: '10.0.0.0/8' }))).toBe(true);
    expect(matches('ip=10.0.0.0/8', ev('e', { ip: 'host' }))).toBe(false);
    expect(matches('ip=10.0.0.0/8', ev('e', { ip: 167772161 }))).toBe(false);
    expect(matches('ip=2001::1', ev('e', { ip: '2001:0:0:0:0:0:0:1' }))).toBe(true);
    expect(matches('ip=2001:0:0:0:0:0:0:1', ev('e', { ip: '2001::1' }))).toBe(true);
    expect(matches('ip=2001::1', ev('e', { ip: '2001::2' }))).toBe(false);
    expect(matches('ip=::1', ev('e', { ip: '[::1]' }))).toBe(true);
    expect(matches('ip=10.0.0.1', ev('e', { ip: '10.0.0.1' }))).toBe(true);
    expect(matches('ip=10.0.0.1', ev('e', { ip: '10.0.0.2' }))).toBe(false);
    expect(matches('ip>10.0.0.1', ev('e', { ip: '10.0.0.2' }))).toBe(false);
    expect(matches('ip="::ffff:10.0.0.0/104"', ev('e', { ip: '10.0.0.1' }))).toBe(false);
  });

  it('IP zones: the network may omit the zone, otherwise they must agree', () => {
    expect(matches('ip=fe80::1', ev('e', { ip: 'fe80::1%eth0' }))).toBe(true);
    expect(matches('ip=fe80::1%eth0', ev('e', { ip: 'fe80::1%eth0' }))).toBe(true);
    expect(matches('ip=fe80::1%eth0', ev('e', { ip: 'fe80::1%eth1' }))).toBe(false);
    expect(matches('ip=fe80::1%eth0', ev('e', { ip: 'fe80::1' }))).toBe(false);
  });

  it('a wildcard over an IP-looking string matches its text (ip=10.0.0.*)', () => {
    expect(matches('ip=10.0.0.*', ev('e', { ip: '10.0.0.7' }))).toBe(true);
    expect(matches('ip=10.0.0.*', ev('e', { ip: '10.0.1.7' }))).toBe(false);
    expect(matches('ip=2001::1*', ev('e', { ip: '2001::1234' }))).toBe(true);
  });

  it('strlists match when any element matches (tag=a*)', () => {
    const e = ev('e', { tag: ['xyz', 'abc'] });
    expect(matches('tag=a*', e)).toBe(true);
    expect(matches('tag=ABC', e)).toBe(true);
    expect(matches('tag=b*', e)).toBe(false);
    expect(matches('tag>a', e)).toBe(false);
    expect(matches('tag=xyz AND NOT tag=q', e)).toBe(true);
    expect(matches('tag=10.0.0.0/8', ev('e', { tag: ['x', '10.9.9.9'] }))).toBe(true);
    expect(matches('tag=7', ev('e', { tag: ['7'] }))).toBe(true);
  });

  it('strlist tag="" is true for an empty list or a missing field', () => {
    expect(matches('tag=""', ev('e', { tag: [] }))).toBe(true);
    expect(matches('tag=""', ev('e'))).toBe(true);
    expect(matches('tag=""', ev('e', { tag: ['a'] }))).toBe(false);
    expect(matches('tag=""', ev('e', { tag: [''] }))).toBe(true);
    expect(matches('tag=*', ev('e', { tag: [] }))).toBe(false);
  });

  it('keys are case-sensitive and never read inherited properties', () => {
    expect(matches('User=a', ev('e', { user: 'a' }))).toBe(false);
    expect(matches('constructor=""', ev('e', {}))).toBe(true);
    expect(matches('constructor=*', ev('e', {}))).toBe(false);
    expect(matches('__proto__=1', ev('e', JSON.parse('{"__proto__": 1}') as Record<string, unknown>))).toBe(true);
    expect(matches('toString=*', ev('e', {}))).toBe(false);
  });

  it('cmd_name=not: a bare keyword value is the lower-case word', () => {
    expect(matches('cmd_name=NOT', ev('e', { cmd_name: 'not' }))).toBe(true);
    expect(matches('cmd_name=AND', ev('e', { cmd_name: 'and' }))).toBe(true);
  });

  it('"user"="x": a quoted key', () => {
    expect(matches('"user"="x"', ev('e', { user: 'x' }))).toBe(true);
    expect(matches('"my key"=1', ev('e', { 'my key': 1 }))).toBe(true);
  });

  it('other value types never match', () => {
    for (const v of [true, false, { a: 1 }, [[1]], [1, 2]]) {
      expect(matches('x=*', ev('e', { x: v }))).toBe(false);
      expect(matches('x=""', ev('e', { x: v }))).toBe(false);
      expect(matches('x=1', ev('e', { x: v }))).toBe(false);
    }
  });
});

describe('boolean structure', () => {
  it('NOT a AND b is (NOT a) AND b', () => {
    expect(matches('NOT a=1 AND b=1', ev('e', { a: 2, b: 1 }))).toBe(true);
    expect(matches('NOT a=1 AND b=1', ev('e', { a: 1, b: 2 }))).toBe(false);
    expect(matches('NOT a=1 AND b=1', ev('e', { a: 2, b: 2 }))).toBe(false);
  });

  it('the empty filter matches nothing', () => {
    const f = compileFilter('');
    expect(f.match(ev('a'))).toBe(false);
    expect(f.match(ev(''))).toBe(false);
  });

  it('folds conditions known at compile time without changing results', () => {
    const e = ev('e', { x: 1 }, { categories: ['error'] });
    expect(matches('category=error OR x=1', e)).toBe(true);
    expect(matches('category=error AND x=1', e)).toBe(false);
    expect(matches('NOT category=error AND x=1', e)).toBe(true);
    expect(matches('NOT category=error OR x=2', e)).toBe(true);
    expect(matches('x=2 OR NOT category=error', e)).toBe(true);
    expect(matches('(x=2 OR NOT category=error) AND x=2', e)).toBe(false);
    expect(matches('x=1 AND category=error OR x=1', e)).toBe(true);
    expect(matches('NOT category=error', ev(''))).toBe(true);
  });
});
