/**
 * The fast path of a stats-writer EVENT line (the line nearly every event
 * arrives on): read straight from the bytes, like the msgpack scanner
 * (src/event/scan.ts). The arguments are found by their TABs; a field key is
 * matched against the ingest plan's keys as bytes, and only the values some
 * metric reads become values (strings through the byte-keyed interner); every
 * other argument is skipped. Nothing is allocated for a line on the common
 * path.
 *
 * Anything off that path returns SCAN_SLOW, and the line goes through the
 * general parser (writer-state.ts), which has every rule and error text:
 * an escape (\001) in a value read or in a key, a NUL or CR in the line, a
 * string list or IP field the metrics read, a negative number, an unknown
 * parent, an unregistered category, a malformed number, a parent chain with
 * a negative number. The property test of test/dovecot/writer.test.ts holds
 * both to Engine.ingest of the same events as plain objects.
 */
import { decodeUtf8, type Interner } from '../event/intern.js';
import { keyIndexOf, type IngestPlan } from '../event/plan.js';
import type { FieldValue, TallyEvent } from '../event/types.js';
import { chainNegative, chainValue, type WriterConnection } from './writer-state.js';

export const SCAN_SLOW = -1;

const TAB = 9;
const ESC = 1;
/** `EVENT\t` */
const EVENT_PREFIX = [0x45, 0x56, 0x45, 0x4e, 0x54, TAB];
/** LOG_TYPE_COUNT */
const LOG_TYPES = 6;
/** digits at most read as a number here (exact in a double) */
const MAX_DIGITS = 15;

/** Whether `buf[start, end)` is an EVENT line. */
export function isEventLine(buf: Uint8Array, start: number, end: number): boolean {
  if (end - start < EVENT_PREFIX.length) return false;
  for (let i = 0; i < EVENT_PREFIX.length; i++) if (buf[start + i] !== EVENT_PREFIX[i]) return false;
  return true;
}

export class WriterScanner {
  private readonly vals: (FieldValue | null)[];
  /** plan key → the generation it was set in by the line's own fields */
  private readonly mark: Int32Array;
  private gen = 0;
  private readonly cats: string[] = [];
  private readonly ownCats: string[] = [];
  /** where the last number ended (the TAB after it, or the line's end) */
  private numEnd = 0;
  /** the last `tab()` passed an escape (\001) */
  private escaped = false;
  /** the last `tab()` passed a NUL */
  private nul = false;
  /** a view of the buffer being scanned (for tab()'s four-byte reads) */
  private dv: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
  private dvOf: Uint8Array | null = null;

  constructor(
    private readonly plan: IngestPlan,
    private readonly interner: Interner,
    vals: (FieldValue | null)[],
  ) {
    this.vals = vals;
    this.mark = new Int32Array(plan.keys.length);
  }

  /** An unsigned decimal of at most MAX_DIGITS digits ending at a TAB or `end`, or -1. */
  private num(b: Uint8Array, pos: number, end: number): number {
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
  private tab(b: Uint8Array, pos: number, end: number): number {
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

  private slotOf(b: Uint8Array, pos: number, len: number): number {
    return keyIndexOf(this.plan, b, pos, len);
  }

  /** The string of `len` bytes at `pos` (no escape in them), or null (invalid UTF-8). */
  private str(b: Uint8Array, pos: number, len: number): string | null {
    const id = this.interner.lookup(b, pos, len);
    if (id >= 0) return this.interner.string(id);
    return id === -1 ? decodeUtf8(b, pos, len) : null;
  }

  /**
   * Loads the EVENT line `b[start, end)` (no LF) of connection `st` into `ev`
   * (ev.vals for the plan's keys, as loadVals does); SCAN_SLOW when the
   * general parser must take it.
   */
  scan(b: Buffer, start: number, end: number, st: WriterConnection, ev: TallyEvent): number {
    if (b[end - 1] === 0x0d) return SCAN_SLOW;
    if (b !== this.dvOf) {
      this.dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
      this.dvOf = b;
    }
    let pos = start + EVENT_PREFIX.length;
    const gid = this.num(b, pos, end);
    if (gid < 0 || this.numEnd >= end) return SCAN_SLOW;
    pos = this.numEnd + 1;
    const pid = this.num(b, pos, end);
    if (pid < 0 || this.numEnd >= end) return SCAN_SLOW;
    pos = this.numEnd + 1;
    const lt = this.num(b, pos, end);
    if (lt < 0 || lt >= LOG_TYPES || this.numEnd >= end) return SCAN_SLOW;
    pos = this.numEnd + 1;
    const global = gid === 0 ? null : st.open.get(gid);
    const parent = pid === 0 ? null : st.open.get(pid);
    if (global === undefined || parent === undefined) return SCAN_SLOW;
    if (chainNegative(null, parent, global)) return SCAN_SLOW;
    const createdSec = this.num(b, pos, end);
    if (createdSec < 0) return SCAN_SLOW;
    pos = this.numEnd + 1;
    const createdUsec = pos <= end ? this.num(b, pos, end) : -1;
    if (createdUsec < 0 || createdUsec >= 1_000_000) return SCAN_SLOW;
    pos = this.numEnd + 1;

    const gen = ++this.gen;
    const mark = this.mark;
    const vals = this.vals;
    const slots = this.plan.slots;
    const wantCats = this.plan.categories;
    const ownCats = this.ownCats;
    // (a count, not ownCats.length = 0: setting an array's length is a runtime call)
    let nOwn = 0;
    let name: string | null = null;
    let lastSec = 0;
    let lastUsec = 0;
    while (pos < end) {
      const tab = this.tab(b, pos, end);
      // a NUL ends a C string: the slow path cuts the line there
      if (this.nul) return SCAN_SLOW;
      const keyEscaped = this.escaped;
      const code = b[pos] as number;
      switch (code) {
        case 0x63: {
          // c<category>: must be registered on the connection
          const cat = keyEscaped ? null : this.str(b, pos + 1, tab - pos - 1);
          if (cat === null || !st.categories.has(cat)) return SCAN_SLOW;
          if (wantCats) {
            let k = 0;
            while (k < nOwn && ownCats[k] !== cat) k++;
            if (k === nOwn) ownCats[nOwn++] = cat;
          }
          pos = tab + 1;
          break;
        }
        case 0x6c: {
          // l<sec>	<usec>
          const s = this.num(b, pos + 1, end);
          if (s < 0 || this.numEnd >= end) return SCAN_SLOW;
          const u = this.num(b, this.numEnd + 1, end);
          if (u < 0 || u >= 1_000_000) return SCAN_SLOW;
          lastSec = s;
          lastUsec = u;
          pos = this.numEnd + 1;
          break;
        }
        case 0x6e: // n<name>
          name = keyEscaped ? null : this.str(b, pos + 1, tab - pos - 1);
          if (name === null) return SCAN_SLOW;
          pos = tab + 1;
          break;
        case 0x73: {
          // s<file>	<line>
          if (tab >= end) return SCAN_SLOW;
          if (this.num(b, tab + 1, end) < 0) return SCAN_SLOW;
          pos = this.numEnd + 1;
          break;
        }
        case 0x53: // S<key>	<string>
        case 0x49: // I<key>	<integer>
        case 0x54: {
          // T<key>	<sec>	<usec>
          const klen = tab - pos - 1;
          if (klen <= 0 || tab >= end || keyEscaped) return SCAN_SLOW;
          const slot = this.slotOf(b, pos + 1, klen);
          const vpos = tab + 1;
          if (code === 0x53) {
            const vend = this.tab(b, vpos, end);
            if (this.nul) return SCAN_SLOW;
            if (slot >= 0) {
              const v = this.escaped ? null : this.str(b, vpos, vend - vpos);
              if (v === null) return SCAN_SLOW;
              vals[slots[slot] as number] = v;
              mark[slot] = gen;
            }
            pos = vend + 1;
          } else {
            let v = this.num(b, vpos, end);
            if (v < 0) return SCAN_SLOW;
            if (code === 0x54) {
              if (this.numEnd >= end) return SCAN_SLOW;
              const u = this.num(b, this.numEnd + 1, end);
              if (u < 0 || u >= 1_000_000) return SCAN_SLOW;
              v = v * 1_000_000 + u;
            }
            if (slot >= 0) {
              vals[slots[slot] as number] = v;
              mark[slot] = gen;
            }
            pos = this.numEnd + 1;
          }
          break;
        }
        case 0x4c: {
          // L<key>	<count>	<v>…: skipped unless a metric reads it (then the slow path merges lists)
          const klen = tab - pos - 1;
          if (klen <= 0 || tab >= end || keyEscaped || this.slotOf(b, pos + 1, klen) >= 0) return SCAN_SLOW;
          const count = this.num(b, tab + 1, end);
          if (count < 0) return SCAN_SLOW;
          pos = this.numEnd + 1;
          for (let i = 0; i < count; i++) {
            if (pos > end) return SCAN_SLOW;
            const t = this.tab(b, pos, end);
            if (this.nul) return SCAN_SLOW;
            pos = t + 1;
          }
          if (pos > end + 1) return SCAN_SLOW;
          break;
        }
        case 0x50: // P<key>	<ip>: validated by the slow path
          return SCAN_SLOW;
        default:
          // 'a', letters Dovecot does not know, empty arguments: skipped
          pos = tab + 1;
          break;
      }
    }
    // the metrics' keys the line itself does not carry: from its parents, then the global event's chain
    const keys = this.plan.keys;
    let duration = 0;
    if (lastSec !== 0) {
      duration = (lastSec - createdSec) * 1_000_000 + (lastUsec - createdUsec);
      if (duration < 0) return SCAN_SLOW;
    }
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i] as string;
      // `duration` is the event's own, whatever field of that name it has
      if (k === 'duration') vals[slots[i] as number] = duration;
      else if (mark[i] !== gen) vals[slots[i] as number] = chainValue(k, parent, global);
    }
    if (wantCats) {
      const cats = this.cats;
      ownCats.length = nOwn;
      st.chainCategories(ownCats, parent, global, cats);
      ev.categories = cats.length === 0 ? undefined : cats;
    } else ev.categories = undefined;
    ev.name = name ?? '';
    ev.fields = undefined;
    // a writer event has no hostname (docs/dovecot-sockets.md)
    ev.hostname = undefined;
    ev.duration = duration;
    ev.negative = false;
    return 0;
  }
}
