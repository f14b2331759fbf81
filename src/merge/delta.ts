/**
 * The flat delta (docs/contract.md §6): what an Engine recorded since its
 * last delta, as a shard ships it to the main thread. Numbers only, in two
 * Float64Arrays (nodes and cells) that are transferred (not cloned) with the
 * message; the few strings are those of the nodes created since the last
 * delta. Folding it
 * costs the main thread a walk of that array: no object per node or
 * distribution on either side, nothing walked by key.
 *
 * Nodes are named by a uid, given by their Engine's Metric in creation order
 * (the root is 0); the main thread keeps, per source (one shard worker's
 * life, or the main thread's own engine), a table uid → its node.
 *
 * `nodes` (Float64Array), per node created since the last delta, parents
 * before children, in creation order:
 *
 *   +----------+-----+-----------+----------+
 *   | metricId | uid | parentUid | firstSeq |   with keys[i] and names[i]
 *
 *   names[i] is null when it is keys[i] itself (the common case: the name
 *   is the value, unchanged), so that string crosses to the main thread
 *   once, and the main thread keeps one copy of it, not two
 *   +----------+-----+-----------+----------+
 *
 * `cells` (Float64Array), per node that recorded events since the last
 * delta (its own figures: the events recorded at it, not its children's):
 *
 *   +----------+-----+----+--------+------------+-----+------------+
 *   | metricId | uid | up | nDists | dist 0 ... |     | dist n - 1 |
 *   +----------+-----+----+--------+------------+-----+------------+
 *
 *   up = 1: the figures are added to the node and to every ancestor (a
 *           node that is not inclusive, or the top of an inclusive subtree);
 *   up = 0: to the node only (inclusive, like its parent, which recorded
 *           the same events itself).
 *
 *   a dist:  count = 0:  | 0 |
 *            otherwise:  | count | sum | min | max | mean | m2 | kind | n | payload |
 *            kind RAW:     n values, in record order (every value exactly)
 *            kind BUCKETS: n (counts-array index, count) pairs, ascending index
 *            kind INDICES: n counts-array indices, one per value, in record order
 *
 * The node's own count is its dist 0's (duration is recorded for every event);
 * the events of an `__overflow__` child (key null) are the metric's overflow.
 * Shipping each node's own figures, not rolled-up ones, keeps a delta to one
 * entry per recorded value (5 on the benchmark config) instead of one per
 * value and level (14).
 */
import type { ChildKey, EngineCounters } from '../metrics/types.js';

export const KIND_RAW = 1;
export const KIND_BUCKETS = 2;
export const KIND_INDICES = 3;
/** numbers of a node's cell before its dists: metricId, uid, up, nDists */
export const CELL_HEADER = 4;
/** numbers of a dist's header after its count: sum, min, max, mean, m2, kind, n */
export const DIST_HEADER = 7;

/** Numbers of the payload of a dist of `kind` whose header says `n`. */
export function payloadLength(kind: number, n: number): number {
  return kind === KIND_BUCKETS ? 2 * n : n;
}

export interface FlatDelta {
  nodes: Float64Array;
  keys: ChildKey[];
  /** null: the name is the key (a string) */
  names: (string | null)[];
  cells: Float64Array;
  counters: EngineCounters;
}

const FIRST_CAPACITY = 4096;

/** Builds flat deltas into one growing array, reused from delta to delta. */
export class DeltaWriter {
  /** the cells being written; `len` numbers of it are in use */
  buf: Float64Array;
  len: number;
  private nodeNums: number[];
  private keys: ChildKey[];
  private names: (string | null)[];

  constructor() {
    this.buf = new Float64Array(FIRST_CAPACITY);
    this.len = 0;
    this.nodeNums = [];
    this.keys = [];
    this.names = [];
  }

  /** Room for `n` more numbers: a caller writes buf[len..len + n) itself, then advances len. */
  reserve(n: number): Float64Array {
    const need = this.len + n;
    if (need > this.buf.length) {
      let cap = this.buf.length * 2;
      while (cap < need) cap *= 2;
      const grown = new Float64Array(cap);
      grown.set(this.buf.subarray(0, this.len));
      this.buf = grown;
    }
    return this.buf;
  }

  push(x: number): void {
    if (this.len === this.buf.length) this.reserve(1);
    this.buf[this.len++] = x;
  }

  node(metricId: number, uid: number, parentUid: number, firstSeq: number, key: ChildKey, name: string): void {
    this.nodeNums.push(metricId, uid, parentUid, firstSeq);
    this.keys.push(key);
    this.names.push(name === key ? null : name);
  }

  /** The delta written since the last take (its arrays are the caller's now), and a fresh start. */
  take(counters: EngineCounters): FlatDelta {
    const d: FlatDelta = {
      nodes: Float64Array.from(this.nodeNums),
      keys: this.keys,
      names: this.names,
      cells: this.buf.slice(0, this.len),
      counters,
    };
    this.len = 0;
    this.nodeNums = [];
    this.keys = [];
    this.names = [];
    return d;
  }
}
