/**
 * The fast path of the stats-writer lines that open and close a parent
 * event: BEGIN (a session, a mailbox: one per dozen events or so) and END.
 * Read straight from the bytes like EVENT (writer-scan.ts): no line string,
 * no array of arguments, keys and names through the interner, each string
 * value decoded once from its bytes (a session's values are mostly unique:
 * they are not interned).
 *
 * A BEGIN becomes the same OpenEvent the general parser makes
 * (writer-state.ts WriterConnection.begin), with the same field order, and
 * WriterConnection.openParsed checks and loads it. Anything off the common
 * path returns SCAN_SLOW before anything is changed, and the line goes the
 * general way: an escape, a NUL or a CR in the line, a string list or an IP
 * field, a negative or long number, bytes that are not UTF-8, an unknown
 * parent or category, a duplicate id, a cap reached. test/dovecot/writer.test.ts
 * holds both paths to the plain-object reference.
 */
import { decodeUtf8 } from '../event/intern.js';
import type { FieldValue, TallyEvent } from '../event/types.js';
import { LineBytes, SCAN_SLOW, startsWith, TAB } from './writer-bytes.js';
import { newOpenEvent, type OpenEvent, type WriterConnection } from './writer-state.js';

/** `BEGIN\t` */
const BEGIN_PREFIX = [0x42, 0x45, 0x47, 0x49, 0x4e, TAB];
/** `END\t` */
const END_PREFIX = [0x45, 0x4e, 0x44, TAB];

export function isBeginLine(buf: Uint8Array, start: number, end: number): boolean {
  return startsWith(buf, start, end, BEGIN_PREFIX);
}

export function isEndLine(buf: Uint8Array, start: number, end: number): boolean {
  return startsWith(buf, start, end, END_PREFIX);
}

export class OpenScanner extends LineBytes {
  /**
   * Opens the event of the BEGIN line `b[start, end)` (no LF) on `st`, and
   * loads it into `ev` as the metrics see it: LINE_EVENT_VALS (or what
   * openParsed answers), SCAN_SLOW when the general parser must take it.
   */
  begin(b: Buffer, start: number, end: number, st: WriterConnection, ev: TallyEvent): number {
    if (b[end - 1] === 0x0d) return SCAN_SLOW;
    this.view(b);
    let pos = this.head(b, start + BEGIN_PREFIX.length, end);
    if (pos < 0) return SCAN_SLOW;
    const id = this.id1;
    const pid = this.id2;
    let parent: OpenEvent | null = null;
    if (pid !== 0) {
      const p = st.open.get(pid);
      // a dropped or unknown parent: the general path counts or refuses it
      if (p === undefined) return SCAN_SLOW;
      parent = p;
    }
    if (id === 0 || st.open.has(id) || st.dropped.has(id)) return SCAN_SLOW;
    const e = newOpenEvent(parent, end - start);
    e.createdSec = this.sec;
    e.createdUsec = this.usec;
    const fields = e.fields;
    while (pos < end) {
      const tab = this.tab(b, pos, end);
      if (this.nul || this.escaped) return SCAN_SLOW;
      const code = b[pos] as number;
      switch (code) {
        case 0x63: {
          // c<category>: registered, once each
          const cat = this.str(b, pos + 1, tab - pos - 1);
          if (cat === null || !st.categories.has(cat)) return SCAN_SLOW;
          if (!e.categories.includes(cat)) e.categories.push(cat);
          pos = tab + 1;
          break;
        }
        case 0x6c: // l<sec>	<usec>
          pos = this.lastSent(b, pos, end);
          if (pos < 0) return SCAN_SLOW;
          e.lastSentSec = this.sec;
          e.lastSentUsec = this.usec;
          break;
        case 0x6e: {
          // n<name>
          const name = this.str(b, pos + 1, tab - pos - 1);
          if (name === null) return SCAN_SLOW;
          e.name = name;
          pos = tab + 1;
          break;
        }
        case 0x73: // s<file>	<line>
          pos = this.source(b, tab, end);
          if (pos < 0) return SCAN_SLOW;
          break;
        case 0x53: // S<key>	<string>
        case 0x49: // I<key>	<integer>
        case 0x54: {
          // T<key>	<sec>	<usec>
          const klen = tab - pos - 1;
          if (klen <= 0 || tab >= end) return SCAN_SLOW;
          const key = this.str(b, pos + 1, klen);
          if (key === null) return SCAN_SLOW;
          const vpos = tab + 1;
          let v: FieldValue;
          if (code === 0x53) {
            const vend = this.tab(b, vpos, end);
            if (this.nul || this.escaped) return SCAN_SLOW;
            const s = text(b, vpos, vend);
            if (s === null) return SCAN_SLOW;
            v = s;
            pos = vend + 1;
          } else {
            const n = this.number(b, vpos, end, code === 0x54);
            if (n < 0) return SCAN_SLOW;
            v = n;
            pos = this.numEnd + 1;
          }
          fields.set(key, v);
          break;
        }
        case 0x4c: // L<key>: string lists, and
        case 0x50: // P<key>: IP fields, the general way
          return SCAN_SLOW;
        default:
          // 'a', letters Dovecot does not know, empty arguments: skipped
          pos = tab + 1;
          break;
      }
    }
    return st.openParsed(id, e, ev);
  }

  /** Closes the event of the END line `b[start, end)` on `st`: true, or false (the general parser takes it). */
  end(b: Buffer, start: number, end: number, st: WriterConnection): boolean {
    const id = this.num(b, start + END_PREFIX.length, end);
    if (id < 0 || this.numEnd !== end) return false;
    return st.closeOpen(id);
  }
}

/** The text of `b[pos, end)`: ASCII the quick way; else null when it is not valid UTF-8 (the general path's U+FFFD rule words it). */
function text(b: Buffer, pos: number, end: number): string | null {
  for (let i = pos; i < end; i++) if ((b[i] as number) >= 0x80) return decodeUtf8(b, pos, end - pos);
  return b.toString('latin1', pos, end);
}
