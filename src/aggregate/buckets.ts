/**
 * The HDR kind: the non-zero counts of the fixed geometry as a byte string,
 * in HdrHistogram's V2 payload style (ZigZag LEB128 varints, from index 0:
 * a value n > 0 is the count at the next index, -k skips k empty indices).
 * Merging adds into a dense scratch array and encodes the touched range.
 */
import type { Int32Histogram } from 'hdr-histogram-js';
import { COUNTS_LENGTH, highestAtIndex, histValue, indexOfValue } from './geometry.js';
import type { BucketsHist, DistHist } from './types.js';

/** a count below 2^53 takes at most 8 bytes */
const out = new Uint8Array(COUNTS_LENGTH * 8);
let wp = 0;
const acc = new Float64Array(COUNTS_LENGTH);
let accLo = COUNTS_LENGTH;
let accHi = -1;

function put(n: number): void {
  let z = n >= 0 ? 2 * n : -2 * n - 1;
  while (z >= 128) {
    out[wp++] = (z % 128) | 128;
    z = Math.floor(z / 128);
  }
  out[wp++] = z;
}

/** reads the varints of one BucketsHist */
class Reader {
  readonly data: Uint8Array;
  pos: number;

  constructor(h: BucketsHist) {
    this.data = h.data;
    this.pos = 0;
  }

  more(): boolean {
    return this.pos < this.data.length;
  }

  /** the next varint, ZigZag still applied: odd = a run of (z + 1) / 2 empty indices, even = a count of z / 2 */
  next(): number {
    const d = this.data;
    let p = this.pos;
    let z = 0;
    let scale = 1;
    let b: number;
    do {
      b = d[p++] as number;
      z += (b & 127) * scale;
      scale *= 128;
    } while (b >= 128);
    this.pos = p;
    return z;
  }
}

/** encodes counts[lo..hi] (zero below lo and above hi) */
function encode(counts: ArrayLike<number>, lo: number, hi: number): BucketsHist {
  wp = 0;
  let gap = lo;
  for (let i = lo; i <= hi; i++) {
    const c = counts[i] as number;
    if (c === 0) gap++;
    else {
      if (gap > 0) put(-gap);
      put(c);
      gap = 0;
    }
  }
  return { kind: 'hdr', data: out.slice(0, wp) };
}

/** the non-zero counts of `h` between indices lo and hi (inclusive) */
export function readHistogram(h: Int32Histogram, lo: number, hi: number): BucketsHist {
  return encode(h._counts, lo, hi);
}

/** (index, count) of every non-zero count, ascending */
export function eachBucket(h: BucketsHist, visit: (index: number, count: number) => void): void {
  const r = new Reader(h);
  let index = 0;
  while (r.more()) {
    const z = r.next();
    if (z % 2 === 1) index += (z + 1) / 2;
    else visit(index++, z / 2);
  }
}

function addToAcc(h: DistHist): void {
  let lo = accLo;
  let hi = accHi;
  if (h.kind === 'values') {
    const v = h.values;
    for (let k = 0; k < v.length; k++) {
      const i = indexOfValue(histValue(v[k] as number));
      acc[i] = (acc[i] as number) + 1;
      if (i < lo) lo = i;
      if (i > hi) hi = i;
    }
  } else {
    const r = new Reader(h);
    let i = 0;
    while (r.more()) {
      const z = r.next();
      if (z % 2 === 1) i += (z + 1) / 2;
      else {
        acc[i] = (acc[i] as number) + z / 2;
        if (i < lo) lo = i;
        if (i > hi) hi = i;
        i++;
      }
    }
  }
  accLo = lo;
  accHi = hi;
}

/** the bucket-wise sum of two hists of either kind */
export function mergeToBuckets(a: DistHist, b: DistHist): BucketsHist {
  addToAcc(a);
  addToAcc(b);
  const r = encode(acc, accLo, accHi);
  if (accHi >= accLo) acc.fill(0, accLo, accHi + 1);
  accLo = COUNTS_LENGTH;
  accHi = -1;
  return r;
}

/** the highest value of the bucket holding the value of 0-based rank `rank` */
export function bucketValueAt(h: BucketsHist, rank: number): number {
  const r = new Reader(h);
  let i = 0;
  let seen = 0;
  while (r.more()) {
    const z = r.next();
    if (z % 2 === 1) i += (z + 1) / 2;
    else {
      seen += z / 2;
      if (seen > rank) return highestAtIndex(i);
      i++;
    }
  }
  return Infinity;
}
