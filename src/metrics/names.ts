/**
 * Sub-metric display names (docs/contract.md §5.3): sanitizing and the name budget.
 */

/** Control characters and invalid UTF-8 (lone surrogates, U+FFFD already) become U+FFFD. */
export function sanitizeName(s: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = /[\u0000-\u001f\u007f]/.test(s) ? s.replace(/[\u0000-\u001f\u007f]/g, '\uFFFD') : s;
  return clean.isWellFormed() ? clean : clean.toWellFormed();
}

const encoder = new TextEncoder();

export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** Cuts `s` to at most `maxCps` code points: `maxCps - 1` of them plus `…`. */
export function truncateCodePoints(s: string, maxCps: number): string {
  if (s.length <= maxCps) return s; // UTF-16 length >= code points
  let cps = 0;
  for (const _ of s) cps++;
  if (cps <= maxCps) return s;
  if (maxCps <= 0) return '';
  let out = '';
  let k = 0;
  for (const ch of s) {
    if (k++ >= maxCps - 1) break;
    out += ch;
  }
  return out + '\u2026';
}

export { encoder as utf8Encoder };
