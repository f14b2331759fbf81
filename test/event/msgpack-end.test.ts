import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { msgpackEnd } from '../../src/event/msgpack.js';

// plain msgpack, every width msgpackr writes (no records: what a producer sends)
const packr = new Packr({ useRecords: false, variableMapSize: true });

const value = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double(),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
    fc.string({ maxLength: 300 }),
    fc.uint8Array({ maxLength: 300 }),
    fc.date({ noInvalidDate: true }),
    fc.array(tie('v'), { maxLength: 20 }),
    fc.dictionary(fc.string({ maxLength: 8 }), tie('v'), { maxKeys: 20 }),
  ),
})).v;

describe('msgpackEnd (the framing of tallyd aggregate over a msgpack file)', () => {
  it('finds the end of any value, -1 for any cut of it, whatever follows', () => {
    fc.assert(
      fc.property(value, fc.uint8Array({ maxLength: 4 }), (v, tail) => {
        const b = packr.pack(v);
        expect(msgpackEnd(b, 0)).toBe(b.length);
        const withTail = new Uint8Array(b.length + tail.length);
        withTail.set(b);
        withTail.set(tail, b.length);
        expect(msgpackEnd(withTail, 0)).toBe(b.length);
        for (let cut = 0; cut < b.length; cut++) expect(msgpackEnd(b.subarray(0, cut), 0)).toBe(-1);
      }),
      { numRuns: 300 },
    );
  });

  it('reads the 32-bit lengths and counts (str 32, bin 32, array 32, map 32)', () => {
    for (const v of ['x'.repeat(70_000), new Uint8Array(70_000), new Array(70_000).fill(1), Object.fromEntries(Array.from({ length: 70_000 }, (_, i) => [`k${i}`, i]))]) {
      const b = packr.pack(v);
      expect([0xdb, 0xc6, 0xdd, 0xdf]).toContain(b[0]);
      expect(msgpackEnd(b, 0)).toBe(b.length);
      expect(msgpackEnd(b.subarray(0, b.length - 1), 0)).toBe(-1);
      expect(msgpackEnd(b.subarray(0, 3), 0)).toBe(-1);
    }
  });

  it('starts anywhere, and refuses 0xc1 (no value starts with it)', () => {
    const b = packr.pack([1, 'two', { three: 3 }]);
    const second = 2; // after the array header and the 1
    expect(msgpackEnd(b, second)).toBe(second + 4);
    expect(() => msgpackEnd(Uint8Array.of(0x92, 0x01, 0xc1), 0)).toThrow(/byte 0xc1 starts no msgpack value/);
  });
});
