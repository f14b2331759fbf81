/**
 * Number formatting: C's `%.Nf` (exact binary value, ties to even), integer
 * cells, and the sample values of the text formats.
 */

const bits = new DataView(new ArrayBuffer(8));
const POW10: bigint[] = [];
for (let i = 0, p = 1n; i <= 20; i++, p *= 10n) POW10.push(p);

/**
 * What C's `printf("%.<digits>f", x)` prints: the exact decimal expansion of
 * the double rounded to `digits` decimals, an exact tie going to the even
 * digit (`toFixed` rounds ties away from zero and is not exact).
 */
export function formatCFixed(x: number, digits: number): string {
  const fast = digits <= 15 ? fastFixed(x, digits) : null;
  if (fast !== null) return fast;
  return exactFixed(x, digits);
}

const POW10_NUM: number[] = [];
for (let i = 0; i <= 15; i++) POW10_NUM.push(10 ** i);

/**
 * The common case in plain doubles: when |x|·10^digits is below 2^52 and its
 * fraction is not within a few ulps of one half, rounding the double product
 * decides like the exact value would. Otherwise null (the exact path decides).
 */
function fastFixed(x: number, digits: number): string | null {
  const a = x < 0 ? -x : x;
  const y = a * (POW10_NUM[digits] as number);
  if (!(y < 4503599627370496)) return null;
  const n = Math.floor(y);
  const f = y - n;
  const slack = y * 8.881784197001252e-16 + 5e-324;
  if (Math.abs(f - 0.5) <= slack) return null;
  const q = f > 0.5 ? n + 1 : n;
  const sign = x < 0 || Object.is(x, -0) ? '-' : '';
  let s = String(q);
  if (digits === 0) return sign + s;
  if (s.length <= digits) s = '0'.repeat(digits + 1 - s.length) + s;
  return `${sign}${s.slice(0, s.length - digits)}.${s.slice(s.length - digits)}`;
}

function exactFixed(x: number, digits: number): string {
  if (Number.isNaN(x)) return 'nan';
  bits.setFloat64(0, x);
  const hi = bits.getUint32(0);
  const lo = bits.getUint32(4);
  const neg = hi >>> 31 === 1;
  if (!Number.isFinite(x)) return neg ? '-inf' : 'inf';
  const expBits = (hi >>> 20) & 0x7ff;
  const frac = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  const mant = expBits === 0 ? frac : frac | (1n << 52n);
  const exp = expBits === 0 ? -1074 : expBits - 1075;
  const scale = POW10[digits] ?? 10n ** BigInt(digits);
  let q: bigint;
  if (exp >= 0) q = (mant << BigInt(exp)) * scale;
  else {
    const num = mant * scale;
    const den = 1n << BigInt(-exp);
    q = num / den;
    const twice = (num - q * den) * 2n;
    if (twice > den || (twice === den && (q & 1n) === 1n)) q += 1n;
  }
  let s = q.toString();
  const sign = neg ? '-' : '';
  if (digits === 0) return sign + s;
  if (s.length <= digits) s = '0'.repeat(digits + 1 - s.length) + s;
  return `${sign}${s.slice(0, s.length - digits)}.${s.slice(s.length - digits)}`;
}

/** `%.2f` */
export function formatC2(x: number): string {
  return formatCFixed(x, 2);
}

/** An integer cell: the floor, in plain digits however large. */
export function formatFloor(x: number): string {
  if (!Number.isFinite(x)) return formatCFixed(x, 0);
  const f = Math.floor(x);
  if (f > -1e21 && f < 1e21) return f === 0 ? '0' : String(f);
  return BigInt(f).toString();
}

/** A sample value of OpenMetrics / Prometheus text: `NaN`, `+Inf`, `-Inf` or the shortest round-trip form. */
export function formatSample(x: number): string {
  if (Number.isFinite(x)) return x === 0 ? '0' : String(x);
  if (Number.isNaN(x)) return 'NaN';
  return x > 0 ? '+Inf' : '-Inf';
}

/** A JSON number (never NaN or Infinity: those become null). */
export function formatJsonNumber(x: number): string {
  if (!Number.isFinite(x)) return 'null';
  return x === 0 ? '0' : String(x);
}
