/**
 * On-demand msgpack decoding of events (the idea of simdjson's On Demand):
 * one walk over an event's map, straight from the batch's bytes. Key bytes
 * are matched against the ingest plan without making key strings; a value
 * the plan reads becomes a number, or a string from the byte-keyed intern
 * table (a JS string is made only the first time those bytes are seen);
 * every other value is checked for its type and skipped by its length.
 *
 * The result is exactly what msgpackr + loadEvent (validate.ts) give for the
 * same bytes: the batch was checked by scanMsgpack first (complete, plain),
 * and anything off the common path — a value that would be rejected, a
 * duplicate `fields` or `categories`, a non-string key, a string that is not
 * valid UTF-8, `__proto__` — answers SLOW, and the caller decodes that one
 * event the general way (which also words the rejection).
 */
import { Interner, NOT_INTERNED, decodeUtf8 } from './intern.js';
import { keyIndexOf, type IngestPlan } from './plan.js';
import type { FieldValue, TallyEvent } from './types.js';

/** `load` answers: the event is in `ev`, or decode it the general way. */
export const SCAN_OK = 0;
export const SCAN_SLOW = 1;
/**
 * An unchecked batch (`begin(limit, false)`) holds something the scanner
 * does not verify itself (a value past the end, a container or an extension
 * where a value is skipped, anything SLOW): check the batch with
 * scanMsgpack, then scan it again checked.
 */
export const SCAN_BAD = 2;

const NONE = 0;
const NIL = 1;
const SET = 2;

function strLen(b: Uint8Array, pos: number, t: number): number {
  if (t === 0xd9) return b[pos + 1] as number;
  if (t === 0xda) return ((b[pos + 1] as number) << 8) | (b[pos + 2] as number);
  return (b[pos + 1] as number) * 0x1000000 + (((b[pos + 2] as number) << 16) | ((b[pos + 3] as number) << 8) | (b[pos + 4] as number));
}

/**
 * Bytes of the header that the last mapLen / arrayLen call read
 * (one scanner per thread, so one scratch value serves them all).
 */
let head = 0;

/** Header bytes of a string by its type byte: 1 (fixstr), 2, 3 or 5 (str 8/16/32); 0: not a string. */
const STR_HEAD = new Uint8Array(256);
for (let t = 0xa0; t <= 0xbf; t++) STR_HEAD[t] = 1;
STR_HEAD[0xd9] = 2;
STR_HEAD[0xda] = 3;
STR_HEAD[0xdb] = 5;

/** Entries of the map whose type byte `t` is at `pos`, or -1 when it is not a map; sets `head`. */
function mapLen(b: Uint8Array, pos: number, t: number): number {
  if (t >= 0x80 && t <= 0x8f) {
    head = 1;
    return t & 0x0f;
  }
  if (t === 0xde) {
    head = 3;
    return ((b[pos + 1] as number) << 8) | (b[pos + 2] as number);
  }
  if (t === 0xdf) {
    head = 5;
    return strLen(b, pos, 0xdb);
  }
  return -1;
}

/** Elements of the array whose type byte `t` is at `pos`, or -1 when it is not an array; sets `head`. */
export function arrayLen(b: Uint8Array, pos: number, t: number): number {
  if (t >= 0x90 && t <= 0x9f) {
    head = 1;
    return t & 0x0f;
  }
  if (t === 0xdc) {
    head = 3;
    return ((b[pos + 1] as number) << 8) | (b[pos + 2] as number);
  }
  if (t === 0xdd) {
    head = 5;
    return strLen(b, pos, 0xdb);
  }
  return -1;
}

/** The header bytes of the value arrayLen last read. */
export function lastHead(): number {
  return head;
}

/** The end of the (complete, checked) value at `pos`. */
export function skipValue(b: Uint8Array, pos: number): number {
  let todo = 1;
  while (todo > 0) {
    todo--;
    const t = b[pos] as number;
    if (t <= 0x7f || t >= 0xe0) pos++;
    else if (t <= 0x8f) {
      todo += (t & 0x0f) * 2;
      pos++;
    } else if (t <= 0x9f) {
      todo += t & 0x0f;
      pos++;
    } else if (t <= 0xbf) pos += 1 + (t & 0x1f);
    else {
      switch (t) {
        case 0xc4:
        case 0xd9:
          pos += 2 + (b[pos + 1] as number);
          break;
        case 0xc5:
        case 0xda:
          pos += 3 + (((b[pos + 1] as number) << 8) | (b[pos + 2] as number));
          break;
        case 0xc6:
        case 0xdb:
          pos += 5 + strLen(b, pos, 0xdb);
          break;
        case 0xc7:
          pos += 3 + (b[pos + 1] as number);
          break;
        case 0xc8:
          pos += 4 + (((b[pos + 1] as number) << 8) | (b[pos + 2] as number));
          break;
        case 0xc9:
          pos += 6 + strLen(b, pos, 0xdb);
          break;
        case 0xca:
        case 0xce:
        case 0xd2:
          pos += 5;
          break;
        case 0xcb:
        case 0xcf:
        case 0xd3:
          pos += 9;
          break;
        case 0xcc:
        case 0xd0:
          pos += 2;
          break;
        case 0xcd:
        case 0xd1:
          pos += 3;
          break;
        case 0xd4:
          pos += 3;
          break;
        case 0xd5:
          pos += 4;
          break;
        case 0xd6:
          pos += 6;
          break;
        case 0xd7:
          pos += 10;
          break;
        case 0xd8:
          pos += 18;
          break;
        case 0xdc:
          todo += ((b[pos + 1] as number) << 8) | (b[pos + 2] as number);
          pos += 3;
          break;
        case 0xdd:
          todo += strLen(b, pos, 0xdb);
          pos += 5;
          break;
        case 0xde:
          todo += 2 * (((b[pos + 1] as number) << 8) | (b[pos + 2] as number));
          pos += 3;
          break;
        case 0xdf:
          todo += 2 * strLen(b, pos, 0xdb);
          pos += 5;
          break;
        default:
          pos++; // nil, booleans (0xc1 never passes the structural check)
      }
    }
  }
  return pos;
}

/**
 * The end of the scalar at `pos` (a string, binary, number, nil or boolean),
 * or -1 for anything else (a container, an extension, 0xc1): how an
 * unchecked scan skips a value. The end may lie past the batch: the caller
 * checks it.
 */
function skipScalar(b: Uint8Array, pos: number): number {
  const t = b[pos] as number;
  if (t <= 0x7f || t >= 0xe0) return pos + 1;
  if (t >= 0xa0 && t <= 0xbf) return pos + 1 + (t & 0x1f);
  if (t >= 0xca && t <= 0xd3) return pos + (NUM_SIZE[t] as number);
  switch (t) {
    case 0xc0:
    case 0xc2:
    case 0xc3:
      return pos + 1;
    case 0xc4:
    case 0xd9:
      return pos + 2 + (b[pos + 1] as number);
    case 0xc5:
    case 0xda:
      return pos + 3 + (((b[pos + 1] as number) << 8) | (b[pos + 2] as number));
    case 0xc6:
    case 0xdb:
      return pos + 5 + strLen(b, pos, 0xdb);
    default:
      return -1;
  }
}

/** The number at `pos` (the caller checked that type byte `t` is one). */
function readNum(b: Uint8Array, dv: DataView, pos: number, t: number): number {
  if (t <= 0x7f) return t;
  if (t >= 0xe0) return t - 0x100;
  switch (t) {
    case 0xca:
      return dv.getFloat32(pos + 1);
    case 0xcb:
      return dv.getFloat64(pos + 1);
    case 0xcc:
      return b[pos + 1] as number;
    case 0xcd:
      return dv.getUint16(pos + 1);
    case 0xce:
      return dv.getUint32(pos + 1);
    case 0xcf:
      return dv.getUint32(pos + 1) * 4294967296 + dv.getUint32(pos + 5);
    case 0xd0:
      return dv.getInt8(pos + 1);
    case 0xd1:
      return dv.getInt16(pos + 1);
    case 0xd2:
      return dv.getInt32(pos + 1);
    default:
      return dv.getInt32(pos + 1) * 4294967296 + dv.getUint32(pos + 5);
  }
}

const NUM_SIZE = new Uint8Array(256);
for (let t = 0; t < 256; t++) NUM_SIZE[t] = 1;
for (const [t, n] of [[0xca, 5], [0xcb, 9], [0xcc, 2], [0xcd, 3], [0xce, 5], [0xcf, 9], [0xd0, 2], [0xd1, 3], [0xd2, 5], [0xd3, 9]] as const) {
  NUM_SIZE[t] = n;
}

// keys the scanner knows, as the big-endian 32-bit words a DataView reads
// ("even", "fiel" ...): a key is compared four bytes at a time
const W_EVEN = 0x6576656e; // "even" + "t"
const W_NAME = 0x6e616d65; // "name"
const W_FIEL = 0x6669656c; // "fiel" + "ds"
const H_DS = 0x6473;
const W_DURA = 0x64757261; // "dura" + "tion"
const W_TION = 0x74696f6e;
const W_HOST = 0x686f7374; // "host" + "name"
const W_CATE = 0x63617465; // "cate" + "gori" + "es"
const W_GORI = 0x676f7269;
const H_ES = 0x6573;
const W___PR = 0x5f5f7072; // "__pr" + "oto_" + "_"
const W_OTO_ = 0x6f746f5f;

/** Whether the 8 key bytes at `pos` are "duration". */
function isDuration(dv: DataView, pos: number): boolean {
  return dv.getInt32(pos) === W_DURA && dv.getInt32(pos + 4) === W_TION;
}

/** Whether the 9 key bytes at `pos` are "__proto__". */
function isProto(b: Uint8Array, dv: DataView, pos: number): boolean {
  return dv.getInt32(pos) === W___PR && dv.getInt32(pos + 4) === W_OTO_ && b[pos + 8] === 0x5f;
}

/** `fields` and its helpers' answers besides a position: the general path decides, or check the batch first */
const F_SLOW = -1;
const F_BAD = -2;

const TOP_OTHER = 0;
const TOP_EVENT = 1;
const TOP_NAME = 2;
const TOP_DURATION = 3;
const TOP_CATEGORIES = 4;
const TOP_FIELDS = 5;
const TOP_HOSTNAME = 6;

/** Which top-level key the `len` bytes at `pos` are (`dv`: a view of `b`). */
function topKey(b: Uint8Array, dv: DataView, pos: number, len: number): number {
  switch (len) {
    case 4:
      return dv.getInt32(pos) === W_NAME ? TOP_NAME : TOP_OTHER;
    case 5:
      return dv.getInt32(pos) === W_EVEN && b[pos + 4] === 0x74 ? TOP_EVENT : TOP_OTHER;
    case 6:
      return dv.getInt32(pos) === W_FIEL && dv.getUint16(pos + 4) === H_DS ? TOP_FIELDS : TOP_OTHER;
    case 8:
      if (isDuration(dv, pos)) return TOP_DURATION;
      return dv.getInt32(pos) === W_HOST && dv.getInt32(pos + 4) === W_NAME ? TOP_HOSTNAME : TOP_OTHER;
    case 10:
      return dv.getInt32(pos) === W_CATE && dv.getInt32(pos + 4) === W_GORI && dv.getUint16(pos + 8) === H_ES ? TOP_CATEGORIES : TOP_OTHER;
    default:
      return TOP_OTHER;
  }
}

/** A value of type `string` from the intern table, decoded when it is full; null: not valid UTF-8. */
function stringAt(interner: Interner, b: Uint8Array, pos: number, len: number): string | null {
  const id = interner.lookup(b, pos, len);
  if (id >= 0) return interner.string(id);
  if (id === NOT_INTERNED) return decodeUtf8(b, pos, len);
  return null; // INVALID_UTF8
}

export class EventScanner {
  private readonly plan: IngestPlan;
  private readonly interner: Interner;
  /** TallyEvent.vals of the events loaded (the engine's, one array) */
  private vals: (FieldValue | null)[];
  /** the categories array, reused (when the plan reads categories) */
  private readonly cats: string[];
  /** plan keys set in the current event (each once: `mark[key] === gen`) */
  private readonly setSlots: Int32Array;
  private readonly mark: Int32Array;
  private gen: number;
  private nSet: number;
  private allSet: boolean;
  /** end of the value `load` looked at */
  end: number;
  /** the field `duration` of the event being loaded, and whether it was there (NONE, NIL, SET) */
  private dField = 0;
  private dFieldState = NONE;
  /** the name of the last event loaded (it has no U+FFFD) */
  private lastName = '';
  /** the end of the batch being scanned, and whether scanMsgpack checked it (begin) */
  private limit: number;
  private checked: boolean;

  constructor(plan: IngestPlan, interner: Interner) {
    this.plan = plan;
    this.interner = interner;
    this.vals = [];
    this.cats = [];
    this.setSlots = new Int32Array(plan.keys.length);
    this.mark = new Int32Array(plan.keys.length);
    this.gen = 1;
    this.nSet = 0;
    this.allSet = true;
    this.end = 0;
    this.limit = 0;
    this.checked = true;
  }

  /**
   * The batch about to be scanned ends at `limit`; `checked`: scanMsgpack
   * accepted it. Unchecked, `load` verifies every length it follows against
   * `limit` itself and answers SCAN_BAD (never SLOW) for whatever it does
   * not verify: only events of the common path are read that way.
   */
  begin(limit: number, checked: boolean): void {
    this.limit = limit;
    this.checked = checked;
  }

  /** Someone else wrote ev.vals (the general path): the next load clears every plan slot. */
  touchedAll(): void {
    this.allSet = true;
  }

  private clearSlots(): void {
    const vals = this.vals;
    const slots = this.plan.slots;
    if (this.allSet) {
      for (let i = 0; i < slots.length; i++) vals[slots[i] as number] = null;
      this.allSet = false;
      this.nSet = 0;
    }
    for (let i = 0; i < this.nSet; i++) vals[slots[this.setSlots[i] as number] as number] = null;
    this.nSet = 0;
    this.gen = (this.gen + 1) | 0;
  }

  private put(slot: number, v: FieldValue | null): void {
    this.vals[this.plan.slots[slot] as number] = v;
    if (this.mark[slot] !== this.gen) {
      this.mark[slot] = this.gen;
      this.setSlots[this.nSet++] = slot;
    }
  }

  /**
   * Loads the event whose value starts at `pos` into `ev`; sets `end` to
   * where the value ends. SCAN_SLOW leaves `ev` unspecified.
   *
   * The walk over `fields` (most of an event's keys) is a method of its own,
   * and the type checks are written out where they are made: V8 inlines
   * callees into one function up to a budget of bytecode, and `load` in one
   * piece spent it before the calls made per key (the scanner took about
   * 790 ns per Dovecot event then, 610 ns with the budget raised).
   */
  load(b: Uint8Array, dv: DataView, pos: number, ev: TallyEvent): number {
    if (this.vals !== ev.vals) {
      this.vals = ev.vals as (FieldValue | null)[];
      this.allSet = true;
    }
    this.clearSlots();
    // unchecked, every length followed is verified against lim (checked: nothing can run past the end)
    const lim = this.checked ? Infinity : this.limit;
    const t0 = b[pos] as number;
    let n: number;
    if (t0 >= 0x80 && t0 <= 0x8f) {
      n = t0 & 0x0f;
      pos++;
    } else {
      n = mapLen(b, pos, t0);
      if (n < 0) {
        if (!this.checked) return SCAN_BAD;
        this.end = skipValue(b, pos);
        return SCAN_SLOW;
      }
      pos += head;
    }
    if (!(pos + 2 * n <= lim)) return SCAN_BAD;
    let name: string | null = null;
    let nameState = NONE;
    let alias: string | null = null;
    let aliasState = NONE;
    let dTop = 0;
    let dTopState = NONE;
    let catsState = NONE;
    let fieldsSeen = false;
    this.dFieldState = NONE;
    /** the top-level hostname (the last one: msgpackr keeps the last of duplicate keys); null: none or not a string */
    let host: string | null = null;
    const hostKey = this.plan.hostname;
    const wantCats = this.plan.categories;
    for (let i = 0; i < n; i++) {
      const kt = b[pos] as number;
      const kh = STR_HEAD[kt] as number;
      if (kh === 0) return this.slow(b, n - i, pos);
      const klen = kh === 1 ? kt & 0x1f : strLen(b, pos, kt);
      const kpos = pos + kh;
      pos = kpos + klen;
      if (!(pos < lim)) return SCAN_BAD;
      const t = b[pos] as number;
      const key = topKey(b, dv, kpos, klen);
      if (key === TOP_FIELDS) {
        if (fieldsSeen) return this.slow(b, n - i, kpos - kh);
        fieldsSeen = true;
        if (t === 0xc0) {
          pos++;
          continue;
        }
        const e = this.fields(b, dv, pos, t, lim);
        if (e < 0) return e === F_BAD ? SCAN_BAD : this.slow(b, n - i, kpos - kh);
        pos = e;
      } else if (key === TOP_EVENT || key === TOP_NAME) {
        let state = NIL;
        let s: string | null = null;
        if (t === 0xc0) pos++;
        else {
          const h = STR_HEAD[t] as number;
          if (h === 0) return this.slow(b, n - i, kpos - kh);
          const len = h === 1 ? t & 0x1f : strLen(b, pos, t);
          if (!(pos + h + len <= lim)) return SCAN_BAD;
          s = stringAt(this.interner, b, pos + h, len);
          if (s === null) return this.slow(b, n - i, kpos - kh);
          state = SET;
          pos += h + len;
        }
        if (key === TOP_EVENT) {
          name = s;
          nameState = state;
        } else {
          alias = s;
          aliasState = state;
        }
      } else if (key === TOP_DURATION) {
        if (t === 0xc0) {
          dTopState = NIL;
          pos++;
        } else if (t <= 0x7f || t >= 0xe0 || (t >= 0xca && t <= 0xd3)) {
          if (!(pos + (NUM_SIZE[t] as number) <= lim)) return SCAN_BAD;
          dTop = readNum(b, dv, pos, t);
          if (!Number.isFinite(dTop)) return this.slow(b, n - i, kpos - kh);
          dTopState = SET;
          pos += NUM_SIZE[t] as number;
        } else return this.slow(b, n - i, kpos - kh);
      } else if (key === TOP_CATEGORIES) {
        if (catsState !== NONE) return this.slow(b, n - i, kpos - kh);
        if (t === 0xc0) {
          catsState = NIL;
          pos++;
          continue;
        }
        const e = this.categories(b, pos, t, lim, wantCats);
        if (e < 0) return e === F_BAD ? SCAN_BAD : this.slow(b, n - i, kpos - kh);
        pos = e;
        catsState = SET;
      } else if (key === TOP_HOSTNAME && hostKey >= 0) {
        const h = STR_HEAD[t] as number;
        if (h !== 0) {
          const len = h === 1 ? t & 0x1f : strLen(b, pos, t);
          if (!(pos + h + len <= lim)) return SCAN_BAD;
          host = stringAt(this.interner, b, pos + h, len);
          if (host === null) return this.slow(b, n - i, kpos - kh);
          pos += h + len;
        } else {
          host = null;
          pos = this.skip(b, pos);
          if (!(pos <= lim)) return SCAN_BAD;
        }
      } else {
        pos = this.skip(b, pos);
        if (!(pos <= lim)) return SCAN_BAD;
      }
    }
    this.end = pos;
    let evName: string;
    if (nameState === SET) evName = name as string;
    else if (aliasState === SET) evName = alias as string;
    else return this.checked ? SCAN_SLOW : SCAN_BAD; // missing name: the general path words it
    // (the same name as the last event's, an interned string: checked then)
    if (evName !== this.lastName) {
      if (evName.indexOf('\uFFFD') !== -1) return this.checked ? SCAN_SLOW : SCAN_BAD;
      this.lastName = evName;
    }
    const d = dTopState === SET ? dTop : this.dFieldState === SET ? this.dField : 0;
    ev.name = evName;
    ev.categories = catsState === SET && wantCats ? this.cats : undefined;
    ev.fields = undefined;
    ev.hostname = host ?? undefined;
    // field hostname without a value: the top-level one
    if (host !== null && this.vals[this.plan.slots[hostKey] as number] === null) this.put(hostKey, host);
    ev.duration = Math.round(d);
    ev.negative = d < 0;
    return SCAN_OK;
  }

  /**
   * The `fields` map whose type byte `t` is at `pos`: every key matched
   * against the plan, its value read into its slot or skipped. Returns the
   * map's end, F_SLOW (the general path decides the event) or F_BAD (an
   * unchecked batch must be checked first). Sets dField / dFieldState.
   */
  private fields(b: Uint8Array, dv: DataView, pos: number, t: number, lim: number): number {
    let m: number;
    if (t >= 0x80 && t <= 0x8f) {
      m = t & 0x0f;
      pos++;
    } else {
      m = mapLen(b, pos, t);
      if (m < 0) return F_SLOW;
      pos += head;
    }
    if (!(pos + 2 * m <= lim)) return F_BAD;
    const plan = this.plan;
    const firstOf = plan.firstOf;
    const maxLen = plan.maxLen;
    for (let j = 0; j < m; j++) {
      const ft = b[pos] as number;
      const fh = STR_HEAD[ft] as number;
      if (fh === 0) return F_SLOW;
      const flen = fh === 1 ? ft & 0x1f : strLen(b, pos, ft);
      const fpos = pos + fh;
      if (!(fpos + flen < lim)) return F_BAD;
      const f0 = flen > 0 ? (b[fpos] as number) : 0;
      // most keys are no plan key's length and first byte: one table read says so
      const slot = flen <= maxLen && firstOf[(flen << 8) | f0] !== 0 ? keyIndexOf(plan, b, dv, fpos, flen) : -1;
      if (flen === 9 && f0 === 0x5f && isProto(b, dv, fpos)) return F_SLOW;
      const isDur = flen === 8 && f0 === 0x64 && isDuration(dv, fpos);
      pos = fpos + flen;
      const vt = b[pos] as number;
      const vh = STR_HEAD[vt] as number;
      if (vh !== 0) {
        if (isDur) return F_SLOW;
        const len = vh === 1 ? vt & 0x1f : vh === 2 ? (b[pos + 1] as number) : strLen(b, pos, vt);
        if (!(pos + vh + len <= lim)) return F_BAD;
        if (slot >= 0) {
          const s = stringAt(this.interner, b, pos + vh, len);
          if (s === null) return F_SLOW;
          this.put(slot, s);
        }
        pos += vh + len;
      } else if (vt === 0xc0) {
        if (slot >= 0) this.put(slot, null);
        if (isDur) this.dFieldState = NIL;
        pos++;
      } else if (slot < 0 && !isDur && (vt <= 0x7f || (vt >= 0xcc && vt <= 0xcf))) {
        // a non-negative integer nobody reads: finite and not negative, skipped by its size
        pos += NUM_SIZE[vt] as number;
        if (!(pos <= lim)) return F_BAD;
      } else if (vt <= 0x7f || vt >= 0xe0 || (vt >= 0xca && vt <= 0xd3)) {
        if (!(pos + (NUM_SIZE[vt] as number) <= lim)) return F_BAD;
        const v = readNum(b, dv, pos, vt);
        // a negative field counts only if no later duplicate key replaces it: the general path decides
        if (!Number.isFinite(v) || v < 0) return F_SLOW;
        if (slot >= 0) this.put(slot, v);
        if (isDur) {
          this.dField = v;
          this.dFieldState = SET;
        }
        pos += NUM_SIZE[vt] as number;
      } else {
        // a string list, or a value loadEvent rejects
        if (isDur) return F_SLOW;
        pos = this.stringList(b, pos, vt, lim, slot);
        if (pos < 0) return pos;
      }
    }
    return pos;
  }

  /** A field's string list at `pos` (type byte `vt`) into `slot` (-1: read by nobody, only checked); its end, F_SLOW or F_BAD. */
  private stringList(b: Uint8Array, pos: number, vt: number, lim: number, slot: number): number {
    const m = arrayLen(b, pos, vt);
    if (m < 0) return F_SLOW;
    pos += head;
    if (!(pos + m <= lim)) return F_BAD;
    const list: string[] | null = slot >= 0 ? [] : null;
    for (let e = 0; e < m; e++) {
      const et = b[pos] as number;
      const h = STR_HEAD[et] as number;
      if (h === 0) return F_SLOW;
      const len = h === 1 ? et & 0x1f : strLen(b, pos, et);
      if (!(pos + h + len <= lim)) return F_BAD;
      if (list !== null) {
        const s = stringAt(this.interner, b, pos + h, len);
        if (s === null) return F_SLOW;
        list.push(s);
      }
      pos += h + len;
    }
    if (slot >= 0) this.put(slot, list);
    return pos;
  }

  /**
   * The top-level categories list at `pos` (type byte `t`), kept in this.cats
   * when `want`; its end, F_SLOW or F_BAD. The same walk as stringList, kept
   * apart: one shared method under both cost the scan about 5 % per event
   * (fastest of 30 rounds in two alternating pairs: 693 and 693 ns against
   * 730 and 750), V8 no longer inlining it.
   */
  private categories(b: Uint8Array, pos: number, t: number, lim: number, want: boolean): number {
    const m = arrayLen(b, pos, t);
    if (m < 0) return F_SLOW;
    pos += head;
    if (!(pos + m <= lim)) return F_BAD;
    const cats = this.cats;
    if (want) cats.length = 0;
    for (let j = 0; j < m; j++) {
      const et = b[pos] as number;
      const h = STR_HEAD[et] as number;
      if (h === 0) return F_SLOW;
      const len = h === 1 ? et & 0x1f : strLen(b, pos, et);
      if (!(pos + h + len <= lim)) return F_BAD;
      if (want) {
        const s = stringAt(this.interner, b, pos + h, len);
        if (s === null) return F_SLOW;
        cats.push(s);
      }
      pos += h + len;
    }
    return pos;
  }

  /** The end of a value nobody reads: any value when checked, else a scalar (-1 for anything else). */
  private skip(b: Uint8Array, pos: number): number {
    if (this.checked) return skipValue(b, pos);
    const e = skipScalar(b, pos);
    return e < 0 ? Infinity : e;
  }

  /** Gives up on the event: `left` map entries remain from the key at `pos` (unchecked: the batch is checked first). */
  private slow(b: Uint8Array, left: number, pos: number): number {
    if (!this.checked) return SCAN_BAD;
    for (let i = 0; i < left; i++) pos = skipValue(b, skipValue(b, pos));
    this.end = pos;
    return SCAN_SLOW;
  }
}
