import { describe, expect, it } from 'vitest';
import { classifyFieldValue } from '../../src/filter/values.js';
import { parseIntervalMsecs, parseIntmax, parseSize } from '../../src/filter/units.js';

const int = (value: number, unit: 'none' | 'size' | 'interval' = 'none', text = String(value)) => ({
  kind: 'int',
  value,
  text,
  unit,
});

describe('field value classification, in order', () => {
  it('integers first (signed 64-bit)', () => {
    expect(classifyFieldValue('0')).toEqual(int(0));
    expect(classifyFieldValue('-5')).toEqual(int(-5));
    expect(classifyFieldValue('007')).toEqual(int(7));
    expect(classifyFieldValue('9223372036854775807')).toEqual(int(9223372036854775807, 'none', '9223372036854775807'));
    expect(classifyFieldValue('-9223372036854775808')).toMatchObject({ kind: 'int', text: '-9223372036854775808' });
    expect(classifyFieldValue('9223372036854775808')).toEqual({ kind: 'string', text: '9223372036854775808' });
    expect(classifyFieldValue('+5')).toEqual({ kind: 'string', text: '+5' });
    expect(classifyFieldValue('-')).toEqual({ kind: 'string', text: '-' });
  });

  it('then IP addresses and CIDR ranges', () => {
    expect(classifyFieldValue('127.0.0.1')).toEqual({
      kind: 'ip',
      family: 4,
      words: [0x7f00, 0x0001],
      bits: 32,
      zone: '',
      text: '127.0.0.1',
    });
    expect(classifyFieldValue('10.0.0.0/8')).toMatchObject({ kind: 'ip', bits: 8, text: '10.0.0.0/8' });
    expect(classifyFieldValue('10.0.0.0/08')).toMatchObject({ kind: 'ip', bits: 8, text: '10.0.0.0/8' });
    expect(classifyFieldValue('10.0.0.0/32')).toMatchObject({ kind: 'ip', bits: 32, text: '10.0.0.0' });
    expect(classifyFieldValue('::1')).toMatchObject({ kind: 'ip', family: 6, words: [0, 0, 0, 0, 0, 0, 0, 1] });
    expect(classifyFieldValue('2001:db8::/32')).toMatchObject({ kind: 'ip', family: 6, bits: 32, text: '2001:db8::/32' });
    expect(classifyFieldValue('2001:0:0:0:0:0:0:1')).toMatchObject({ kind: 'ip', text: '2001::1' });
    expect(classifyFieldValue('fe80::1%eth0')).toMatchObject({ kind: 'ip', zone: 'eth0', text: 'fe80::1%eth0' });
    expect(classifyFieldValue('[::1]')).toMatchObject({ kind: 'ip', text: '::1' });
    expect(classifyFieldValue('::ffff:1.2.3.4')).toMatchObject({ kind: 'ip', family: 6, text: '::ffff:1.2.3.4' });
    for (const s of ['10.0.0.0/33', '::/129', '10.0.0.0/', '10.0.0.0/-1', '1.2.3', '1.2.3.256', '010.0.0.1', '[1.2.3.4]', '1:2']) {
      expect(classifyFieldValue(s).kind, s).not.toBe('ip');
    }
    expect(classifyFieldValue('5.5')).toEqual({ kind: 'string', text: '5.5' });
  });

  it('then sizes in powers of 1024', () => {
    expect(classifyFieldValue('1b')).toEqual(int(1, 'size'));
    expect(classifyFieldValue('10kb')).toEqual(int(10240, 'size'));
    expect(classifyFieldValue('1KiB')).toEqual(int(1024, 'size'));
    expect(classifyFieldValue('1KIB')).toEqual(int(1024, 'size'));
    expect(classifyFieldValue('1 MiB')).toEqual(int(1048576, 'size'));
    expect(classifyFieldValue('1MB')).toEqual(int(1048576, 'size'));
    expect(classifyFieldValue('1mi')).toEqual(int(1048576, 'size'));
    expect(classifyFieldValue('2g')).toEqual(int(2 * 1024 ** 3, 'size'));
    expect(classifyFieldValue('1T')).toEqual(int(1024 ** 4, 'size'));
    expect(classifyFieldValue('5 ')).toEqual(int(5, 'size'));
    expect(classifyFieldValue('1bb').kind).toBe('string');
    expect(classifyFieldValue('8388608T')).toEqual({ kind: 'string', text: '8388608T' });
  });

  it('keeps a size ending in a bare M as ambiguous', () => {
    for (const s of ['10M', '10m', '1 M', '0m']) expect(classifyFieldValue(s)).toEqual({ kind: 'ambiguous', text: s });
  });

  it('then intervals, in microseconds', () => {
    const us = (ms: number) => int(ms * 1000, 'interval');
    expect(classifyFieldValue('1s')).toEqual(us(1000));
    expect(classifyFieldValue('1sec')).toEqual(us(1000));
    expect(classifyFieldValue('2 seconds')).toEqual(us(2000));
    expect(classifyFieldValue('250ms')).toEqual(us(250));
    expect(classifyFieldValue('1msec')).toEqual(us(1));
    expect(classifyFieldValue('1millis')).toEqual(us(1));
    expect(classifyFieldValue('1milliseconds')).toEqual(us(1));
    expect(classifyFieldValue('1min')).toEqual(us(60000));
    expect(classifyFieldValue('1minutes')).toEqual(us(60000));
    expect(classifyFieldValue('2h')).toEqual(us(7200000));
    expect(classifyFieldValue('1hour')).toEqual(us(3600000));
    expect(classifyFieldValue('1d')).toEqual(us(86400000));
    expect(classifyFieldValue('1w')).toEqual(us(604800000));
    expect(classifyFieldValue('1WEEKS')).toEqual(us(604800000));
    expect(classifyFieldValue('1sx').kind).toBe('string');
    expect(classifyFieldValue('1y').kind).toBe('string');
    expect(classifyFieldValue('50days').kind).toBe('string');
    expect(classifyFieldValue('49days')).toEqual(us(49 * 86400000));
  });

  it('otherwise a string: exact (unescaped) or a wildcard pattern', () => {
    expect(classifyFieldValue('abc')).toEqual({ kind: 'string', text: 'abc' });
    expect(classifyFieldValue('')).toEqual({ kind: 'string', text: '' });
    expect(classifyFieldValue('a\\*b')).toEqual({ kind: 'string', text: 'a*b' });
    expect(classifyFieldValue('a\\"b')).toEqual({ kind: 'string', text: 'a"b' });
    expect(classifyFieldValue('a*')).toEqual({ kind: 'wildcard', pattern: 'a*', numeric: false });
    expect(classifyFieldValue('10.0.0.*')).toEqual({ kind: 'wildcard', pattern: '10.0.0.*', numeric: false });
    expect(classifyFieldValue('40*')).toEqual({ kind: 'wildcard', pattern: '40*', numeric: true });
    expect(classifyFieldValue('4?')).toEqual({ kind: 'wildcard', pattern: '4?', numeric: true });
    expect(classifyFieldValue('*')).toEqual({ kind: 'wildcard', pattern: '*', numeric: true });
    expect(classifyFieldValue('-4*')).toEqual({ kind: 'wildcard', pattern: '-4*', numeric: false });
  });
});

describe('number syntax', () => {
  it('parses intmax like str_to_intmax', () => {
    expect(parseIntmax('12')).toBe(12n);
    expect(parseIntmax('-0')).toBe(0n);
    expect(parseIntmax('')).toBeNull();
    expect(parseIntmax('1 ')).toBeNull();
    expect(parseIntmax('0x10')).toBeNull();
  });

  it('parses sizes like str_parse_get_size', () => {
    expect(parseSize('18446744073709551615')).toBe(18446744073709551615n);
    expect(parseSize('18446744073709551616')).toBeNull();
    expect(parseSize('16777216T')).toBeNull();
    expect(parseSize('16777215T')).toBe(16777215n * 1024n ** 4n);
    expect(parseSize('kb')).toBeNull();
    expect(parseSize('1 k b')).toBeNull();
  });

  it('parses intervals like str_parse_get_interval_msecs', () => {
    expect(parseIntervalMsecs('0')).toBe(0n);
    expect(parseIntervalMsecs('5')).toBeNull();
    expect(parseIntervalMsecs('4294967295ms')).toBe(4294967295n);
    expect(parseIntervalMsecs('4294967296ms')).toBeNull();
    expect(parseIntervalMsecs('4294967s')).toBe(4294967000n);
    expect(parseIntervalMsecs('4294968s')).toBeNull();
    expect(parseIntervalMsecs('1m')).toBe(60000n);
    expect(parseIntervalMsecs('1s ')).toBeNull();
  });
});
