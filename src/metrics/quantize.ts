/**
 * group_by quantizers (docs/contract.md §5.2): bucket ranges, bucket lookup and names.
 * Buckets are half-open `(lo, hi]`; the first has lo = -Infinity, the last hi = +Infinity.
 */
import type { ExponentialLevel, LinearLevel } from '../config/types.js';

export interface Bucket {
  readonly lo: number;
  readonly hi: number;
  /** the sub-metric name: `<field>_ninf_<hi>`, `<field>_<lo+1>_<hi>` or `<field>_<lo+1>_inf` */
  readonly name: string;
}

export class Quantizer {
  readonly field: string;
  readonly buckets: readonly Bucket[];
  /** upper bounds of all but the last bucket, ascending (for the lookup) */
  private readonly uppers: Float64Array;

  constructor(level: ExponentialLevel | LinearLevel) {
    this.field = level.field;
    const bounds: number[] = [];
    if (level.kind === 'exponential') {
      for (let m = level.min; m <= level.max; m++) bounds.push(level.base ** m);
    } else {
      bounds.push(level.min);
      for (let i = 1; ; i++) {
        const hi = Math.min(level.min + i * level.step, level.max);
        bounds.push(hi);
        if (hi >= level.max) break;
      }
    }
    const buckets: Bucket[] = [];
    const f = level.field;
    for (let i = 0; i <= bounds.length; i++) {
      const lo = i === 0 ? -Infinity : (bounds[i - 1] as number);
      const hi = i === bounds.length ? Infinity : (bounds[i] as number);
      const name =
        lo === -Infinity ? `${f}_ninf_${hi}` : hi === Infinity ? `${f}_${lo + 1}_inf` : `${f}_${lo + 1}_${hi}`;
      buckets.push({ lo, hi, name });
    }
    this.buckets = buckets;
    this.uppers = Float64Array.from(bounds);
  }

  /** index of the bucket holding `v` (the first with v <= hi) */
  indexOf(v: number): number {
    const u = this.uppers;
    let lo = 0;
    let hi = u.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (v <= (u[mid] as number)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}
