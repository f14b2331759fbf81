/**
 * Dovecot's tab escaping (lib/strescape.c str_tabescape / str_tabunescape),
 * used by the stats-writer and stats-reader protocols: \001 → \0011,
 * TAB → \001t, CR → \001r, LF → \001n (and \0010 for NUL on the way back).
 */
const NEEDS_ESCAPE = /[\x01\t\r\n]/;
const ESCAPES = /[\x01\t\r\n]/g;
const ESC: Readonly<Record<string, string>> = { '\x01': '\x011', '\t': '\x01t', '\r': '\x01r', '\n': '\x01n' };
const UNESC: Readonly<Record<string, string>> = { '0': '\x00', '1': '\x01', t: '\t', r: '\r', n: '\n' };

export function tabEscape(s: string): string {
  return NEEDS_ESCAPE.test(s) ? s.replace(ESCAPES, (c) => ESC[c] as string) : s;
}

/** The other way; an escape of another character stands for that character (as str_tabunescape). */
export function tabUnescape(s: string): string {
  return s.includes('\x01') ? s.replace(/\x01([\s\S])/g, (_, c: string) => UNESC[c] ?? c) : s;
}
