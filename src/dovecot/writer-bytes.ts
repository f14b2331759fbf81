/**
 * Reading a stats-writer line straight from its bytes: what the fast paths
 * of EVENT (writer-scan.ts) and of BEGIN and END (writer-open.ts) share.
 * Arguments are found by their TABs, numbers read as digits, strings made
 * through the byte-keyed interner. Every helper answers "not here" (-1,
 * null, a flag) rather than deciding: the general parser (writer-state.ts)
 * has every rule and error text, and takes any line a fast path gives up on.
 */
import { decodeUtf8, type Interner } from '../event/intern.js';

export const SCAN_SLOW = -1;

export const TAB = 9;
const ESC = 1;
/** digits at most read as a number here (exact in a double) */
const MAX_DIGITS = 15;
/** str_to_uint's range (a source line number) */
export const UINT_MAX = 0xffffffff;
/** LOG_TYPE_COUNT */
export const LOG_TYPES = 6;

/** Whether `buf[start, end)` starts with `prefix`. */
export function startsWith(buf: Uint8Array, start: number, end: number, prefix: readonly number[]): boolean {
  if (end - start < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (buf[start + i] !== prefix[i]) return false;
  return true;
}

export class LineBytes {
  /** where the last number ended (the TAB after it, or the line's end) */
  protected numEnd = 0;
  /** the last `tab()` passed an escape (\001) */
  protected escaped = false;
  /** the last `tab()` passed a NUL */
  protected nul = false;
  /** what head() and lastSent() read */
  protected id1 = 0;
  protected id2 = 0;
  protected sec = 0;
  protected usec = 0;
  /** a view of the buffer being scanned (for four-byte reads: tab(), key matches) */
  protected dv: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
  private dvOf: Uint8Array | null = null;

  constructor(protected readonly interner: Interner) {}

  /** Makes `b` the buffer tab() reads. */
  protected view(b: Uint8Array): void {
    if (b !== this.dvOf) {
      this.dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
      this.dvOf = b;
    }
  }

  /** An unsigned decimal of at most MAX_DIGITS digits ending at a TAB or `end`, or -1. */
  protected num(b: Uint8Array, pos: number, end: number): number {
    let n = 0;
    let i = pos;
    while (i < end) {
      const c = b[i] as number;
      if (c === TAB) break;
      if (c < 0x30 || c > 0x39) return -1;
      n = n * 10 + (c - 0x30);
      i++;
    }
    if (i === pos || i - pos > MAX_DIGITS) return -1;
    this.numEnd = i;
    return n;
  }

  /**
   * The next TAB at or after `pos`, or `end`; notes an escape or a NUL on the
   * way. Four bytes at a time while none of them is a TAB or below 2 (the
   * zero-byte test of x ^ 0x09090909 or'ed with the below-2 test of x, exact
   * for "any byte"), then byte by byte (arguments are short: this beats a
   * native indexOf call, and a byte loop alone by about a quarter).
   */
  protected tab(b: Uint8Array, pos: number, end: number): number {
    let i = pos;
    const dv = this.dv;
    while (i + 4 <= end) {
      const x = dv.getUint32(i, true);
      const t = x ^ 0x09090909;
      if (((((t - 0x01010101) & ~t) | ((x - 0x02020202) & ~x)) & 0x80808080) !== 0) break;
      i += 4;
    }
    let low = false;
    while (i < end) {
      const c = b[i] as number;
      if (c === TAB) break;
      if (c < 2) low = true;
      i++;
    }
    if (low) {
      this.escaped = b.subarray(pos, i).indexOf(ESC) !== -1;
      this.nul = b.subarray(pos, i).indexOf(0) !== -1;
    } else {
      this.escaped = false;
      this.nul = false;
    }
    return i;
  }

  // head(), lastSent(), source() and number() are BEGIN's (writer-open.ts). EVENT's scan
  // keeps the same steps written out: with these four calls in it, V8 inlined less of
  // its argument loop, and it took 1,761-1,852 ns per writer event in one process
  // against 1,638-1,777 (fastest of 15 rounds, both orders, four pairs).

  /**
   * `<id>	<id>	<log type>	<tv_created sec>	<usec>` at `pos` (what follows
   * the command of EVENT and BEGIN) into id1, id2, sec and usec: where the
   * items start, or -1.
   */
  protected head(b: Uint8Array, pos: number, end: number): number {
    const id1 = this.num(b, pos, end);
    if (id1 < 0 || this.numEnd >= end) return -1;
    const id2 = this.num(b, this.numEnd + 1, end);
    if (id2 < 0 || this.numEnd >= end) return -1;
    const lt = this.num(b, this.numEnd + 1, end);
    if (lt < 0 || lt >= LOG_TYPES || this.numEnd >= end) return -1;
    const sec = this.num(b, this.numEnd + 1, end);
    if (sec < 0) return -1;
    const p = this.numEnd + 1;
    const usec = p <= end ? this.num(b, p, end) : -1;
    if (usec < 0 || usec >= 1_000_000) return -1;
    this.id1 = id1;
    this.id2 = id2;
    this.sec = sec;
    this.usec = usec;
    return this.numEnd + 1;
  }

  /** The item `l<sec>	<usec>` at `pos` into sec and usec: where the next starts, or -1. */
  protected lastSent(b: Uint8Array, pos: number, end: number): number {
    const s = this.num(b, pos + 1, end);
    if (s < 0 || this.numEnd >= end) return -1;
    const u = this.num(b, this.numEnd + 1, end);
    if (u < 0 || u >= 1_000_000) return -1;
    this.sec = s;
    this.usec = u;
    return this.numEnd + 1;
  }

  /** The item `s<file>	<line>` whose first TAB is `tab`: where the next starts, or -1 (str_to_uint's range). */
  protected source(b: Uint8Array, tab: number, end: number): number {
    if (tab >= end) return -1;
    const ln = this.num(b, tab + 1, end);
    return ln < 0 || ln > UINT_MAX ? -1 : this.numEnd + 1;
  }

  /** The value at `pos` of an `I` field, or of a `T` field (`tv`: sec·10⁶ + usec): the number (ending at numEnd), or -1. */
  protected number(b: Uint8Array, pos: number, end: number, tv: boolean): number {
    const v = this.num(b, pos, end);
    if (v < 0 || !tv) return v;
    if (this.numEnd >= end) return -1;
    const u = this.num(b, this.numEnd + 1, end);
    return u < 0 || u >= 1_000_000 ? -1 : v * 1_000_000 + u;
  }

  /** The string of `len` bytes at `pos` (no escape in them), or null (invalid UTF-8). */
  protected str(b: Uint8Array, pos: number, len: number): string | null {
    const id = this.interner.lookup(b, pos, len);
    if (id >= 0) return this.interner.string(id);
    return id === -1 ? decodeUtf8(b, pos, len) : null;
  }
}
