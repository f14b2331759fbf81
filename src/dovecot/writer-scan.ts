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
import type { Interner } from '../event/intern.js';
import { keyIndexOf, type IngestPlan } from '../event/plan.js';
import type { FieldValue, TallyEvent } from '../event/types.js';
import { LineBytes, LOG_TYPES, SCAN_SLOW, startsWith, TAB, UINT_MAX } from './writer-bytes.js';
import { chainNegative, chainValue, type WriterConnection } from './writer-state.js';

/** `EVENT\t` */
const EVENT_PREFIX = [0x45, 0x56, 0x45, 0x4e, 0x54, TAB];

/** Whether `buf[start, end)` is an EVENT line. */
export function isEventLine(buf: Uint8Array, start: number, end: number): boolean {
  return startsWith(buf, start, end, EVENT_PREFIX);
}

export class WriterScanner extends LineBytes {
  private readonly vals: (FieldValue | null)[];
  /** plan key → the generation it was set in by the line's own fields */
  private readonly mark: Int32Array;
  private gen = 0;
  private readonly cats: string[] = [];
  private readonly ownCats: string[] = [];

  constructor(
    private readonly plan: IngestPlan,
    interner: Interner,
    vals: (FieldValue | null)[],
  ) {
    super(interner);
    this.vals = vals;
    this.mark = new Int32Array(plan.keys.length);
  }

  private slotOf(b: Uint8Array, pos: number, len: number): number {
    return keyIndexOf(this.plan, b, this.dv, pos, len);
  }

  /**
   * Loads the EVENT line `b[start, end)` (no LF) of connection `st` into `ev`
   * (ev.vals for the plan's keys, as loadVals does); SCAN_SLOW when the
   * general parser must take it.
   */
  scan(b: Buffer, start: number, end: number, st: WriterConnection, ev: TallyEvent): number {
    if (b[end - 1] === 0x0d) return SCAN_SLOW;
    this.view(b);
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
          // str_to_uint: a line number past 2^32 - 1 is an error (the general path words it)
          const ln = this.num(b, tab + 1, end);
          if (ln < 0 || ln > UINT_MAX) return SCAN_SLOW;
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
