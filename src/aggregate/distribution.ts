/**
 * One field's statistics at one node (docs/contract.md §5.4). Two kinds behind one class:
 * up to INLINE_MAX values are kept exactly in the stats array (which grows by
 * doubling from 8); the next value promotes the distribution to an
 * hdr-histogram-js Int32Histogram of the fixed geometry, whose counts are
 * incremented at indices computed by geometry.ts (the library's own
 * recordValue is slower: log2/pow per value, and min/max tracked twice).
 * count, sum, min, max, mean and M2 (Welford) are exact-as-float in both kinds.
 */
import type { Int32Histogram } from 'hdr-histogram-js';
import { readHistogram } from './buckets.js';
import { histValue, indexOfValue, newHistogram } from './geometry.js';
import { DIST_HEADER, KIND_BUCKETS, KIND_INDICES, KIND_RAW, type DeltaWriter } from '../merge/delta.js';
import type { DistSnapshot, SnapshotDepth } from './types.js';
import { INLINE_MAX, valuesHist } from './values.js';
import { addMomentsAt, COUNT, M2, MAX, MEAN, MIN, SUM, VALUES } from './merge.js';

const FIRST_CAPACITY = 8;
/** indices recorded into a dense distribution before they are folded into its histogram */
const PENDING = 2048;

export class Distribution {
  /** [count, sum, min, max, mean, m2, ...inline values] */
  private s: Float64Array;
  /** the histogram while dense, else null */
  private hist: Int32Histogram | null;
  /** a histogram kept across reset() for the next promotion */
  private parked: Int32Histogram | null;
  /** the parked histogram's counts are all zero already (writeDelta zeroed what it read) */
  private parkedClean: boolean;
  /**
   * While dense: counts-array indices recorded since the last fold. They are
   * added to the histogram PENDING at a time, while its counts are in cache
   * (one by one, nearly every record was a cache miss); every reader folds
   * first.
   */
  private pend: Uint16Array | null;
  private npend: number;
  /**
   * Pending indices were folded into the histogram since it was last clean
   * (zero): writeDelta reads its counts. Otherwise the pending indices are
   * all there is, and they are the delta as they are (no counts scanned).
   */
  private folded: boolean;

  constructor() {
    const s = new Float64Array(VALUES + FIRST_CAPACITY);
    s[MIN] = Infinity;
    s[MAX] = -Infinity;
    this.s = s;
    this.hist = null;
    this.parked = null;
    this.parkedClean = false;
    this.pend = null;
    this.npend = 0;
    this.folded = false;
  }

  get count(): number {
    return this.s[COUNT] as number;
  }

  /** true once the values live in an HDR histogram */
  get dense(): boolean {
    return this.hist !== null;
  }

  /** `v` must be finite; -0 is recorded as 0 (no figure ever reads "-0") */
  record(x: number): void {
    const v = x === 0 ? 0 : x;
    const s = this.s;
    const n = (s[COUNT] as number) + 1;
    s[COUNT] = n;
    s[SUM] = (s[SUM] as number) + v;
    if (v < (s[MIN] as number)) s[MIN] = v;
    if (v > (s[MAX] as number)) s[MAX] = v;
    const mean = s[MEAN] as number;
    const d = v - mean;
    const m = mean + d / n;
    s[MEAN] = m;
    s[M2] = (s[M2] as number) + d * (v - m);
    this.store(v, n);
  }

  /** Keeps value `v`, the `n`th: inline, or as a pending index once dense. */
  private store(v: number, n: number): void {
    if (this.hist !== null) {
      if (this.npend === PENDING) this.fold();
      (this.pend as Uint16Array)[this.npend++] = indexOfValue(histValue(v));
    } else if (VALUES - 1 + n < this.s.length) this.s[VALUES - 1 + n] = v;
    else this.spill(v, n);
  }

  /**
   * Adds every figure of `o` (recorded since its last delta or reset) into
   * this one; `o` is left as it was. How a node's figures take in its
   * children's (src/metrics/metric.ts).
   */
  absorb(o: Distribution): void {
    const os = o.s;
    const nb = os[COUNT] as number;
    if (nb === 0) return;
    const na = this.s[COUNT] as number;
    if (o.hist === null) {
      for (let i = 0; i < nb; i++) this.store(os[VALUES + i] as number, na + i + 1);
    } else {
      if (this.hist === null) this.densify(na);
      const p = o.pend as Uint16Array;
      for (let i = 0; i < o.npend; i++) {
        if (this.npend === PENDING) this.fold();
        (this.pend as Uint16Array)[this.npend++] = p[i] as number;
      }
      if (o.folded) {
        const h = this.hist as Int32Histogram;
        const c = h._counts;
        const oc = (o.hist as Int32Histogram)._counts;
        const hi = indexOfValue(histValue(os[MAX] as number));
        let added = 0;
        for (let i = indexOfValue(histValue(os[MIN] as number)); i <= hi; i++) {
          const x = oc[i] as number;
          if (x !== 0) {
            c[i] = (c[i] as number) + x;
            added += x;
          }
        }
        h.setTotalCount(h.totalCount + added);
        this.folded = true;
      }
    }
    // the moments, by the parallel formula
    addMomentsAt(this.s, nb, os[SUM] as number, os[MIN] as number, os[MAX] as number, os[MEAN] as number, os[M2] as number);
  }

  /** Adds the pending indices into the histogram. */
  private fold(): void {
    const h = this.hist as Int32Histogram;
    const p = this.pend as Uint16Array;
    const n = this.npend;
    for (let i = 0; i < n; i++) h.incrementCountAtIndex(p[i] as number);
    h.setTotalCount(h.totalCount + n);
    this.npend = 0;
    this.folded = true;
  }

  private spill(v: number, n: number): void {
    const s = this.s;
    if (n <= INLINE_MAX) {
      const grown = new Float64Array(VALUES + Math.min(2 * (s.length - VALUES), INLINE_MAX));
      grown.set(s);
      grown[VALUES - 1 + n] = v;
      this.s = grown;
      return;
    }
    this.densify(n - 1);
    (this.pend as Uint16Array)[this.npend++] = indexOfValue(histValue(v));
  }

  /**
   * Becomes dense: a histogram (the parked one, or new) that stays clean
   * until a fold, and the `n` inline values as its pending indices.
   */
  private densify(n: number): void {
    const s = this.s;
    let h = this.parked;
    if (h === null) h = newHistogram();
    else {
      if (!this.parkedClean) h.reset();
      this.parked = null;
    }
    this.hist = h;
    this.folded = false;
    // n <= INLINE_MAX < PENDING
    let p = this.pend;
    if (p === null) p = this.pend = new Uint16Array(PENDING);
    for (let i = 0; i < n; i++) p[i] = indexOfValue(histValue(s[VALUES + i] as number));
    this.npend = n;
  }

  /**
   * zero every figure; the object, its capacity and any histogram are kept for
   * reuse (`clean`: its counts are zero already)
   */
  reset(clean = false): void {
    const s = this.s;
    s[COUNT] = 0;
    s[SUM] = 0;
    s[MIN] = Infinity;
    s[MAX] = -Infinity;
    s[MEAN] = 0;
    s[M2] = 0;
    if (this.hist !== null) {
      this.parked = this.hist;
      this.parkedClean = clean;
      this.hist = null;
      this.npend = 0;
      this.folded = false;
    }
  }

  /** count, sum, min, max, mean and M2 as a snapshot without hist (pending indices folded first) */
  private moments(): DistSnapshot {
    if (this.npend > 0) this.fold();
    const s = this.s;
    const n = s[COUNT] as number;
    const min = n > 0 ? (s[MIN] as number) : 0;
    const max = n > 0 ? (s[MAX] as number) : 0;
    return { count: n, sum: s[SUM] as number, min, max, mean: s[MEAN] as number, m2: s[M2] as number };
  }

  /**
   * Writes what was recorded since the last delta in the flat delta's dist
   * format (src/merge/delta.ts), then reset(): the values in record order
   * while inline; once dense, the pending indices as they are when nothing
   * was folded since the histogram was clean, else its non-zero buckets.
   */
  writeDelta(w: DeltaWriter): void {
    const s = this.s;
    const n = s[COUNT] as number;
    if (n === 0) {
      w.push(0);
      return;
    }
    const h = this.hist;
    if (h !== null && !this.folded) {
      // nothing folded: the pending indices are every value of the delta
      const k = this.npend;
      const buf = w.reserve(1 + DIST_HEADER + k);
      let o = this.writeMoments(buf, w.len);
      buf[o++] = KIND_INDICES;
      buf[o++] = k;
      const p = this.pend as Uint16Array;
      for (let i = 0; i < k; i++) buf[o + i] = p[i] as number;
      w.len = o + k;
      this.npend = 0;
    } else if (h === null) {
      const buf = w.reserve(1 + DIST_HEADER + n);
      let o = this.writeMoments(buf, w.len);
      buf[o++] = KIND_RAW;
      buf[o++] = n;
      // copied in a loop: a subarray view per dist and delta was most of a shard's garbage
      for (let i = 0; i < n; i++) buf[o + i] = s[VALUES + i] as number;
      w.len = o + n;
    } else {
      if (this.npend > 0) this.fold();
      const lo = indexOfValue(histValue(s[MIN] as number));
      const hi = indexOfValue(histValue(s[MAX] as number));
      const buf = w.reserve(1 + DIST_HEADER + 2 * (hi - lo + 1));
      let o = this.writeMoments(buf, w.len);
      buf[o++] = KIND_BUCKETS;
      const at = o++;
      const c = h._counts;
      // read and zeroed in one pass: every non-zero count lies in [lo, hi]
      for (let i = lo; i <= hi; i++) {
        const x = c[i] as number;
        if (x !== 0) {
          buf[o++] = i;
          buf[o++] = x;
          c[i] = 0;
        }
      }
      buf[at] = (o - at - 1) / 2;
      w.len = o;
      h.setTotalCount(0);
    }
    this.reset(true);
  }

  /** count, sum, min, max, mean and M2 at `o` of a delta's cells; the offset after them */
  private writeMoments(buf: Float64Array, o: number): number {
    const s = this.s;
    buf[o] = s[COUNT] as number;
    buf[o + 1] = s[SUM] as number;
    buf[o + 2] = s[MIN] as number;
    buf[o + 3] = s[MAX] as number;
    buf[o + 4] = s[MEAN] as number;
    buf[o + 5] = s[M2] as number;
    return o + 6;
  }

  snapshot(depth: SnapshotDepth): DistSnapshot {
    const snap = this.moments();
    if (depth === 'full') {
      const h = this.hist;
      snap.hist =
        h === null
          ? valuesHist(this.s.slice(VALUES, VALUES + snap.count).sort())
          : readHistogram(h, indexOfValue(histValue(snap.min)), indexOfValue(histValue(snap.max)));
    }
    return snap;
  }
}
