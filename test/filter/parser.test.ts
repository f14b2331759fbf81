import { describe, expect, it } from 'vitest';
import { FilterSyntaxError, compileFilter, parseFilter } from '../../src/filter/index.js';
import { errorOf } from './helpers.js';

const canon = (s: string): string => parseFilter(s).canonical;

describe('lexical rules', () => {
  it('ignores space, tab, CR and LF between tokens', () => {
    for (const sp of [' ', '\t', '\n', '\r', '          ']) {
      for (const [open, close] of [
        ['', ''],
        ['(', ')'],
        ['((', '))'],
        ['(((', ')))'],
      ]) {
        const inputs = [
          `${sp}${open}event=abc${close}`,
          `${open}${sp}event=abc${close}`,
          `${open}event${sp}=abc${close}`,
          `${open}event=${sp}abc${close}`,
          `${open}event=abc${sp}${close}`,
          `${open}event=abc${close}${sp}`,
        ];
        for (const input of inputs) expect(canon(input), JSON.stringify(input)).toBe('(event="abc")');
      }
    }
  });

  it('reads AND, OR, NOT case-insensitively, only as whole words', () => {
    expect(canon('a=1 and b=2')).toBe('(("a"="1" AND "b"="2"))');
    expect(canon('a=1 oR b=2')).toBe('(("a"="1" OR "b"="2"))');
    expect(canon('nOt a=1')).toBe('((NOT "a"="1"))');
    expect(canon('ANDROID=1')).toBe('("ANDROID"="1")');
    expect(canon('x=notable')).toBe('("x"="notable")');
    expect(canon('order=1')).toBe('("order"="1")');
  });

  it('accepts bare words of A-Z a-z 0-9 : . * ? / % _ -', () => {
    expect(canon('a_b-c.d=x:y/z%w')).toBe('("a_b-c.d"="x:y/z%w")');
    expect(canon('x=a*b?c')).toBe('("x"="a*b?c")');
  });

  it('rejects any other character outside quotes', () => {
    for (const [src, at, ch] of [
      ['user=foo@example.com', 8, "'@'"],
      ['user=foo@bar', 8, "'@'"],
      ['x=a+b', 3, "'+'"],
      ['x=a,b', 3, "','"],
      ['x=!a', 2, "'!'"],
      ['x=#', 2, "'#'"],
      ['x=[1]', 2, "'['"],
      ['abc=r\u030c', 5, "'\u030c'"],
      ['x=é', 2, "'é'"],
      ['event=foo\\*', 9, "'\\'"],
      ["x='a'", 2, "'''"],
    ] as const) {
      const err = errorOf(src);
      expect(err, src).toEqual({
        name: 'FilterSyntaxError',
        message: `event filter: syntax error, unexpected ${ch}`,
        offset: at,
      });
    }
  });

  it('names control characters by code point', () => {
    expect(errorOf('x=\u0001')?.message).toBe('event filter: syntax error, unexpected character U+0001');
    expect(errorOf('x=\u0000')?.offset).toBe(2);
  });

  it('keeps backslash escapes inside quoted strings (\\" does not end the string)', () => {
    expect(canon('x="a\\"b"')).toBe('("x"="a\\"b")');
    expect(canon('x="a b"')).toBe('("x"="a b")');
    expect(canon('x="a\tb\nc"')).toBe('("x"="a\tb\nc")');
    expect(canon('x="@+,!"')).toBe('("x"="@+,!")');
    expect(canon('x="äáčďěňöřüúů"')).toBe('("x"="äáčďěňöřüúů")');
  });

  it('reports an unterminated quoted string at its opening quote', () => {
    expect(errorOf('x="abc')).toEqual({
      name: 'FilterSyntaxError',
      message: 'event filter: unterminated quoted string',
      offset: 2,
    });
    expect(errorOf('x="abc\\"')?.message).toBe('event filter: unterminated quoted string');
    expect(errorOf('x="abc\\')?.offset).toBe(2);
  });
});

describe('grammar', () => {
  it('gives AND and OR equal precedence, associating left', () => {
    for (const [a, b] of [
      ['AND', 'AND'],
      ['AND', 'OR'],
      ['OR', 'AND'],
      ['OR', 'OR'],
    ]) {
      expect(canon(`event="1" ${a} event="2" ${b} event="3"`)).toBe(
        `(((event="1" ${a} event="2") ${b} event="3"))`,
      );
      expect(canon(`(event=abc ${a} event=def) ${b} event=ghi`)).toBe(
        `(((event="abc" ${a} event="def") ${b} event="ghi"))`,
      );
      expect(canon(`event=abc ${a} (event=def ${b} event=ghi)`)).toBe(
        `((event="abc" ${a} (event="def" ${b} event="ghi")))`,
      );
    }
  });

  it('binds NOT tightest', () => {
    expect(canon('NOT a=1 AND b=2')).toBe('(((NOT "a"="1") AND "b"="2"))');
    expect(canon('NOT (a=1 AND b=2)')).toBe('((NOT ("a"="1" AND "b"="2")))');
    expect(canon('a=1 OR NOT NOT b=2')).toBe('(("a"="1" OR (NOT (NOT "b"="2"))))');
  });

  it('nests NOT and parentheses in every spacing', () => {
    for (const sp of ['', '\t', '\n', '\r', '   ']) {
      for (const op of ['AND', 'OR']) {
        for (const [n1, n2] of [
          [false, false],
          [true, false],
          [false, true],
          [true, true],
        ]) {
          const input = `${sp}(${n1 ? 'NOT ' : ''}event="abc")${sp}${op}${sp}(${n2 ? 'NOT ' : ''}event="def")${sp}`;
          const l = n1 ? '(NOT event="abc")' : 'event="abc"';
          const r = n2 ? '(NOT event="def")' : 'event="def"';
          expect(canon(input), JSON.stringify(input)).toBe(`((${l} ${op} ${r}))`);
        }
      }
    }
  });

  it('accepts every comparison operator on fields, and "> =" with a space', () => {
    for (const op of ['=', '<', '<=', '>', '>=']) expect(canon(`foo${op}1`)).toBe(`("foo"${op}"1")`);
    expect(canon('foo > = 1')).toBe('("foo">="1")');
    expect(canon('foo < = 1')).toBe('("foo"<="1")');
  });

  it('reads a bare keyword value as the lower-case word, a quoted one verbatim', () => {
    for (const kw of ['AND', 'ANd', 'and', 'OR', 'oR', 'NOT', 'NoT', 'not']) {
      expect(canon(`cmd_name=${kw}`)).toBe(`("cmd_name"="${kw.toLowerCase()}")`);
      expect(canon(`cmd_name="${kw}"`)).toBe(`("cmd_name"="${kw}")`);
      expect(canon(`event=${kw}`)).toBe(`(event="${kw.toLowerCase()}")`);
    }
  });

  it('unescapes a quoted key', () => {
    expect(canon('"user"="x"')).toBe('("user"="x")');
    expect(canon('"event"=x')).toBe('(event="x")');
    expect(canon('"my key"=x')).toBe('("my key"="x")');
    expect(canon('"a\\"b"=x')).toBe('("a\\"b"="x")');
  });

  it('parses the empty filter (and whitespace only) into nothing', () => {
    expect(parseFilter('')).toEqual({ ast: null, canonical: '' });
    expect(parseFilter(' \t\n').ast).toBeNull();
    const f = compileFilter('');
    expect(f.canonical).toBe('');
    expect(f.source).toBe('');
  });

  it('rejects (), a lone key and a key with an operator but no value', () => {
    expect(errorOf('()')).toEqual({
      name: 'FilterSyntaxError',
      message: "event filter: syntax error, unexpected ')'",
      offset: 1,
    });
    for (const key of ['event', 'source_location', 'category', 'foo-field-name']) {
      for (const op of ['', '=', '<', '<=', '>', '>=']) {
        for (const not of ['', 'NOT ']) {
          for (const k of [key, `"${key}"`]) {
            const src = `${not}${k}${op}`;
            const err = errorOf(src);
            expect(err?.message, src).toBe('event filter: syntax error, unexpected end of input');
            expect(err?.offset, src).toBe(src.length);
          }
        }
      }
    }
  });

  it('reports the first offending token', () => {
    expect(errorOf('a=1 b=2')).toMatchObject({ message: 'event filter: syntax error, unexpected word "b"', offset: 4 });
    expect(errorOf('a=1 AND')).toMatchObject({ message: 'event filter: syntax error, unexpected end of input', offset: 7 });
    expect(errorOf('a=1 )')).toMatchObject({ message: "event filter: syntax error, unexpected ')'", offset: 4 });
    expect(errorOf('(a=1')).toMatchObject({ message: 'event filter: syntax error, unexpected end of input', offset: 4 });
    expect(errorOf('a=1 NOT b=2')).toMatchObject({ message: 'event filter: syntax error, unexpected NOT', offset: 4 });
    expect(errorOf('AND a=1')).toMatchObject({ message: 'event filter: syntax error, unexpected AND', offset: 0 });
    expect(errorOf('a==1')).toMatchObject({ message: "event filter: syntax error, unexpected '='", offset: 2 });
    expect(errorOf('a=>1')).toMatchObject({ message: "event filter: syntax error, unexpected '>'", offset: 2 });
    expect(errorOf('a<>1')).toMatchObject({ message: "event filter: syntax error, unexpected '>'", offset: 2 });
    expect(errorOf('a=(1)')).toMatchObject({ message: "event filter: syntax error, unexpected '('", offset: 2 });
    expect(errorOf('"a" "b"')).toMatchObject({ message: 'event filter: syntax error, unexpected quoted string "b"', offset: 4 });
    expect(errorOf('() @')).toMatchObject({ offset: 1 });
    expect(errorOf(`a=1 ${'b'.repeat(100)}`)?.message).toBe(
      `event filter: syntax error, unexpected word "${'b'.repeat(40)}..."`,
    );
    expect(errorOf('a=1 OR (b=2 AND c=3')).toMatchObject({ offset: 19 });
  });

  it('allows inequalities only on fields', () => {
    for (const key of ['event', 'category', 'source_location']) {
      for (const op of ['<', '<=', '>', '>=']) {
        const src = `${key}${op}foo`;
        const err = errorOf(src);
        expect(err, src).toEqual({
          name: 'FilterSyntaxError',
          message: 'event filter: Only fields support inequality comparisons',
          offset: key.length,
        });
      }
      expect(errorOf(`a=1 AND ${key} >= 5`)?.offset).toBe(8 + key.length + 1);
    }
    expect(errorOf('"event"<1')?.message).toBe('event filter: Only fields support inequality comparisons');
    expect(errorOf('EVENT<1')).toBeUndefined();
  });

  it('throws FilterSyntaxError instances', () => {
    expect(() => compileFilter('x=@')).toThrow(FilterSyntaxError);
    try {
      compileFilter('x=@');
    } catch (e) {
      expect(e).toBeInstanceOf(Error);
      expect((e as FilterSyntaxError).source).toBe('x=@');
    }
  });

  it('limits nesting depth instead of exhausting the stack', () => {
    const ok = `${'('.repeat(200)}a=1${')'.repeat(200)}`;
    expect(compileFilter(ok).canonical).toBe('("a"="1")');
    const deep = `${'('.repeat(100000)}a=1${')'.repeat(100000)}`;
    expect(errorOf(deep)).toMatchObject({ message: 'event filter: expression nested too deeply', offset: 256 });
    expect(errorOf(`${'NOT '.repeat(300)}a=1`)?.offset).toBe(256 * 4);
  });

  it('handles very long AND/OR chains without deep recursion', () => {
    const n = 50000;
    const src = Array.from({ length: n }, (_, i) => `x=${i}`).join(' OR ');
    const f = compileFilter(src);
    expect(f.canonical.startsWith(`${'('.repeat(n)}"x"="0" OR`)).toBe(true);
    expect(f.match({ name: 'e', categories: undefined, fields: { x: n - 1 }, duration: 0, negative: false })).toBe(true);
    const mixed = Array.from({ length: n }, (_, i) => `x=${i}`).join(' OR y=1 AND ');
    const m = compileFilter(mixed);
    expect(m.match({ name: 'e', categories: undefined, fields: { x: n - 1, y: 1 }, duration: 0, negative: false })).toBe(true);
    expect(m.match({ name: 'e', categories: undefined, fields: { x: 1, y: 1 }, duration: 0, negative: false })).toBe(false);
    expect(m.match({ name: 'e', categories: undefined, fields: { x: n - 1 }, duration: 0, negative: false })).toBe(false);
  });
});

describe('syntax tree', () => {
  it('describes each condition', () => {
    expect(parseFilter('event=abc').ast).toEqual({ type: 'event', name: 'abc', wildcard: false, offset: 0 });
    expect(parseFilter('event=a*').ast).toEqual({ type: 'event', name: 'a*', wildcard: true, offset: 0 });
    expect(parseFilter('event="a\\*"').ast).toEqual({ type: 'event', name: 'a*', wildcard: false, offset: 0 });
    expect(parseFilter('category=error').ast).toEqual({ type: 'category', name: 'error', logType: 'error', offset: 0 });
    expect(parseFilter('category=imap').ast).toEqual({ type: 'category', name: 'imap', logType: null, offset: 0 });
    expect(parseFilter('source_location="a\\.c:1"').ast).toEqual({
      type: 'source_location',
      location: 'a.c:1',
      offset: 0,
    });
    expect(parseFilter(' x >= 1kb').ast).toEqual({
      type: 'field',
      key: 'x',
      op: '>=',
      value: { kind: 'int', value: 1024, text: '1024', unit: 'size' },
      offset: 1,
    });
    expect(parseFilter('a=1 OR NOT b=2').ast).toMatchObject({
      type: 'or',
      offset: 4,
      left: { type: 'field', key: 'a' },
      right: { type: 'not', offset: 7, operand: { type: 'field', key: 'b' } },
    });
  });
});

describe('canonical export', () => {
  it('matches Dovecot for the documented examples', () => {
    expect(canon('event=abc')).toBe('(event="abc")');
    expect(canon('event="1" OR event="2" AND event="3"')).toBe('(((event="1" OR event="2") AND event="3"))');
  });

  it('prints special keys bare, field keys quoted, log types unquoted', () => {
    for (const v of ['foo', 'foo.c', 'foo.c:123', '0', '123', '123*', '127.0.0.1', '127.0.0.*', '*foo', 'f?o', '*', '?']) {
      expect(canon(`event=${v}`)).toBe(`(event="${v}")`);
      expect(canon(`category=${v}`)).toBe(`(category="${v}")`);
      expect(canon(`source_location=${v}`)).toBe(`(source_location="${v}")`);
    }
    for (const t of ['debug', 'info', 'warning', 'error', 'fatal', 'panic']) {
      expect(canon(`(category=${t})`)).toBe(`(category=${t})`);
      expect(canon(`category="${t}"`)).toBe(`(category=${t})`);
    }
  });

  it('prints field values as Dovecot renders them', () => {
    expect(canon('x=007')).toBe('("x"="7")');
    expect(canon('x=-0')).toBe('("x"="0")');
    expect(canon('bytes>1kb')).toBe('("bytes">"1024")');
    expect(canon('duration<1s')).toBe('("duration"<"1000000")');
    expect(canon('x=1min')).toBe('("x"="60000000")');
    expect(canon('size>10M')).toBe('("size">"10M")');
    expect(canon('ip=2001:0:0:0:0:0:0:1')).toBe('("ip"="2001::1")');
    expect(canon('ip=10.0.0.0/8')).toBe('("ip"="10.0.0.0/8")');
    expect(canon('ip="::ffff:10.0.0.1"')).toBe('("ip"="::ffff:10.0.0.1")');
    expect(canon('x="foo bar"')).toBe('("x"="foo bar")');
    expect(canon('x="foo * bar"')).toBe('("x"="foo * bar")');
    expect(canon('x="it\'s"')).toBe('("x"="it\\\'s")');
    expect(canon('x="a\\\\b"')).toBe('("x"="a\\\\b")');
  });

  it('keeps a wildcard pattern escaped and escapes literal * and ? of exact values', () => {
    expect(canon('event="foo\\*"')).toBe('(event="foo\\*")');
    expect(canon('event="foo\\*bar*"')).toBe('(event="foo\\*bar*")');
    expect(canon('x="a\\?b"')).toBe('("x"="a\\?b")');
    expect(canon('category="\\error"')).toBe('(category="\\error")');
  });

  it('re-parses to the same canonical form', () => {
    for (const src of [
      'event="foo\\*"',
      'x="a\\?b" AND NOT y="q\\""',
      'category="\\error" OR category=error',
      'ip=fe80::1%eth0 OR ip="[::1]" OR ip=10.1.2.3/8',
      'a=1 OR b=2 AND (c=3 OR NOT d>=1kb)',
    ]) {
      const c = canon(src);
      expect(canon(c), src).toBe(c);
    }
  });
});
