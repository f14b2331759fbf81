/**
 * Percentiles over a time window: the difference of two snapshots of one
 * growing distribution (now minus then), bucket by bucket in the fixed HDR
 * geometry (geometry.ts). Exact for integers below 2048, within 1/1024
 * above, like every histogram percentile here.
 */
import { highestAtIndex, histValue, indexOfValue } from './geometry.js';
import { rankIndex } from './stats.js';
import type { DistHist } from './types.js';

interface Buckets {
  index: ArrayLike<number>;
  counts: ArrayLike<number>;
}

const NONE: Buckets = { index: [], counts: [] };

/** A hist as ascending counts-array indices and their counts. */
function bucketsOf(h: DistHist | undefined): Buckets {
  if (h === undefined) return NONE;
  if (h.kind === 'hdr') return h;
  // sorted values: their indices ascend too (histValue and indexOfValue are monotonic)
  const index: number[] = [];
  const counts: number[] = [];
  for (let i = 0; i < h.values.length; i++) {
    const j = indexOfValue(histValue(h.values[i] as number));
    if (index.length > 0 && index[index.length - 1] === j) counts[counts.length - 1] = (counts[counts.length - 1] as number) + 1;
    else {
      index.push(j);
      counts.push(1);
    }
  }
  return { index, counts };
}

export interface WindowStats {
  /** values recorded between `then` and `now` */
  count: number;
  /** the percentiles asked for, in order (0 for an empty window) */
  values: number[];
}

/**
 * Nearest-rank percentiles (p in percent) of the values recorded between
 * two snapshots of one distribution: `now` minus `then` (`then` undefined:
 * everything in `now`). `then` must be an earlier state of the same
 * distribution (not reset in between): a bucket it has more of than `now`
 * counts as 0.
 */
export function windowPercentiles(now: DistHist | undefined, then: DistHist | undefined, ps: readonly number[]): WindowStats {
  const a = bucketsOf(now);
  const b = bucketsOf(then);
  const index: number[] = [];
  const counts: number[] = [];
  let total = 0;
  let j = 0;
  for (let i = 0; i < a.index.length; i++) {
    const idx = a.index[i] as number;
    while (j < b.index.length && (b.index[j] as number) < idx) j++;
    const before = j < b.index.length && b.index[j] === idx ? (b.counts[j] as number) : 0;
    const c = (a.counts[i] as number) - before;
    if (c > 0) {
      index.push(idx);
      counts.push(c);
      total += c;
    }
  }
  if (total === 0) return { count: 0, values: ps.map(() => 0) };
  const values = ps.map((p) => {
    const rank = rankIndex(total, p);
    let seen = 0;
    for (let k = 0; k < counts.length; k++) {
      seen += counts[k] as number;
      if (seen > rank) return highestAtIndex(index[k] as number);
    }
    return highestAtIndex(index[index.length - 1] as number);
  });
  return { count: total, values };
}
