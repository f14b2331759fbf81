/**
 * The seeded generator of `tallyd load` (src/cli/mailevents.ts), copied so
 * that the bench's sessions do not move when that file changes: sfc32
 * seeded through splitmix32, Box–Muller normals, weighted picks.
 */

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare: number | null = null;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** uniform in [0, 1) */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** uniform integer in [0, n) */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** standard normal (Box–Muller, the second value kept for the next call) */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.float();
    const v = this.float();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** log-normal with the given median and shape σ, rounded, clamped to [min, max] */
  logNormal(median: number, sigma: number, min = 1, max = Number.MAX_SAFE_INTEGER): number {
    return Math.min(max, Math.max(min, Math.round(median * Math.exp(sigma * this.normal()))));
  }

  pick<T>(table: Weighted<T>): T {
    const x = this.float() * table.total;
    const { cum, items } = table;
    let lo = 0;
    let hi = cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((cum[mid] as number) > x) hi = mid;
      else lo = mid + 1;
    }
    return items[lo] as T;
  }
}

export interface Weighted<T> {
  items: T[];
  cum: number[];
  total: number;
}

export function weighted<T>(pairs: [T, number][]): Weighted<T> {
  let total = 0;
  const cum: number[] = [];
  for (const [, w] of pairs) {
    total += w;
    cum.push(total);
  }
  return { items: pairs.map(([v]) => v), cum, total };
}
