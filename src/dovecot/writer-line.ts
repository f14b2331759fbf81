/**
 * One stats-writer line into its arguments, the way Dovecot's connection
 * layer reads it (docs/dovecot-sockets.md, "stats-writer"):
 *
 * - the line is a C string: a NUL byte ends it (i_stream_next_line), and a
 *   CR before the LF is dropped;
 * - it is split at TABs and each argument is tab-unescaped
 *   (strescape.c p_strsplit_tabescaped_inplace / str_tabunescape_from):
 *   \001 + '0' '1' 't' 'r' 'n' → NUL \001 TAB CR LF, \001 + any other
 *   character → that character, a \001 ending the argument is dropped.
 *   Nothing is a "bad escape" to Dovecot;
 * - an argument that unescapes to a NUL is read up to it (it is a C string);
 * - an empty line has no arguments (connection.c: "Unexpectedly received
 *   empty line", fatal).
 *
 * Numbers are parsed like lib/strnum.c: digits only (uint, uint64), an
 * optional '-' for intmax and time_t, no spaces, no '+', leading zeros fine,
 * out of range is an error.
 */

/** Dovecot's stats-writer input buffer (client-writer.c input_max_size = 128 KiB): a longer line closes the connection. */
export const MAX_LINE_BYTES = 128 * 1024 - 1;

function unescapeFrom(s: string, first: number): string {
  let out = s.slice(0, first);
  let i = first;
  for (;;) {
    // s[i] is \001
    if (i + 1 >= s.length) return out; // truncated escape: dropped
    const c = s.charCodeAt(i + 1);
    switch (c) {
      case 0x30: // '0': a NUL ends the C string
        return out;
      case 0x31:
        out += '\x01';
        break;
      case 0x74:
        out += '\t';
        break;
      case 0x72:
        out += '\r';
        break;
      case 0x6e:
        out += '\n';
        break;
      default:
        out += s[i + 1];
    }
    i += 2;
    const next = s.indexOf('\x01', i);
    if (next === -1) return out + s.slice(i);
    out += s.slice(i, next);
    i = next;
  }
}

/** str_tabunescape as Dovecot's consumers see the result (up to a NUL). */
export function unescapeArg(s: string): string {
  const e = s.indexOf('\x01');
  return e === -1 ? s : unescapeFrom(s, e);
}

/**
 * The arguments of the line `buf[start, end)` (end excludes the LF), or an
 * empty array for an empty line.
 */
export function splitLine(buf: Buffer, start: number, end: number): string[] {
  if (end > start && buf[end - 1] === 0x0d) end--;
  if (end <= start) return [];
  let text = buf.toString('utf8', start, end);
  const nul = text.indexOf('\x00');
  if (nul !== -1) {
    if (nul === 0) return [];
    text = text.slice(0, nul);
  }
  const args = text.split('\t');
  if (text.includes('\x01')) {
    for (let i = 0; i < args.length; i++) args[i] = unescapeArg(args[i] as string);
  }
  return args;
}

const DIGITS = /^[0-9]+$/;
const SIGNED = /^-?[0-9]+$/;
const U64_MAX = (1n << 64n) - 1n;
const I64_MAX = (1n << 63n) - 1n;
const I64_MIN = -(1n << 63n);

/** str_to_uint (unsigned int, 32 bits), or -1. */
export function parseUint(s: string | undefined): number {
  if (s === undefined || !DIGITS.test(s)) return -1;
  if (s.length > 10) {
    const t = s.replace(/^0+(?=.)/, '');
    if (t.length > 10) return -1;
    s = t;
  }
  const n = Number(s);
  return n <= 0xffffffff ? n : -1;
}

/**
 * str_to_uint64 as a Map key: the number when it is exact in a double, else
 * its canonical decimal text; null when it is not a uint64.
 */
export function parseId(s: string | undefined): number | string | null {
  if (s === undefined || !DIGITS.test(s)) return null;
  if (s.length <= 15) return Number(s);
  const b = BigInt(s);
  if (b > U64_MAX) return null;
  return b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b.toString();
}

/** str_to_intmax (and str_to_time), as the nearest double; NaN when it is not one. */
export function parseIntmax(s: string | undefined): number {
  if (s === undefined || !SIGNED.test(s)) return NaN;
  if (s.length <= 16) return Number(s);
  const b = BigInt(s);
  return b > I64_MAX || b < I64_MIN ? NaN : Number(b);
}
