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
  /** a view of the buffer being scanned (for tab()'s four-byte reads) */
  private dv: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
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

  /** The string of `len` bytes at `pos` (no escape in them), or null (invalid UTF-8). */
  protected str(b: Uint8Array, pos: number, len: number): string | null {
    const id = this.interner.lookup(b, pos, len);
    if (id >= 0) return this.interner.string(id);
    return id === -1 ? decodeUtf8(b, pos, len) : null;
  }
}
