/**
 * A byte-keyed intern table: the UTF-8 bytes of a string value → one JS
 * string, made the first time those bytes are seen. Repeated values (command
 * names, reply states, users, hosts) cost a hash and a compare, no
 * allocation. Bounded: past MAX_ENTRIES or MAX_ARENA bytes, `lookup` answers
 * NOT_INTERNED and the caller decodes the value itself.
 */

/** answer of `lookup` for bytes that are not valid UTF-8 */
export const INVALID_UTF8 = -2;
/** answer of `lookup` when the table is full (the caller decodes) */
export const NOT_INTERNED = -1;

const MAX_ENTRIES = 1 << 16;
const MAX_ARENA = 4 << 20;
/** values longer than this are never interned (long values rarely repeat) */
export const MAX_INTERNED_BYTES = 256;
/** entries of the front cache (a power of 2) */
const FRONT_SIZE = 1024;

// ignoreBOM: a leading U+FEFF is part of the value, as every msgpack decoder reads it
const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The value as a string, or null when it is not valid UTF-8. */
export function decodeUtf8(b: Uint8Array, pos: number, len: number): string | null {
  try {
    return strict.decode(b.subarray(pos, pos + len));
  } catch {
    return null;
  }
}

/**
 * The engine's own copy of `s` (V8 internalizes property names): comparing
 * two such strings, as a filter compares an event's name with its own, is a
 * pointer compare instead of a compare of their characters.
 */
export function internalize<T extends string | null>(s: T): T {
  return s === null ? s : (Object.keys({ [s]: 0 })[0] as T);
}

export class Interner {
  /** open addressing: entry id + 1, 0 = empty; size a power of 2 */
  private slots: Int32Array;
  private mask: number;
  private hashes: Int32Array;
  private offs: Int32Array;
  private lens: Int32Array;
  private arena: Uint8Array;
  private arenaUsed: number;
  /** the strings by entry id (null: not valid UTF-8) */
  private strs: (string | null)[];
  /**
   * A direct-mapped cache in front of the hash table, by length, first and
   * last byte: entry id + 1 of the value last found there (0: none). A hit
   * costs one compare of the bytes and no hash; a miss goes to the table.
   */
  private readonly front: Int32Array;
  /** views for four-byte compares: of the arena, and of the last buffer looked up in */
  private arenaView: DataView;
  private view: DataView;
  private viewOf: Uint8Array | null;
  size: number;

  constructor() {
    this.slots = new Int32Array(1024);
    this.mask = 1023;
    this.hashes = new Int32Array(512);
    this.offs = new Int32Array(512);
    this.lens = new Int32Array(512);
    this.arena = new Uint8Array(16 * 1024);
    this.arenaUsed = 0;
    this.strs = [];
    this.front = new Int32Array(FRONT_SIZE);
    this.arenaView = new DataView(this.arena.buffer);
    this.view = this.arenaView;
    this.viewOf = null;
    this.size = 0;
  }

  /**
   * The entry id of `len` bytes at `pos` (interning them on first sight),
   * INVALID_UTF8, or NOT_INTERNED (too long, or the table is full: the caller
   * decodes the bytes itself). Read the string with `string(id)`.
   */
  lookup(b: Uint8Array, pos: number, len: number): number {
    // long values rarely repeat: the caller decodes them (and finds invalid UTF-8 then)
    if (len > MAX_INTERNED_BYTES) return NOT_INTERNED;
    const f = len === 0 ? 0 : ((len << 5) ^ (b[pos] as number) ^ ((b[pos + len - 1] as number) << 2)) & (FRONT_SIZE - 1);
    const fe = (this.front[f] as number) - 1;
    if (fe >= 0 && this.lens[fe] === len) {
      // (the compare written out: lookup is inlined into the scanner, and its callees would not be)
      const o = this.offs[fe] as number;
      let same: boolean;
      if (len < 4) {
        const a = this.arena;
        let i = 0;
        while (i < len && a[o + i] === b[pos + i]) i++;
        same = i === len;
      } else {
        // four bytes at a time, the last word overlapping (a byte loop was most of a hit's cost)
        if (b !== this.viewOf) {
          this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
          this.viewOf = b;
        }
        const v = this.view;
        const av = this.arenaView;
        let i = 0;
        while (i + 4 <= len && v.getInt32(pos + i) === av.getInt32(o + i)) i += 4;
        same = i >= len || (i + 4 > len && v.getInt32(pos + len - 4) === av.getInt32(o + len - 4));
      }
      if (same) return this.strs[fe] === null ? INVALID_UTF8 : fe;
    }
    return this.miss(b, pos, len, f);
  }

  /** lookup past the front cache (kept out of lookup, so that lookup is small enough for V8 to inline) */
  private miss(b: Uint8Array, pos: number, len: number, f: number): number {
    const e = this.find(b, pos, len);
    if (e >= 0) this.front[f] = e + 1;
    return e;
  }

  /** lookup through the hash table */
  private find(b: Uint8Array, pos: number, len: number): number {
    let h = 0x811c9dc5 ^ len;
    for (let i = 0; i < len; i++) h = Math.imul(h ^ (b[pos + i] as number), 0x01000193);
    const mask = this.mask;
    const slots = this.slots;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const e = (slots[s] as number) - 1;
      if (e < 0) return this.add(b, pos, len, h, s);
      if (this.hashes[e] === h && this.lens[e] === len && this.same(e, b, pos, len)) {
        return this.strs[e] === null ? INVALID_UTF8 : e;
      }
    }
  }

  string(id: number): string {
    return this.strs[id] as string;
  }

  private same(e: number, b: Uint8Array, pos: number, len: number): boolean {
    const a = this.arena;
    const o = this.offs[e] as number;
    for (let i = 0; i < len; i++) if (a[o + i] !== b[pos + i]) return false;
    return true;
  }

  private add(b: Uint8Array, pos: number, len: number, h: number, slot: number): number {
    if (this.size >= MAX_ENTRIES || this.arenaUsed + len > MAX_ARENA) return NOT_INTERNED;
    const str = internalize(decodeUtf8(b, pos, len));
    const e = this.size++;
    if (e === this.hashes.length) this.growEntries();
    if (this.arenaUsed + len > this.arena.length) {
      const a = new Uint8Array(Math.max(this.arena.length * 2, this.arenaUsed + len));
      a.set(this.arena.subarray(0, this.arenaUsed));
      this.arena = a;
      this.arenaView = new DataView(a.buffer);
    }
    this.arena.set(b.subarray(pos, pos + len), this.arenaUsed);
    this.offs[e] = this.arenaUsed;
    this.lens[e] = len;
    this.hashes[e] = h;
    this.arenaUsed += len;
    this.strs.push(str);
    this.slots[slot] = e + 1;
    if (this.size * 2 > this.mask) this.rehash();
    return str === null ? INVALID_UTF8 : e;
  }

  private growEntries(): void {
    const n = this.hashes.length * 2;
    const grow = (a: Int32Array): Int32Array => {
      const g = new Int32Array(n);
      g.set(a);
      return g;
    };
    this.hashes = grow(this.hashes);
    this.offs = grow(this.offs);
    this.lens = grow(this.lens);
  }

  private rehash(): void {
    const size = (this.mask + 1) * 2;
    const slots = new Int32Array(size);
    const mask = size - 1;
    for (let e = 0; e < this.size; e++) {
      let s = (this.hashes[e] as number) & mask;
      while (slots[s] !== 0) s = (s + 1) & mask;
      slots[s] = e + 1;
    }
    this.slots = slots;
    this.mask = mask;
  }
}
