/**
 * A distribution that is merged into, many times: the main thread's state
 * (docs/contract.md §6). Adding a shard delta costs the delta's size, not the
 * accumulated state's: up to INLINE_MAX values it keeps every value, past
 * that a dense counts array of the fixed geometry, added into in place. It
 * reads as a DistSnapshot (exporters call statOf on it); its `hist` is built
 * on demand and cached until the next change.
 */
import { COUNTS_LENGTH, histValue, indexOfValue } from './geometry.js';
import { DIST_HEADER, KIND_INDICES, KIND_RAW } from '../merge/delta.js';
import { addMoments, addMomentsOf } from './merge.js';
import type { BucketsHist, DistHist, DistSnapshot } from './types.js';
import { INLINE_MAX, valuesHist } from './values.js';

const UINT32_MAX = 4294967295;
/** the values of a distribution that holds none yet (never written to: addValues replaces it) */
const NO_VALUES: number[] = [];
Object.freeze(NO_VALUES);
/** pending values folded at once, at most */
const FOLD_AT = 16384;

export class MergedDist implements DistSnapshot {
  count: number;
  sum: number;
  min: number;
  max: number;
  mean: number;
  m2: number;
  /** the values while count <= INLINE_MAX (unsorted), else null */
  private vals: number[] | null;
  /** the counts by counts-array index once count > INLINE_MAX, else null */
  private dense: Float64Array | null;
  /** kept across reset for reuse */
  private spare: Float64Array | null;
  private cached: DistHist | undefined;
  /**
   * While dense: counts-array indices of values added since the last fold.
   * Values from shard deltas are folded in bursts of up to FOLD_AT, so the
   * counts they touch are in cache for the whole burst (added one delta at a
   * time, nearly every value was a cache miss).
   */
  private pend: Uint16Array | null;
  private npend: number;

  constructor() {
    this.count = 0;
    this.sum = 0;
    this.min = 0;
    this.max = 0;
    this.mean = 0;
    this.m2 = 0;
    this.vals = NO_VALUES;
    this.dense = null;
    this.spare = null;
    this.cached = undefined;
    this.pend = null;
    this.npend = 0;
  }

  /** Adds a full snapshot or a shard delta (with its hist) into this one. */
  add(src: DistSnapshot): void {
    if (src.count === 0) return;
    addMoments(this, src);
    this.cached = undefined;
    const h = src.hist as DistHist | undefined;
    if (h === undefined) return;
    if (this.dense === null && this.count > INLINE_MAX) this.promote();
    const dense = this.dense;
    if (h.kind === 'values') this.addValues(h.values, 0, h.values.length);
    else if (dense !== null) {
      const idx = h.index;
      const c = h.counts;
      for (let k = 0; k < idx.length; k++) {
        const j = idx[k] as number;
        dense[j] = (dense[j] as number) + (c[k] as number);
      }
    }
  }

  /**
   * Adds one dist of a flat delta (src/merge/delta.ts), read from `c` at `p`;
   * returns where the next one starts.
   */
  addFlat(c: Float64Array, p: number): number {
    const n = c[p] as number;
    if (n === 0) return p + 1;
    addMomentsOf(this, n, c[p + 1] as number, c[p + 2] as number, c[p + 3] as number, c[p + 4] as number, c[p + 5] as number);
    this.cached = undefined;
    const kind = c[p + 6] as number;
    const len = c[p + 7] as number;
    const q = p + 1 + DIST_HEADER;
    // buckets and indices come only from a shard that went dense within one delta: more than INLINE_MAX values
    if (this.dense === null && (this.count > INLINE_MAX || kind !== KIND_RAW)) this.promote();
    if (kind === KIND_RAW) {
      this.addValues(c, q, q + len);
      return q + len;
    }
    const d = this.dense as Float64Array;
    if (kind === KIND_INDICES) {
      // one counts-array index per value: counted as they are
      const end = q + len;
      for (let i = q; i < end; i++) {
        const j = c[i] as number;
        d[j] = (d[j] as number) + 1;
      }
      return end;
    }
    const end = q + 2 * len;
    for (let i = q; i < end; i += 2) {
      const j = c[i] as number;
      d[j] = (d[j] as number) + (c[i + 1] as number);
    }
    return end;
  }

  /** Adds values v[from..to): into the dense counts (through the pending indices) once dense, else kept exactly. */
  private addValues(v: ArrayLike<number>, from: number, to: number): void {
    if (this.dense !== null) {
      let p = this.pend;
      if (p === null) p = this.pend = new Uint16Array(FOLD_AT);
      for (let i = from; i < to; i++) {
        if (this.npend === FOLD_AT) this.fold();
        p[this.npend++] = indexOfValue(histValue(v[i] as number));
      }
    } else if (this.vals === NO_VALUES) {
      // the first values: an array of their exact size (a sparse sub-metric holds a few)
      const vals: number[] = new Array(to - from);
      for (let i = from; i < to; i++) vals[i - from] = v[i] as number;
      this.vals = vals;
    } else {
      const vals = this.vals as number[];
      for (let i = from; i < to; i++) vals.push(v[i] as number);
    }
  }

  /** Adds the pending values into the dense counts. */
  private fold(): void {
    const d = this.dense as Float64Array;
    const p = this.pend as Uint16Array;
    const n = this.npend;
    for (let i = 0; i < n; i++) {
      const j = p[i] as number;
      d[j] = (d[j] as number) + 1;
    }
    this.npend = 0;
  }

  private promote(): void {
    // a spare array was zeroed by reset
    const d = this.spare ?? new Float64Array(COUNTS_LENGTH);
    this.spare = null;
    const vals = this.vals as number[];
    for (let i = 0; i < vals.length; i++) {
      const j = indexOfValue(histValue(vals[i] as number));
      d[j] = (d[j] as number) + 1;
    }
    this.vals = null;
    this.dense = d;
  }

  /** The value distribution as a snapshot hist (undefined when empty). */
  get hist(): DistHist | undefined {
    if (this.count === 0) return undefined;
    if (this.cached !== undefined) return this.cached;
    let out: DistHist;
    if (this.dense === null) {
      out = valuesHist(Float64Array.from(this.vals as number[]).sort());
    } else {
      if (this.npend > 0) this.fold();
      const d = this.dense;
      const lo = indexOfValue(histValue(this.min));
      const hi = indexOfValue(histValue(this.max));
      let n = 0;
      let big = false;
      for (let i = lo; i <= hi; i++) {
        if (d[i] !== 0) {
          n++;
          if ((d[i] as number) > UINT32_MAX) big = true;
        }
      }
      const index = new Uint16Array(n);
      const counts = big ? new Float64Array(n) : new Uint32Array(n);
      let k = 0;
      for (let i = lo; i <= hi; i++) {
        const x = d[i] as number;
        if (x !== 0) {
          index[k] = i;
          counts[k++] = x;
        }
      }
      out = { kind: 'hdr', index, counts } satisfies BucketsHist;
    }
    this.cached = out;
    return out;
  }

  /** Zeroes every figure (the dense array is kept for reuse, zeroed where it can be non-zero). */
  reset(): void {
    const d = this.dense;
    if (d !== null) {
      // every non-zero count lies between the indices of min and max
      d.fill(0, indexOfValue(histValue(this.min)), indexOfValue(histValue(this.max)) + 1);
      this.spare = d;
    }
    this.count = 0;
    this.sum = 0;
    this.min = 0;
    this.max = 0;
    this.mean = 0;
    this.m2 = 0;
    this.dense = null;
    this.npend = 0;
    this.vals = NO_VALUES;
    this.cached = undefined;
  }
}
