/**
 * Dovecot's number, size and interval syntax (strnum.c, str-parse.c), computed
 * with BigInt so the overflow limits are Dovecot's own.
 */

const INTMAX_MAX = (1n << 63n) - 1n;
const INTMAX_MIN = -(1n << 63n);
const UINTMAX_MAX = (1n << 64n) - 1n;
const UINT_MAX = (1n << 32n) - 1n;

function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}

function asciiUpperChar(c: string | undefined): string {
  return c !== undefined && c >= 'a' && c <= 'z' ? String.fromCharCode(c.charCodeAt(0) - 32) : (c ?? '');
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

/** A signed 64-bit integer, the whole string (`str_to_intmax`), or null. */
export function parseIntmax(s: string): bigint | null {
  let i = 0;
  if (s[0] === '-') i = 1;
  if (i >= s.length) return null;
  for (let j = i; j < s.length; j++) if (!isDigit(s[j])) return null;
  const n = BigInt(s);
  return n > INTMAX_MAX || n < INTMAX_MIN ? null : n;
}

/** Leading unsigned decimal digits (`str_parse_uintmax`): the number and where it ended. */
function parseUintPrefix(s: string): { n: bigint; end: number } | null {
  let end = 0;
  while (isDigit(s[end])) end++;
  if (end === 0) return null;
  const n = BigInt(s.slice(0, end));
  return n > UINTMAX_MAX ? null : { n, end };
}

function skipSpaces(s: string, i: number): number {
  while (s[i] === ' ') i++;
  return i;
}

const SIZE_UNITS: Record<string, bigint> = {
  B: 1n,
  K: 1024n,
  M: 1024n ** 2n,
  G: 1024n ** 3n,
  T: 1024n ** 4n,
};

/** A size in bytes (`str_parse_get_size`): `10kb`, `1 MiB`, `5G`, powers of 1024. */
export function parseSize(s: string): bigint | null {
  const num = parseUintPrefix(s);
  if (num === null) return null;
  let i = skipSpaces(s, num.end);
  let multiply = 1n;
  const unit = SIZE_UNITS[asciiUpperChar(s[i])];
  if (unit !== undefined) {
    multiply = unit;
    i++;
  }
  if (multiply > 1n) {
    if (s[i] === 'i' || s[i] === 'I') i++;
    if (s[i] === 'b' || s[i] === 'B') i++;
  }
  if (i !== s.length) return null;
  if (num.n > UINTMAX_MAX / multiply) return null;
  return num.n * multiply;
}

/** True for a size whose last character is M/m: MiB or minutes, Dovecot refuses to guess. */
export function isAmbiguousSize(s: string): boolean {
  const last = s[s.length - 1];
  return (last === 'M' || last === 'm') && parseSize(s) !== null;
}

const SECOND = 1000n;
const INTERVAL_UNITS: Record<string, { words: readonly string[]; ms: bigint }> = {
  S: { words: ['secs', 'seconds'], ms: SECOND },
  M: { words: ['mins', 'minutes'], ms: 60n * SECOND },
  H: { words: ['hours'], ms: 3600n * SECOND },
  D: { words: ['days'], ms: 86400n * SECOND },
  W: { words: ['weeks'], ms: 604800n * SECOND },
};
const MSEC_WORDS = ['msecs', 'mseconds', 'millisecs', 'milliseconds'];

function prefixOfAny(p: string, words: readonly string[]): boolean {
  const lower = asciiLower(p);
  return words.some((w) => w.startsWith(lower));
}

/** A time interval in milliseconds (`str_parse_get_interval_msecs`): `1s`, `250ms`, `1min`, `2h`. */
export function parseIntervalMsecs(s: string): bigint | null {
  const num = parseUintPrefix(s);
  if (num === null) return null;
  const i = skipSpaces(s, num.end);
  const rest = s.slice(i);
  if (rest === '') return num.n === 0n ? 0n : null;
  const unit = INTERVAL_UNITS[asciiUpperChar(rest[0])];
  if (unit === undefined) return null;
  let multiply: bigint;
  if (prefixOfAny(rest, unit.words)) multiply = unit.ms;
  else if (asciiUpperChar(rest[0]) === 'M' && prefixOfAny(rest, MSEC_WORDS)) multiply = 1n;
  else return null;
  if (num.n > UINT_MAX / multiply) return null;
  return num.n * multiply;
}

export { INTMAX_MAX };
