/**
 * The ingest plan: which event keys the configured metrics read at all. The
 * on-demand decoder (scan.ts) materialises only these and skips every other
 * value by its length. Built once per metric set; rebuilt when a metric is
 * added or removed (at one point of the shard's stream).
 */
import type { MetricDef } from '../config/types.js';
import { parseFilter, type FilterNode } from '../filter/index.js';
import { trackedFields } from '../metrics/fields.js';

const utf8 = new TextEncoder();

/**
 * Field key → slot of `TallyEvent.vals`, given once per key and never taken
 * back (an engine's compiled metrics keep their slots across plan changes).
 */
export class FieldSlots {
  private readonly ids = new Map<string, number>();
  readonly keys: string[] = [];

  slotOf(key: string): number {
    let s = this.ids.get(key);
    if (s === undefined) {
      s = this.keys.length;
      this.keys.push(key);
      this.ids.set(key, s);
    }
    return s;
  }

  get size(): number {
    return this.keys.length;
  }
}

export interface IngestPlan {
  /** the field keys some filter, group_by level or `fields` list reads */
  readonly keys: readonly string[];
  /** keys[i] as UTF-8 */
  readonly keyBytes: readonly Uint8Array[];
  /** keys[i]'s bytes as big-endian 32-bit words (wordsOf): what keyIndexOf compares */
  readonly keyWords: readonly Int32Array[];
  /** keys[i]'s slot of TallyEvent.vals */
  readonly slots: Int32Array;
  /** slots in all (the length TallyEvent.vals needs) */
  readonly width: number;
  /**
   * by key length in bytes and first byte (`len << 8 | byte`): the first
   * index into keys of that length and first byte + 1 (0: none); `nextOf[i]`
   * chains further keys of both
   */
  readonly firstOf: Int32Array;
  readonly nextOf: Int32Array;
  /** the longest key's length in bytes */
  readonly maxLen: number;
  /** whether some filter reads categories */
  readonly categories: boolean;
  /**
   * the index into keys of `hostname`, or -1: when the event has no value for
   * that field, the event's top-level hostname is the field's value
   */
  readonly hostname: number;
}

/** Field keys and whether categories are read, from one filter's syntax tree. */
function filterReads(ast: FilterNode | null, keys: Set<string>): boolean {
  let cats = false;
  const stack: FilterNode[] = ast === null ? [] : [ast];
  for (let n = stack.pop(); n !== undefined; n = stack.pop()) {
    switch (n.type) {
      case 'and':
      case 'or':
        stack.push(n.left, n.right);
        break;
      case 'not':
        stack.push(n.operand);
        break;
      case 'category':
        cats = true;
        break;
      case 'field':
        if (n.key !== 'duration') keys.add(n.key);
        break;
      default:
        break;
    }
  }
  return cats;
}

export function planOf(defs: readonly MetricDef[], fieldSlots: FieldSlots): IngestPlan {
  const set = new Set<string>();
  let categories = false;
  for (const def of defs) {
    if (filterReads(parseFilter(def.filter).ast, set)) categories = true;
    for (const l of def.groupBy) if (l.field !== 'duration') set.add(l.field);
    for (const f of trackedFields(def)) if (f !== 'duration') set.add(f);
  }
  const keys = [...set];
  const keyBytes = keys.map((k) => utf8.encode(k));
  let maxLen = 0;
  for (const b of keyBytes) if (b.length > maxLen) maxLen = b.length;
  const firstOf = new Int32Array((maxLen + 1) << 8);
  const nextOf = new Int32Array(keys.length);
  for (let i = keys.length - 1; i >= 0; i--) {
    const k = keyBytes[i] as Uint8Array;
    // the empty key: first byte 0
    const at = (k.length << 8) | (k.length > 0 ? (k[0] as number) : 0);
    nextOf[i] = firstOf[at] as number;
    firstOf[at] = i + 1;
  }
  const slots = Int32Array.from(keys, (k) => fieldSlots.slotOf(k));
  return { keys, keyBytes, keyWords: keyBytes.map(wordsOf), slots, width: fieldSlots.size, firstOf, nextOf, maxLen, categories, hostname: keys.indexOf('hostname') };
}

/**
 * A key's bytes as the 32-bit big-endian words a DataView reads: one per
 * whole four bytes, then (when the length is not a multiple of four) the
 * last four bytes, overlapping; shorter keys have none (compared by bytes).
 */
export function wordsOf(k: Uint8Array): Int32Array {
  const n = k.length >> 2;
  const w = new Int32Array(n + ((k.length & 3) !== 0 && n > 0 ? 1 : 0));
  const dv = new DataView(k.buffer, k.byteOffset, k.byteLength);
  for (let i = 0; i < n; i++) w[i] = dv.getInt32(4 * i);
  if (w.length > n) w[n] = dv.getInt32(k.length - 4);
  return w;
}

/**
 * The index into plan.keys of the `len` key bytes at `pos` of `b` (`dv` a
 * view of the same bytes), or -1: a key matched as bytes, no string made.
 * Four bytes at a time: a byte loop over the keys that share a plan key's
 * length and first byte was about 6 % of a shard's engine time on the
 * benchmark's events (every plan key a hit, compared to its last byte).
 */
export function keyIndexOf(plan: IngestPlan, b: Uint8Array, dv: DataView, pos: number, len: number): number {
  if (len > plan.maxLen) return -1;
  const at = (len << 8) | (len > 0 ? (b[pos] as number) : 0);
  for (let s = (plan.firstOf[at] as number) - 1; s >= 0; s = (plan.nextOf[s] as number) - 1) {
    if (len < 4) {
      const k = plan.keyBytes[s] as Uint8Array;
      let i = len > 0 ? 1 : 0; // the first byte matched by firstOf
      while (i < len && k[i] === b[pos + i]) i++;
      if (i === len) return s;
      continue;
    }
    const w = plan.keyWords[s] as Int32Array;
    const n = len >> 2;
    let i = 0;
    while (i < n && dv.getInt32(pos + 4 * i) === w[i]) i++;
    if (i === n && (i === w.length || dv.getInt32(pos + len - 4) === w[i])) return s;
  }
  return -1;
}
