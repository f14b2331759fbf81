import { describe, expect, it } from 'vitest';
import * as L from '../../src/ring/layout.js';

describe('ring layout', () => {
  it('keeps producer-written and consumer-written words on separate 64-byte lines', () => {
    const line = (word: number): number => Math.floor((word * 4) / L.CONTROL_LINE_BYTES);
    const identity = [L.MAGIC_WORD, L.VERSION_WORD, L.CAPACITY_WORD];
    const producer = [L.WRITE_POS, L.WRAP_AT, L.RECORDS_WRITTEN, L.SPACE_WANTED, L.CLOSED];
    const consumer = [L.READ_POS, L.RECORDS_READ, L.CONSUMER_WAITING, L.HELD];
    const all = [...identity, ...producer, ...consumer];
    expect(new Set(all).size).toBe(all.length);
    expect(new Set(identity.map(line))).toEqual(new Set([0]));
    expect(new Set(producer.map(line))).toEqual(new Set([1]));
    expect(new Set(consumer.map(line))).toEqual(new Set([2]));
    expect(Math.max(...all) * 4 + 4).toBeLessThanOrEqual(L.DATA_START);
    expect(L.DATA_START % L.CONTROL_LINE_BYTES).toBe(0);
  });

  it('fits the record header in HEADER_BYTES and keeps records 8-byte aligned', () => {
    expect(Math.max(L.HDR_LENGTH, L.HDR_META, L.HDR_ID_LO, L.HDR_ID_HI) * 4 + 4).toBe(L.HEADER_BYTES);
    expect(L.HEADER_BYTES % L.ALIGN).toBe(0);
    for (let len = 0; len < 100; len++) {
      const bytes = L.recordBytes(len);
      expect(bytes % L.ALIGN).toBe(0);
      expect(bytes - L.HEADER_BYTES - len).toBeGreaterThanOrEqual(0);
      expect(bytes - L.HEADER_BYTES - len).toBeLessThan(L.ALIGN);
    }
    expect(L.recordBytes(L.maxPayloadBytes(1024))).toBe(1024);
    expect(L.recordBytes(L.maxPayloadBytes(1024) + 1)).toBeGreaterThan(1024);
  });

  it('keeps positions in [0, 2 * capacity) and distances in [0, 2 * capacity)', () => {
    const cap = 64;
    expect(L.advance(120, 16, cap)).toBe(8);
    expect(L.advance(56, 8, cap)).toBe(64);
    expect(L.offsetOf(72, cap)).toBe(8);
    expect(L.nextLap(8, cap)).toBe(64);
    expect(L.nextLap(72, cap)).toBe(0);
    expect(L.distance(120, 8, cap)).toBe(16);
    expect(L.distance(8, 8, cap)).toBe(0);
    expect(L.effectiveRead(40, 40, cap)).toBe(64);
    expect(L.effectiveRead(40, L.WRAP_NONE, cap)).toBe(40);
    expect(L.MAX_CAPACITY * 2 - 1).toBeLessThanOrEqual(2 ** 31 - 1);
  });
});
