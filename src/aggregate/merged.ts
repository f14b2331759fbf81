/**
 * A distribution that is merged into, many times: the main thread's state
 * (docs/contract.md §6). Adding a shard delta costs the delta's size, not the
 * accumulated state's: up to INLINE_MAX values it keeps every value, past
 * that a dense counts array of the fixed geometry, added into in place. It
 * reads as a DistSnapshot (exporters call statOf on it); a dense one's `hist`
 * is built on demand and cached until the next change.
 *
 * Most of the main thread's distributions are sparse (a sub-metric seen a
 * few times), so a sparse one is small: one object of two fields and one
 * array of doubles holding the moments and then the values,
 *
 *   s = [count, sum, min, max, mean, m2, value 0, value 1, ...]
 *
 * (a JS array of doubles stores them unboxed; six number fields would each
 * point at a heap number). Everything a dense one needs more is in its
 * DenseState, kept across a reset for the next promotion.
 */
import { countsHist } from './buckets.js';
import { COUNTS_LENGTH, histValue, indexOfValue } from './geometry.js';
import { DIST_HEADER, KIND_INDICES, KIND_RAW } from '../merge/delta.js';
import { addMomentsAt, COUNT, M2, MAX, MEAN, MIN, SUM, VALUES } from './merge.js';
import type { DistHist, DistSnapshot } from './types.js';
import { INLINE_MAX, valuesHist } from './values.js';

/** pending values folded at once, at most */
const FOLD_AT = 16384;

/** the moments of a distribution that holds nothing yet (never written to: own() replaces it) */
const ZERO: number[] = [0, 0, 0, 0, 0, 0];
Object.freeze(ZERO);

interface DenseState {
  /** false after a reset: the counts (zero again) wait for the next promotion */
  on: boolean;
  /** counts by counts-array index */
  counts: Float64Array;
  /**
   * Counts-array indices of values added since the last fold. Values from
   * shard deltas are folded in bursts of up to FOLD_AT, so the counts they
   * touch are in cache for the whole burst (added one delta at a time,
   * nearly every value was a cache miss).
   */
  pend: Uint16Array | null;
  npend: number;
  cached: DistHist | undefined;
}

/**
 * An array of `s`'s numbers with room for exactly `extra` more (a sparse
 * sub-metric holds a few), of doubles from the start: every distribution's
 * array has one elements kind, so the code reading them stays monomorphic.
 */
function withRoom(s: readonly number[], extra: number): number[] {
  const out = new Array<number>(s.length + extra);
  out[0] = 0.5;
  for (let i = 0; i < s.length; i++) out[i] = s[i] as number;
  return out;
}

/** Adds counts `from[lo..hi]` into `to` (a loop of its own: nothing after it to deoptimize on). */
function addCounts(to: Float64Array, from: Float64Array, lo: number, hi: number): void {
  for (let i = lo; i <= hi; i++) {
    const x = from[i] as number;
    if (x !== 0) to[i] = (to[i] as number) + x;
  }
}

export class MergedDist implements DistSnapshot {
  private s: number[];
  /** the dense state while on, or kept for reuse; null before the first promotion */
  private d: DenseState | null;

  constructor() {
    this.s = ZERO;
    this.d = null;
  }

  get count(): number {
    return this.s[COUNT] as number;
  }
  get sum(): number {
    return this.s[SUM] as number;
  }
  get min(): number {
    return this.s[MIN] as number;
  }
  get max(): number {
    return this.s[MAX] as number;
  }
  get mean(): number {
    return this.s[MEAN] as number;
  }
  get m2(): number {
    return this.s[M2] as number;
  }

  private get isDense(): boolean {
    return this.d !== null && this.d.on;
  }

  /** Adds a full snapshot or a shard delta (with its hist) into this one. */
  add(src: DistSnapshot): void {
    if (src.count === 0) return;
    this.addMoments(src.count, src.sum, src.min, src.max, src.mean, src.m2);
    const h = src.hist as DistHist | undefined;
    if (h === undefined) return;
    if (!this.isDense && this.count > INLINE_MAX) this.promote();
    if (h.kind === 'values') this.addValues(h.values, 0, h.values.length);
    else if (this.isDense) {
      const dense = (this.d as DenseState).counts;
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
    this.addMoments(n, c[p + 1] as number, c[p + 2] as number, c[p + 3] as number, c[p + 4] as number, c[p + 5] as number);
    const kind = c[p + 6] as number;
    const len = c[p + 7] as number;
    const q = p + 1 + DIST_HEADER;
    // buckets and indices come only from a shard that went dense within one delta: more than INLINE_MAX values
    if (!this.isDense && (this.count > INLINE_MAX || kind !== KIND_RAW)) this.promote();
    if (kind === KIND_RAW) {
      this.addValues(c, q, q + len);
      return q + len;
    }
    const d = (this.d as DenseState).counts;
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

  /**
   * Adds every figure of `o` into this one; `o` is left as it was. How a
   * node's figures are added up from its children's (src/merge/accumulator.ts):
   * a dense `o` costs its range of counts, not its values.
   */
  absorb(o: MergedDist): void {
    const os = o.s;
    const n = os[COUNT] as number;
    if (n === 0) return;
    this.addMoments(n, os[SUM] as number, os[MIN] as number, os[MAX] as number, os[MEAN] as number, os[M2] as number);
    const od = o.d;
    if (od === null || !od.on) {
      if (!this.isDense && this.count > INLINE_MAX) this.promote();
      this.addValues(os, VALUES, os.length);
      return;
    }
    if (!this.isDense) this.promote();
    if (od.npend > 0) o.fold(od);
    addCounts((this.d as DenseState).counts, od.counts, indexOfValue(histValue(os[MIN] as number)), indexOfValue(histValue(os[MAX] as number)));
  }

  /** The moments of a part (nb values) added by the parallel formula; a dense hist is stale from here. */
  private addMoments(nb: number, sum: number, min: number, max: number, mean: number, m2: number): void {
    if (this.s === ZERO) this.s = withRoom(ZERO, 0);
    if (this.d !== null) this.d.cached = undefined;
    addMomentsAt(this.s, nb, sum, min, max, mean, m2);
  }

  /** Adds values v[from..to): into the dense counts (through the pending indices) once dense, else kept exactly. */
  private addValues(v: ArrayLike<number>, from: number, to: number): void {
    if (this.isDense) {
      const d = this.d as DenseState;
      let p = d.pend;
      if (p === null) p = d.pend = new Uint16Array(FOLD_AT);
      for (let i = from; i < to; i++) {
        if (d.npend === FOLD_AT) this.fold(d);
        p[d.npend++] = indexOfValue(histValue(v[i] as number));
      }
      return;
    }
    let s = this.s;
    if (s.length === VALUES) {
      // the first values: an array of their exact size (a sparse sub-metric holds a few)
      s = this.s = withRoom(s, to - from);
      for (let i = from; i < to; i++) s[VALUES + i - from] = v[i] as number;
    } else for (let i = from; i < to; i++) s.push(v[i] as number);
  }

  /** Adds the pending values into the dense counts. */
  private fold(d: DenseState): void {
    const c = d.counts;
    const p = d.pend as Uint16Array;
    const n = d.npend;
    for (let i = 0; i < n; i++) {
      const j = p[i] as number;
      c[j] = (c[j] as number) + 1;
    }
    d.npend = 0;
  }

  private promote(): void {
    // a kept dense state's counts were zeroed by reset
    let d = this.d;
    if (d === null) d = this.d = { on: true, counts: new Float64Array(COUNTS_LENGTH), pend: null, npend: 0, cached: undefined };
    d.on = true;
    const s = this.s;
    const c = d.counts;
    for (let i = VALUES; i < s.length; i++) {
      const j = indexOfValue(histValue(s[i] as number));
      c[j] = (c[j] as number) + 1;
    }
    s.length = VALUES;
  }

  /**
   * The value distribution as a snapshot hist (undefined when empty); a dense
   * one's is cached until the next change. Each kind is built by a method of
   * its own, and a dense one's loop is in buckets.ts (toScratch): written in
   * one getter, V8 deoptimized it 259 times in three dumps of bench:dovecot's
   * 386 rows.
   */
  get hist(): DistHist | undefined {
    if (this.count === 0) return undefined;
    return this.isDense ? this.denseHist(this.d as DenseState) : this.sparseHist();
  }

  private sparseHist(): DistHist {
    return valuesHist(Float64Array.from(this.s.slice(VALUES)).sort());
  }

  private denseHist(ds: DenseState): DistHist {
    if (ds.cached !== undefined) return ds.cached;
    if (ds.npend > 0) this.fold(ds);
    const out = countsHist(ds.counts, indexOfValue(histValue(this.min)), indexOfValue(histValue(this.max)));
    ds.cached = out;
    return out;
  }

  /** Zeroes every figure (the dense counts are kept for reuse, zeroed where they can be non-zero). */
  reset(): void {
    const d = this.d;
    if (d !== null && d.on) {
      // every non-zero count lies between the indices of min and max
      d.counts.fill(0, indexOfValue(histValue(this.min)), indexOfValue(histValue(this.max)) + 1);
      d.on = false;
      d.npend = 0;
      d.cached = undefined;
    }
    this.s = ZERO;
  }
}
