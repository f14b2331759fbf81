import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import { IpBuf, formatIp, parseIp } from '../../src/filter/ip.js';
import { globCodes, wildcardTest, wildcardTokens } from '../../src/filter/wildcard.js';

describe('wildcards (test-wildcard-match.c)', () => {
  const common: [string, string, boolean][] = [
    ['foo', '*', true],
    ['foo', '*foo*', true],
    ['foo', 'foo', true],
    ['foo', 'f*o*o', true],
    ['foo', 'f??', true],
    ['foo', 'f?o', true],
    ['foo', '*??', true],
    ['foo', '???', true],
    ['foo', 'f??*', true],
    ['foo', '???*', true],
    ['foo', '', false],
    ['foo', 'f', false],
    ['foo', 'fo', false],
    ['foo', 'fooo', false],
    ['foo', '????', false],
    ['foo', 'f*o*o*o', false],
    ['foo', 'f???*', false],
    ['*foo', 'foo', false],
    ['foo*', 'foo', false],
    ['*foo*', 'foo', false],
    ['', '*', true],
    ['', '', true],
    ['', '?', false],
  ];
  const escaped: [string, string, boolean][] = [
    ['f*o', 'f*o', true],
    ['f*o', 'f\\*o', true],
    ['f?o', 'f\\*o', false],
    ['f?o', 'f\\?o', true],
    ['f*o', 'f\\*', false],
    ['f*', 'f\\', false],
    ['f\\*o', 'f\\*o', false],
    ['f\\*o', 'f\\\\*', true],
    ['f\\*o', 'f\\\\*o', true],
    ['f\\*o', 'f\\\\\\*o', true],
    ['f\\*o', 'f\\?o', false],
    ['f\\*o', 'f\\\\?o', true],
    ['f\\*o', 'f\\\\\\?o', false],
    ['f\\', 'f\\', true],
    ['\\\\?', '?\\\\?', true],
  ];
  it.each([...common, ...escaped])('%j against %j is %s', (data, mask, want) => {
    expect(wildcardTest(mask, false)(data)).toBe(want);
    expect(wildcardTest(mask, true)(data.toUpperCase())).toBe(want);
  });

  it('folds ASCII only when case-insensitive', () => {
    expect(wildcardTest('ABC*', true)('abcdef')).toBe(true);
    expect(wildcardTest('*Ä', true)('xä')).toBe(false);
    expect(wildcardTest('*Ä', true)('xÄ')).toBe(true);
    expect(wildcardTest('ABC*', false)('abcdef')).toBe(false);
  });

  it('lets ? stand for one character, including one outside the BMP', () => {
    expect(wildcardTest('caf?', false)('café')).toBe(true);
    expect(wildcardTest('?', false)('😀')).toBe(true);
    expect(wildcardTest('??', false)('😀')).toBe(false);
    expect(wildcardTest('*?x', false)('😀x')).toBe(true);
    expect(wildcardTest('a*?', false)('a😀')).toBe(true);
  });

  const CHARS = ['a', 'b', 'A', 'B', '*', '?', '\\', 'é', '😀', '.'];
  const text = (max: number) => fc.array(fc.constantFrom(...CHARS), { maxLength: max }).map((a) => a.join(''));

  /** A reference: the tokens turned into a RegExp over code points, ASCII-folded by hand. */
  function oracle(mask: string, subject: string, icase: boolean): boolean {
    const toks = wildcardTokens(mask, icase);
    let src = '^';
    let lit = '';
    const flush = () => {
      src += lit.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
      lit = '';
    };
    for (const t of toks) {
      if (t >= 0) {
        lit += String.fromCharCode(t);
        continue;
      }
      flush();
      src += t === -1 ? '.*' : '.';
    }
    flush();
    const fold = (s: string) => (icase ? s.replace(/[A-Z]/g, (c) => c.toLowerCase()) : s);
    return new RegExp(`${src}$`, 'su').test(fold(subject));
  }

  it('agrees with a RegExp reference on random masks and subjects', () => {
    fc.assert(
      fc.property(text(8), text(10), fc.boolean(), (mask, subject, icase) => {
        expect(wildcardTest(mask, icase)(subject)).toBe(oracle(mask, subject, icase));
      }),
      { numRuns: 3000 },
    );
  });

  it('matches decimal text the same way', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('1', '2', '*', '?'), { maxLength: 6 }).map((a) => a.join('')),
        fc.integer({ min: -3000, max: 3000 }),
        (mask, n) => {
          const s = String(n);
          const buf = Uint8Array.from(s, (c) => c.charCodeAt(0));
          expect(globCodes(wildcardTokens(mask, false), buf, buf.length)).toBe(oracle(mask, s, false));
        },
      ),
    );
  });
});

describe('IP parsing', () => {
  const parse = (s: string): { family: number; words: number[]; zone: string } | null => {
    const b = new IpBuf();
    if (!parseIp(s, 0, s.length, b)) return null;
    return {
      family: b.family,
      words: Array.from(b.w.subarray(0, b.family === 4 ? 2 : 8)),
      zone: s.slice(b.zoneStart, b.zoneEnd),
    };
  };

  it('reads IPv4 and IPv6 forms', () => {
    expect(parse('1.2.3.4')).toEqual({ family: 4, words: [0x0102, 0x0304], zone: '' });
    expect(parse('0.0.0.0')).toEqual({ family: 4, words: [0, 0], zone: '' });
    expect(parse('::')).toEqual({ family: 6, words: [0, 0, 0, 0, 0, 0, 0, 0], zone: '' });
    expect(parse('::1')?.words).toEqual([0, 0, 0, 0, 0, 0, 0, 1]);
    expect(parse('1::')?.words).toEqual([1, 0, 0, 0, 0, 0, 0, 0]);
    expect(parse('1:2:3:4:5:6:7::')?.words).toEqual([1, 2, 3, 4, 5, 6, 7, 0]);
    expect(parse('::2:3:4:5:6:7:8')?.words).toEqual([0, 2, 3, 4, 5, 6, 7, 8]);
    expect(parse('ABCD:ef01::9')?.words).toEqual([0xabcd, 0xef01, 0, 0, 0, 0, 0, 9]);
    expect(parse('::ffff:1.2.3.4')?.words).toEqual([0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304]);
    expect(parse('::1.2.3.4')?.words).toEqual([0, 0, 0, 0, 0, 0, 0x0102, 0x0304]);
    expect(parse('1:2:3:4:5:6:1.2.3.4')?.words).toEqual([1, 2, 3, 4, 5, 6, 0x0102, 0x0304]);
    expect(parse('fe80::1%eth0')).toEqual({ family: 6, words: [0xfe80, 0, 0, 0, 0, 0, 0, 1], zone: 'eth0' });
    expect(parse('[::1]')?.words).toEqual([0, 0, 0, 0, 0, 0, 0, 1]);
  });

  it('rejects malformed addresses', () => {
    for (const s of [
      '',
      '1',
      '1.2.3',
      '1.2.3.4.5',
      '256.1.1.1',
      '01.2.3.4',
      '1.2.3.4 ',
      ' 1.2.3.4',
      '1..3.4',
      ':',
      ':::',
      '1:2',
      '1::2::3',
      '12345::',
      ':1::',
      '1:',
      '1:2:3:4:5:6:7:8:9',
      '1:2:3:4:5:6:7:8::',
      '::1:2:3:4:5:6:7:8',
      '1:2:3:4:5:6:7:1.2.3.4',
      '::1.2.3',
      '::1.2.3.4:5',
      'fe80::1%',
      'fe80::1%eth-0',
      '1.2.3.4%eth0',
      '[1.2.3.4]',
      '[::1',
      'g::1',
    ]) {
      expect(parse(s), s).toBeNull();
    }
  });

  it('agrees with ipaddr.js on random addresses in every notation', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 7 }), (bytes, zeros) => {
        const arr = Array.from(bytes);
        for (let i = 0; i < zeros; i++) {
          arr[2 * i] = 0;
          arr[2 * i + 1] = 0;
        }
        const addr = ipaddr.fromByteArray(arr) as ipaddr.IPv6;
        const words = addr.parts;
        const long = words.map((x) => x.toString(16).padStart(4, '0')).join(':');
        for (const s of [addr.toString(), addr.toNormalizedString(), long, long.toUpperCase()]) {
          expect(parse(s)?.words, s).toEqual(words);
        }
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), (bytes) => {
        const addr = ipaddr.fromByteArray(Array.from(bytes));
        const p = parse(addr.toString());
        expect(p?.words).toEqual([(bytes[0]! << 8) | bytes[1]!, (bytes[2]! << 8) | bytes[3]!]);
        expect(ipaddr.IPv4.isValidFourPartDecimal(addr.toString())).toBe(true);
      }),
    );
  });

  it('prints addresses as inet_ntop does', () => {
    expect(formatIp(4, [0x7f00, 1], '')).toBe('127.0.0.1');
    expect(formatIp(6, [0, 0, 0, 0, 0, 0, 0, 1], '')).toBe('::1');
    expect(formatIp(6, [0, 0, 0, 0, 0, 0, 0, 0], '')).toBe('::');
    expect(formatIp(6, [0x2001, 0, 0, 0, 0, 0, 0, 1], '')).toBe('2001::1');
    expect(formatIp(6, [0x2001, 0xdb8, 0, 1, 0, 0, 0, 1], '')).toBe('2001:db8:0:1::1');
    expect(formatIp(6, [0x2001, 0xdb8, 0, 0, 1, 0, 0, 1], '')).toBe('2001:db8::1:0:0:1');
    expect(formatIp(6, [1, 0, 2, 3, 4, 5, 6, 7], '')).toBe('1:0:2:3:4:5:6:7');
    expect(formatIp(6, [1, 2, 3, 4, 5, 6, 7, 0], '')).toBe('1:2:3:4:5:6:7:0');
    expect(formatIp(6, [1, 2, 3, 4, 5, 6, 0, 0], '')).toBe('1:2:3:4:5:6::');
    expect(formatIp(6, [0, 0, 0, 0, 0, 0xffff, 0x0a00, 1], '')).toBe('::ffff:10.0.0.1');
    expect(formatIp(6, [0, 0, 0, 0, 0, 0, 0x0102, 0x0304], '')).toBe('::1.2.3.4');
    expect(formatIp(6, [0xfe80, 0, 0, 0, 0, 0, 0, 1], 'eth0')).toBe('fe80::1%eth0');
  });

  it('prints like RFC 5952 outside the IPv4-embedding prefixes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: 7 }), (bytes, len, at) => {
        const arr = Array.from(bytes);
        for (let i = at; i < Math.min(8, at + len); i++) {
          arr[2 * i] = 0;
          arr[2 * i + 1] = 0;
        }
        const addr = ipaddr.fromByteArray(arr) as ipaddr.IPv6;
        const w = addr.parts;
        if (w.slice(0, 5).every((x) => x === 0) && (w[5] === 0 || w[5] === 0xffff)) return;
        expect(formatIp(6, w, '')).toBe(addr.toRFC5952String());
      }),
    );
  });
});
