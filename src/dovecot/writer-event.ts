/**
 * An exported event (lib-event.c event_export / event_import_unescaped,
 * Dovecot 2.3.19; docs/dovecot-sockets.md "stats-writer"):
 *
 *   <tv_created sec>	<usec>	then items, each led by a code letter:
 *   a                      always_log_source (no value)
 *   s<file>	<line>         source location
 *   l<sec>	<usec>          tv_last_sent
 *   n<name>                 sending name
 *   c<category>             a category (must be registered on the connection)
 *   S<key>	<string>       string field
 *   I<key>	<intmax>       integer field
 *   T<key>	<sec>	<usec>  timeval field (here: sec·10⁶ + usec, a number)
 *   L<key>	<n>	<v1>…<vn>  string list field
 *   P<key>	<ip>           IP field (2.4 only; 2.3.19 skips the letter; kept as its text)
 *
 * Any other letter (or an empty argument) is skipped, as event_import_arg
 * does. Importing onto an event clears its categories and merges its fields
 * (a key again replaces the value), which is also what UPDATE does.
 */
import { isIP } from 'node:net';
import type { FieldValue } from '../event/types.js';
import { parseIntmax, parseUint } from './writer-line.js';

/** An event as the stats process holds it after event_import. */
export interface WriterEvent {
  createdSec: number;
  createdUsec: number;
  /** tv_last_sent; sec 0 = never sent (duration 0) */
  lastSentSec: number;
  lastSentUsec: number;
  /** sending_name, or null */
  name: string | null;
  /** the event's own categories, in order, once each */
  categories: string[];
  /** the event's own fields (string, number, or a string list as an array) */
  fields: Map<string, FieldValue>;
  /** whether a number field was ever negative (sticky across UPDATEs: it only sends loading the slow way) */
  negative: boolean;
}

export function newWriterEvent(): WriterEvent {
  return { createdSec: 0, createdUsec: 0, lastSentSec: 0, lastSentUsec: 0, name: null, categories: [], fields: new Map(), negative: false };
}

export const IMPORT_OK = 0;
export const IMPORT_BAD = 1;
export const IMPORT_UNKNOWN_CATEGORY = 2;

/** Why the last import failed (set only then). */
export let importError = '';

function bad(msg: string): number {
  importError = msg;
  return IMPORT_BAD;
}

/** event_import_tv: seconds as time_t (signed), microseconds an uint below 10⁶; -1 for usec on error. */
let tvSec = 0;
function parseTv(sec: string | undefined, usec: string | undefined): number {
  tvSec = parseIntmax(sec);
  if (Number.isNaN(tvSec)) return -1;
  const u = parseUint(usec);
  return u >= 1_000_000 ? -1 : u;
}

/** A short excerpt of a value for an error message. */
export function shownArg(s: string): string {
  return JSON.stringify(s.length <= 64 ? s : `${s.slice(0, 64)}…`);
}

/**
 * Imports `args[k…]` onto `ev`; `categories` are the ones registered on the
 * connection. Returns IMPORT_OK or an error code
 * (`importError` says what); on error `ev` may be half-updated.
 */
export function importEvent(ev: WriterEvent, args: readonly string[], k: number, categories: ReadonlyMap<string, unknown>): number {
  ev.categories.length = 0;
  if (k >= args.length) return bad('Missing required fields');
  const usec = parseTv(args[k], args[k + 1]);
  if (usec < 0) return bad('Invalid tv_created');
  ev.createdSec = tvSec;
  ev.createdUsec = usec;
  const n = args.length;
  for (let i = k + 2; i < n; i++) {
    const arg = args[i] as string;
    const code = arg.charCodeAt(0);
    switch (code) {
      case 0x63: {
        // c
        const cat = arg.slice(1);
        if (!categories.has(cat)) {
          importError = `Unregistered category: ${shownArg(cat)}`;
          return IMPORT_UNKNOWN_CATEGORY;
        }
        if (!ev.categories.includes(cat)) ev.categories.push(cat);
        break;
      }
      case 0x6c: {
        // l
        const u = parseTv(arg.slice(1), args[i + 1]);
        if (u < 0) return bad('Invalid tv_last_sent');
        ev.lastSentSec = tvSec;
        ev.lastSentUsec = u;
        i++;
        break;
      }
      case 0x6e: // n
        ev.name = arg.slice(1);
        break;
      case 0x73: // s
        if (i + 1 >= n) return bad('Source line number missing');
        if (parseUint(args[i + 1]) < 0) return bad('Invalid Source line number');
        i++;
        break;
      case 0x53: // S
      case 0x49: // I
      case 0x54: // T
      case 0x4c: // L
      case 0x50: {
        // P
        const key = arg.slice(1);
        if (key === '') return bad('Field name is missing');
        const v = args[i + 1];
        if (v === undefined) return bad(`Field ${shownArg(key)} value is missing`);
        i++;
        if (code === 0x53) ev.fields.set(key, v);
        else if (code === 0x49) {
          const x = parseIntmax(v);
          if (Number.isNaN(x)) return bad(`Invalid field value ${shownArg(v)} number for ${shownArg(key)}`);
          ev.fields.set(key, x);
          if (x < 0) ev.negative = true;
        } else if (code === 0x54) {
          const u = parseTv(v, args[i + 1]);
          if (u < 0) return bad(`Field ${shownArg(key)}: invalid timeval`);
          const t = tvSec * 1_000_000 + u;
          ev.fields.set(key, t);
          if (t < 0) ev.negative = true;
          i++;
        } else if (code === 0x4c) {
          const count = parseUint(v);
          if (count < 0) return bad(`Field ${shownArg(key)} has invalid count: ${shownArg(v)}`);
          // Dovecot 2.3.19 checks `i < count` after its loop (one short); a list cut short is an error here
          if (i + count >= n) return bad(`Field ${shownArg(key)} has too few values`);
          ev.fields.set(key, args.slice(i + 1, i + 1 + count));
          i += count;
        } else {
          if (!isIpText(v)) return bad(`Invalid field value ${shownArg(v)} IP for ${shownArg(key)}`);
          ev.fields.set(key, v);
        }
        break;
      }
      default:
        // 'a' (always_log_source), and letters Dovecot does not know: skipped
        break;
    }
  }
  return IMPORT_OK;
}

/** net_addr2ip: an IPv4 or IPv6 address, IPv6 optionally in brackets. */
function isIpText(s: string): boolean {
  if (isIP(s) !== 0) return true;
  return s.length > 2 && s.charCodeAt(0) === 0x5b && s.charCodeAt(s.length - 1) === 0x5d && isIP(s.slice(1, -1)) === 6;
}

/**
 * stats-metrics.c stats_metrics_event / event_get_last_duration: µs from
 * tv_created to tv_last_sent, 0 when never sent; negative is an assertion
 * failure in Dovecot (returned as is here, the caller refuses it).
 */
export function durationOf(ev: WriterEvent): number {
  if (ev.lastSentSec === 0) return 0;
  return (ev.lastSentSec - ev.createdSec) * 1_000_000 + (ev.lastSentUsec - ev.createdUsec);
}
