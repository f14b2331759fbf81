/**
 * Dovecot wildcards (`*` any run, `?` one character, `\` escaping `*`, `?`
 * and `\`), compiled once into a token array and a specialised test.
 * Case-insensitive tests fold ASCII letters only, like Dovecot's i_toupper.
 */

export type StrTest = (s: string) => boolean;

const STAR = -1;
const QMARK = -2;

function fold(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c + 32 : c;
}

/** ASCII lower-casing, as used for case-insensitive patterns. */
export function foldAscii(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

/** Pattern tokens: char codes for literals, STAR, QMARK; runs of stars collapsed. */
export function wildcardTokens(pattern: string, icase: boolean): Int32Array {
  const out: number[] = [];
  for (let i = 0; i < pattern.length; i++) {
    let c = pattern.charCodeAt(i);
    if (c === 0x5c && i + 1 < pattern.length) {
      const n = pattern.charCodeAt(i + 1);
      if (n === 0x2a || n === 0x3f || n === 0x5c) {
        c = n;
        i++;
        out.push(icase ? fold(c) : c);
        continue;
      }
    }
    if (c === 0x2a) {
      if (out[out.length - 1] !== STAR) out.push(STAR);
    } else if (c === 0x3f) out.push(QMARK);
    else out.push(icase ? fold(c) : c);
  }
  return Int32Array.from(out);
}

function charLen(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
    const d = s.charCodeAt(i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return 2;
  }
  return 1;
}

/** General matcher with single-star backtracking: no allocation, O(n·m) worst case. */
function glob(t: Int32Array, s: string, icase: boolean): boolean {
  const n = s.length;
  const m = t.length;
  let si = 0;
  let ti = 0;
  let starT = -1;
  let starS = 0;
  while (si < n) {
    if (ti < m) {
      const tok = t[ti] as number;
      if (tok === STAR) {
        starT = ++ti;
        starS = si;
        continue;
      }
      if (tok === QMARK) {
        si += charLen(s, si);
        ti++;
        continue;
      }
      const c = icase ? fold(s.charCodeAt(si)) : s.charCodeAt(si);
      if (c === tok) {
        si++;
        ti++;
        continue;
      }
    }
    if (starT < 0) return false;
    starS += charLen(s, starS);
    si = starS;
    ti = starT;
  }
  while (ti < m && t[ti] === STAR) ti++;
  return ti === m;
}

/** Same algorithm over ASCII codes in a buffer (decimal text of a number). */
export function globCodes(t: Int32Array, buf: Uint8Array, n: number): boolean {
  const m = t.length;
  let si = 0;
  let ti = 0;
  let starT = -1;
  let starS = 0;
  while (si < n) {
    if (ti < m) {
      const tok = t[ti] as number;
      if (tok === STAR) {
        starT = ++ti;
        starS = si;
        continue;
      }
      if (tok === QMARK || tok === buf[si]) {
        si++;
        ti++;
        continue;
      }
    }
    if (starT < 0) return false;
    si = ++starS;
    ti = starT;
  }
  while (ti < m && t[ti] === STAR) ti++;
  return ti === m;
}

function equalsAt(s: string, at: number, lit: string, icase: boolean): boolean {
  if (!icase) return s.startsWith(lit, at);
  for (let i = 0; i < lit.length; i++) {
    if (fold(s.charCodeAt(at + i)) !== lit.charCodeAt(i)) return false;
  }
  return true;
}

function indexOfFrom(s: string, lit: string, icase: boolean): boolean {
  if (!icase) return s.includes(lit);
  const last = s.length - lit.length;
  for (let at = 0; at <= last; at++) if (equalsAt(s, at, lit, true)) return true;
  return false;
}

/** An exact comparison (no wildcards in `text`, already unescaped). */
export function exactTest(text: string, icase: boolean): StrTest {
  if (!icase) return (s) => s === text;
  const lit = foldAscii(text);
  const n = lit.length;
  return (s) => s.length === n && equalsAt(s, 0, lit, true);
}

/** A wildcard test for an escaped pattern, specialised by its shape. */
export function wildcardTest(pattern: string, icase: boolean): StrTest {
  const t = wildcardTokens(pattern, icase);
  let stars = 0;
  let qmarks = 0;
  for (const tok of t) {
    if (tok === STAR) stars++;
    else if (tok === QMARK) qmarks++;
  }
  const lit = (from: number, to: number): string => {
    let out = '';
    for (let i = from; i < to; i++) out += String.fromCharCode(t[i] as number);
    return out;
  };
  const m = t.length;
  if (qmarks === 0 && stars === 0) return exactTest(lit(0, m), icase);
  if (qmarks === 0 && stars === 1 && m === 1) return () => true;
  if (qmarks === 0 && stars === 1 && t[m - 1] === STAR) {
    const p = lit(0, m - 1);
    return (s) => s.length >= p.length && equalsAt(s, 0, p, icase);
  }
  if (qmarks === 0 && stars === 1 && t[0] === STAR) {
    const p = lit(1, m);
    return (s) => s.length >= p.length && equalsAt(s, s.length - p.length, p, icase);
  }
  if (qmarks === 0 && stars === 2 && t[0] === STAR && t[m - 1] === STAR) {
    const p = lit(1, m - 1);
    return (s) => indexOfFrom(s, p, icase);
  }
  return (s) => glob(t, s, icase);
}
