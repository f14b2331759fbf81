/**
 * A structural check of a msgpack batch before msgpackr decodes it (docs/contract.md §2.3:
 * plain msgpack only). One pass over the bytes, no allocation, no recursion:
 *
 * - every value is complete (a length never points past the end), so a header
 *   that claims gigabytes is refused before anything is allocated for it;
 * - 0xc1 (never used) is refused: msgpackr would decode it as an object;
 * - extension types other than −1 (timestamp) and 0 (undefined, as JavaScript
 *   encoders write it) are refused: msgpackr gives meaning to its own
 *   (record definitions that change how later bytes of the batch decode,
 *   bundled strings, structured-clone references, sets, typed arrays, regular
 *   expressions, errors, bigints), which a plain producer never sends;
 * - nesting deeper than MAX_DEPTH is refused (msgpackr recurses per level);
 * - a map key must be a string, an integer or a float (msgpackr turns those
 *   into property names; arrays, maps, binaries and extensions as keys cannot
 *   be).
 *
 * It also counts the events a batch holds (each top-level value is an event,
 * or an array of events), which is how the main thread counts the events of
 * a batch lost with its shard without decoding it.
 */

/** Deepest nesting accepted: an event is at most 4 levels (batch, event, fields, strlist). */
export const MAX_DEPTH = 100;

/** Thrown for a batch that is not plain, complete msgpack. */
export class MsgpackScanError extends Error {
  /** byte offset of the offending value */
  readonly offset: number;
  constructor(offset: number, message: string) {
    super(`${message} at byte ${offset}`);
    this.name = 'MsgpackScanError';
    this.offset = offset;
  }
}

const EXT_TIMESTAMP = -1;
const EXT_UNDEFINED = 0;

// What each first byte is. Scalars of a fixed size (fixint, nil, booleans,
// numbers) skip FIXED[t] more bytes.
const K_FIXED = 0;
const K_FIXSTR = 1;
const K_FIXMAP = 2;
const K_FIXARRAY = 3;
/** str/bin 8, 16, 32: a length of LEN[t] bytes, then the bytes */
const K_BYTES = 4;
/** ext 8, 16, 32 (LEN[t] length bytes) and fixext (FIXED[t] data bytes): a type byte, then the data */
const K_EXT = 5;
/** array/map 16, 32 */
const K_ARRAY = 6;
const K_MAP = 7;
const K_NEVER = 8;

const KIND = new Uint8Array(256);
const FIXED = new Uint8Array(256);
const LEN = new Uint8Array(256);
for (let t = 0; t < 256; t++) {
  if (t <= 0x7f || t >= 0xe0) KIND[t] = K_FIXED;
  else if (t <= 0x8f) KIND[t] = K_FIXMAP;
  else if (t <= 0x9f) KIND[t] = K_FIXARRAY;
  else if (t <= 0xbf) KIND[t] = K_FIXSTR;
}
const table: [number, number, number, number][] = [
  // byte, kind, fixed bytes, length bytes
  [0xc0, K_FIXED, 0, 0], [0xc1, K_NEVER, 0, 0], [0xc2, K_FIXED, 0, 0], [0xc3, K_FIXED, 0, 0],
  [0xc4, K_BYTES, 0, 1], [0xc5, K_BYTES, 0, 2], [0xc6, K_BYTES, 0, 4],
  [0xc7, K_EXT, 0, 1], [0xc8, K_EXT, 0, 2], [0xc9, K_EXT, 0, 4],
  [0xca, K_FIXED, 4, 0], [0xcb, K_FIXED, 8, 0],
  [0xcc, K_FIXED, 1, 0], [0xcd, K_FIXED, 2, 0], [0xce, K_FIXED, 4, 0], [0xcf, K_FIXED, 8, 0],
  [0xd0, K_FIXED, 1, 0], [0xd1, K_FIXED, 2, 0], [0xd2, K_FIXED, 4, 0], [0xd3, K_FIXED, 8, 0],
  [0xd4, K_EXT, 1, 0], [0xd5, K_EXT, 2, 0], [0xd6, K_EXT, 4, 0], [0xd7, K_EXT, 8, 0], [0xd8, K_EXT, 16, 0],
  [0xd9, K_BYTES, 0, 1], [0xda, K_BYTES, 0, 2], [0xdb, K_BYTES, 0, 4],
  [0xdc, K_ARRAY, 0, 2], [0xdd, K_ARRAY, 0, 4], [0xde, K_MAP, 0, 2], [0xdf, K_MAP, 0, 4],
];
for (const [t, kind, fixed, len] of table) {
  KIND[t] = kind;
  FIXED[t] = fixed;
  LEN[t] = len;
}

// per open container: values left to read (keys count: a map of n pairs is 2n), and whether it is a map
const remaining = new Float64Array(MAX_DEPTH + 1);
const inMap = new Uint8Array(MAX_DEPTH + 1);

function readLength(b: Uint8Array, pos: number, bytes: number): number {
  if (bytes === 1) return b[pos] as number;
  if (bytes === 2) return ((b[pos] as number) << 8) | (b[pos + 1] as number);
  return (b[pos] as number) * 0x1000000 + (((b[pos + 1] as number) << 16) | ((b[pos + 2] as number) << 8) | (b[pos + 3] as number));
}

/**
 * Whether the batch `scanMsgpack` last accepted holds an extension value
 * (timestamp or undefined): the on-demand decoder leaves such batches to
 * msgpackr whole, which decides what they mean.
 */
export let lastScanHadExtension = false;

function fail(start: number, message: string): never {
  throw new MsgpackScanError(start, message);
}

/**
 * Checks `b` and returns the number of events it holds. Throws
 * MsgpackScanError when it is not a concatenation of complete plain msgpack
 * values.
 */
export function scanMsgpack(b: Uint8Array): number {
  const end = b.length;
  let pos = 0;
  let events = 0;
  lastScanHadExtension = false;
  while (pos < end) {
    // one top-level value: an event, or an array of events
    const topStart = pos;
    let depth = 0;
    remaining[0] = 1;
    inMap[0] = 0;
    for (;;) {
      let left = remaining[depth] as number;
      while (left === 0 && depth > 0) left = remaining[--depth] as number;
      if (left === 0) break;
      remaining[depth] = left - 1;
      const start = pos;
      if (pos >= end) fail(start, 'the batch ends inside a value');
      const t = b[pos++] as number;
      const kind = KIND[t] as number;
      if (kind === K_FIXED) {
        pos += FIXED[t] as number;
        if (pos > end) fail(start, 'the batch ends inside a number');
        continue;
      }
      if (kind === K_FIXSTR) {
        pos += t & 0x1f;
        if (pos > end) fail(start, `a string of ${t & 0x1f} bytes runs past the end of the batch`);
        continue;
      }
      // anything below may not be a map key
      if (inMap[depth] === 1 && left % 2 === 0 && kind !== K_BYTES) fail(start, 'a map key is not a string or a number');
      let open: number;
      let map = 0;
      if (kind === K_FIXMAP) {
        open = (t & 0x0f) * 2;
        map = 1;
      } else if (kind === K_FIXARRAY) {
        open = t & 0x0f;
      } else if (kind === K_NEVER) {
        return fail(start, 'byte 0xc1 is never used in msgpack');
      } else {
        const lenBytes = LEN[t] as number;
        if (lenBytes > end - pos) fail(start, 'the batch ends inside a value');
        const n = lenBytes === 0 ? (FIXED[t] as number) : readLength(b, pos, lenBytes);
        pos += lenBytes;
        if (kind === K_BYTES || kind === K_EXT) {
          const isString = t >= 0xd9;
          if (kind === K_EXT) {
            lastScanHadExtension = true;
            if (pos >= end) fail(start, 'the batch ends inside a value');
            const type = ((b[pos] as number) << 24) >> 24;
            pos++;
            if (type !== EXT_TIMESTAMP && type !== EXT_UNDEFINED) {
              fail(start, `msgpack extension type ${type} is not plain msgpack (only -1, timestamp, and 0 are read)`);
            }
          } else if (!isString && inMap[depth] === 1 && left % 2 === 0) {
            fail(start, 'a map key is not a string or a number');
          }
          if (n > end - pos) {
            const what = kind === K_EXT ? 'an extension' : isString ? 'a string' : 'a binary';
            fail(start, `${what} of ${n} bytes runs past the end of the batch (${end - pos} left)`);
          }
          pos += n;
          continue;
        }
        map = kind === K_MAP ? 1 : 0;
        open = map === 1 ? n * 2 : n;
      }
      if (open === 0) continue;
      // every value takes at least one byte
      if (open > end - pos) {
        fail(start, `${map === 1 ? `a map of ${open / 2} entries` : `an array of ${open} values`} cannot fit in the ${end - pos} bytes left`);
      }
      if (depth === MAX_DEPTH) fail(start, `values nest deeper than ${MAX_DEPTH} levels`);
      depth++;
      remaining[depth] = open;
      inMap[depth] = map;
    }
    // a top-level array is a list of events; anything else is one event
    const first = b[topStart] as number;
    if (KIND[first] === K_FIXARRAY) events += first & 0x0f;
    else if (KIND[first] === K_ARRAY) events += readLength(b, topStart + 1, LEN[first] as number);
    else events++;
  }
  return events;
}

/**
 * The end of the msgpack value at `pos` of `b`, -1 when `b` ends before it
 * does; throws on 0xc1, which starts no value. Checks nothing else and
 * allocates nothing: `tallyd aggregate` walks every value of a msgpack file
 * with it to cut the file into batches (src/cli/stream.ts), before the
 * engine reads them (and checks them, as it checks any batch).
 */
export function msgpackEnd(b: Uint8Array, pos: number): number {
  let todo = 1;
  const end = b.length;
  while (todo > 0) {
    if (pos >= end) return -1;
    todo--;
    const t = b[pos] as number;
    const kind = KIND[t] as number;
    if (kind === K_FIXED) pos += 1 + (FIXED[t] as number);
    else if (kind === K_FIXSTR) pos += 1 + (t & 0x1f);
    else if (kind === K_FIXMAP) {
      todo += (t & 0x0f) * 2;
      pos++;
    } else if (kind === K_FIXARRAY) {
      todo += t & 0x0f;
      pos++;
    } else if (kind === K_NEVER) throw new Error(`byte 0x${t.toString(16)} starts no msgpack value`);
    else {
      const lenBytes = LEN[t] as number;
      if (pos + 1 + lenBytes > end) return -1;
      const n = lenBytes === 0 ? (FIXED[t] as number) : readLength(b, pos + 1, lenBytes);
      pos += 1 + lenBytes;
      // the bytes; an extension's type byte, then its data; the values of an array or a map
      if (kind === K_BYTES) pos += n;
      else if (kind === K_EXT) pos += 1 + n;
      else todo += kind === K_MAP ? 2 * n : n;
    }
  }
  return pos > end ? -1 : pos;
}
