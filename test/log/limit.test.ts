import { describe, expect, test } from 'vitest';
import { LogLimiter } from '../../src/log/limit.js';

describe('LogLimiter', () => {
  test('one line per key and window, then the count of those left out', () => {
    let now = 0;
    const l = new LogLimiter(10_000, () => now);
    expect(l.take('a')).toBe(0);
    expect(l.take('a')).toBeNull();
    expect(l.take('b')).toBe(0);
    now = 9_999;
    expect(l.take('a')).toBeNull();
    now = 10_000;
    expect(l.take('a')).toBe(2);
    expect(l.take('a')).toBeNull();
    now = 30_000;
    expect(l.take('a')).toBe(1);
    expect(l.take('b')).toBe(0);
  });

  test('keeps a bounded number of keys', () => {
    let now = 0;
    const l = new LogLimiter(10_000, () => now);
    for (let i = 0; i < 10_000; i++) expect(l.take(`k${i}`)).toBe(0);
    // the oldest were forgotten: logged again at once; the newest are still held back
    expect(l.take('k0')).toBe(0);
    expect(l.take('k9999')).toBeNull();
  });
});
