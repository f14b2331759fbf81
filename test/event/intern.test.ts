import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { INVALID_UTF8, Interner, MAX_INTERNED_BYTES, NOT_INTERNED, decodeUtf8 } from '../../src/event/intern.js';

/** what lookup must answer for `bytes`: the decoded string, or null when they are not valid UTF-8 */
function expected(bytes: Uint8Array): string | null {
  return decodeUtf8(bytes, 0, bytes.length);
}

// values that share length, first and last byte (one front-cache entry) but differ inside: up to 14
// bytes, so that they differ in whole four-byte words and in the last, overlapping one
const lookalike = fc
  .tuple(fc.integer({ min: 0x61, max: 0x63 }), fc.uint8Array({ minLength: 0, maxLength: 12 }), fc.integer({ min: 0x61, max: 0x63 }))
  .map(([a, mid, z]) => Uint8Array.from([a, ...mid.map((x) => 0x61 + (x % 3)), z]));
const anyBytes = fc.uint8Array({ maxLength: 40 });
const text = fc.string({ maxLength: 30 }).map((s) => new TextEncoder().encode(s));

describe('the byte-keyed intern table', () => {
  it('tells apart values one inner byte apart, in any four-byte word (the front cache holds one per length, first and last byte)', () => {
    const t = new Interner();
    const enc = new TextEncoder();
    for (let len = 3; len <= 14; len++) {
      const base = 'a'.repeat(len);
      for (let i = 1; i < len - 1; i++) {
        const other = `${base.slice(0, i)}b${base.slice(i + 1)}`;
        for (const s of [base, other, base, other]) {
          // at an odd offset of a larger buffer, as in a batch
          const buf = new Uint8Array(len + 8).fill(0x7a);
          buf.set(enc.encode(s), 3);
          expect(t.string(t.lookup(buf, 3, len))).toBe(s);
        }
      }
    }
  });

  it('gives every byte string its own decoded string, the same id each time it comes back, wherever it lies', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(lookalike, anyBytes, text), { minLength: 1, maxLength: 200 }), fc.nat({ max: 7 }), (values, pad) => {
        const t = new Interner();
        const ids = new Map<string, number>();
        // each value twice, in a shared buffer at shifting offsets
        for (const v of [...values, ...values.slice().reverse()]) {
          const buf = new Uint8Array(pad + v.length + 3).fill(0xff);
          buf.set(v, pad);
          const id = t.lookup(buf, pad, v.length);
          const want = expected(v);
          if (want === null) {
            expect(id).toBe(INVALID_UTF8);
            continue;
          }
          expect(id).toBeGreaterThanOrEqual(0);
          expect(t.string(id)).toBe(want);
          const k = Buffer.from(v).toString('hex');
          const had = ids.get(k);
          if (had === undefined) ids.set(k, id);
          else expect(id).toBe(had);
        }
        // distinct byte strings, distinct ids
        expect(new Set(ids.values()).size).toBe(ids.size);
      }),
      { numRuns: 300 },
    );
  });

  it('leaves long values to the caller', () => {
    const t = new Interner();
    const long = new Uint8Array(MAX_INTERNED_BYTES + 1).fill(0x61);
    expect(t.lookup(long, 0, long.length)).toBe(NOT_INTERNED);
    expect(t.lookup(long, 0, MAX_INTERNED_BYTES)).toBeGreaterThanOrEqual(0);
  });
});
