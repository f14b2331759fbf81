/**
 * The stats-writer protocol, client side: what lib-master's stats-client.c
 * sends to the stats process (docs/dovecot-sockets.md "stats-writer"). The
 * load generator (bench/dovecot) and the tests encode with these; the shard
 * side reads with writer-line.ts / writer-event.ts / writer-state.ts.
 *
 *   client → VERSION	stats-client	4	0
 *   server ← VERSION	stats-server	4	0
 *   server ← FILTER	<tab-escaped event filter>    (again whenever the config changes)
 *   CATEGORY	<name>[	<parent>]
 *   BEGIN	<id>	<parent id>	<log type>	<exported event>
 *   UPDATE	<id>	<parent id>	<exported event>           (no log type)
 *   EVENT	<global event id>	<parent id>	<log type>	<exported event>
 *   END	<id>
 *
 * Fields are tab-escaped (str_append_tabescaped: \001 → \0011, TAB → \001t,
 * CR → \001r, LF → \001n). An exported event (lib-event.c event_export):
 * tv_created as `sec	usec`, then optional `s<file>	<line>`, `a`,
 * `l<sec>	<usec>` (tv_last_sent), `n<name>`, `c<category>` per category,
 * and per field `S<key>	<string>`, `I<key>	<integer>`, `T<key>	<sec>	<usec>`,
 * `L<key>	<count>	<value>…` (2.4 adds `P<key>	<ip>`). Log type 0 is
 * debug (e_debug, how imap sends imap_command_finished).
 */

/** the stats-client protocol's major version (Dovecot 2.3 and 2.4: 4.0) */
export const STATS_CLIENT_MAJOR = 4;
export const CLIENT_VERSION = `VERSION\tstats-client\t${STATS_CLIENT_MAJOR}\t0\n`;
export const SERVER_VERSION = `VERSION\tstats-server\t${STATS_CLIENT_MAJOR}\t0`;
export const LOG_TYPE_DEBUG = 0;

/** a struct timeval */
export interface Tv {
  sec: number;
  usec: number;
}

/** An event field with its type, as event_export writes it (S string, I integer, T timeval, L strlist; P ip is 2.4's). */
export type Field =
  | readonly [string, 'S', string]
  | readonly [string, 'I', number]
  | readonly [string, 'T', Tv]
  | readonly [string, 'L', readonly string[]]
  | readonly [string, 'P', string];

/** An event as a Dovecot process holds it when it exports it. */
export interface SourceEvent {
  /** the event's name (sending_name); a parent event usually has none */
  name: string | null;
  created: Tv;
  /** tv_last_sent: Dovecot's duration is lastSent − created */
  lastSent: Tv | null;
  /** source file and line, or null for none */
  source: readonly [string, number] | null;
  categories: readonly string[];
  fields: readonly Field[];
}

const NEEDS_ESCAPE = /[\x00\x01\t\r\n]/;
const ESCAPES = /[\x00\x01\t\r\n]/g;
const ESC: Record<string, string> = { '\x00': '\x010', '\x01': '\x011', '\t': '\x01t', '\r': '\x01r', '\n': '\x01n' };

/**
 * str_append_tabescaped, the one escaping of both Dovecot sockets: \001, TAB,
 * CR, LF (2.3.19), and a NUL as \0010 (a C string has none; a JS string may,
 * and Dovecot's unescaping reads \0010 as NUL).
 */
export function tabEscape(s: string): string {
  return NEEDS_ESCAPE.test(s) ? s.replace(ESCAPES, (c) => ESC[c] as string) : s;
}

/** str_tabunescape (the writer parser's, for a whole argument such as FILTER's) */
export { unescapeArg as tabUnescape } from './writer-line.js';

const tv = (t: Tv): string => `${t.sec}\t${t.usec}`;

/** event_export */
export function exportEvent(e: SourceEvent): string {
  let s = tv(e.created);
  if (e.source !== null) s += `\ts${tabEscape(e.source[0])}\t${e.source[1]}`;
  if (e.lastSent !== null) s += `\tl${tv(e.lastSent)}`;
  if (e.name !== null) s += `\tn${tabEscape(e.name)}`;
  for (const c of e.categories) s += `\tc${tabEscape(c)}`;
  for (const f of e.fields) {
    const key = tabEscape(f[0]);
    switch (f[1]) {
      case 'S':
        s += `\tS${key}\t${tabEscape(f[2])}`;
        break;
      case 'I':
        s += `\tI${key}\t${f[2]}`;
        break;
      case 'T':
        s += `\tT${key}\t${tv(f[2])}`;
        break;
      case 'L':
        s += `\tL${key}\t${f[2].length}`;
        for (const v of f[2]) s += `\t${tabEscape(v)}`;
        break;
      case 'P':
        s += `\tP${key}\t${f[2]}`;
        break;
    }
  }
  return s;
}

export const categoryLine = (name: string, parent?: string): string => `CATEGORY\t${tabEscape(name)}${parent === undefined ? '' : `\t${tabEscape(parent)}`}\n`;
export const beginLine = (id: number, parentId: number, e: SourceEvent, logType = LOG_TYPE_DEBUG): string => `BEGIN\t${id}\t${parentId}\t${logType}\t${exportEvent(e)}\n`;
export const updateLine = (id: number, parentId: number, e: SourceEvent): string => `UPDATE\t${id}\t${parentId}\t${exportEvent(e)}\n`;
export const eventLine = (parentId: number, e: SourceEvent, logType = LOG_TYPE_DEBUG, globalId = 0): string => `EVENT\t${globalId}\t${parentId}\t${logType}\t${exportEvent(e)}\n`;
export const endLine = (id: number): string => `END\t${id}\n`;
