/**
 * Event validation (docs/contract.md §2.1, 2.2, 2.3): loads one decoded value into the
 * reused TallyEvent, or says why it is rejected. Never throws, never
 * allocates for a valid event.
 */
import type { TallyEvent } from './types.js';

/** Rejection reasons; the index is the reason code, the text the self-metric label. */
export const REJECT_REASONS = [
  '',
  'not_a_map',
  'missing_name',
  'invalid_name',
  'invalid_duration',
  'invalid_categories',
  'invalid_fields',
  'invalid_field_value',
  'invalid_json',
  // the stats-writer protocol (src/dovecot/, docs/dovecot-sockets.md "stats-writer"):
  // lines of any command, counted by what was wrong with them
  'writer_bad_line',
  'writer_unknown_command',
  'writer_unknown_parent',
  'writer_unknown_event',
  'writer_unknown_category',
  'writer_duplicate_event',
  'writer_conflict',
  'writer_negative_duration',
  'writer_line_too_long',
  'writer_limit',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export const R_OK = 0;
export const R_NOT_A_MAP = 1;
export const R_MISSING_NAME = 2;
export const R_INVALID_NAME = 3;
export const R_INVALID_DURATION = 4;
export const R_INVALID_CATEGORIES = 5;
export const R_INVALID_FIELDS = 6;
export const R_INVALID_FIELD_VALUE = 7;
export const R_INVALID_JSON = 8;
/** malformed: missing argument, bad number or log type, bad exported event, empty line (fatal) */
export const R_WRITER_BAD_LINE = 9;
/** not EVENT/BEGIN/UPDATE/END/CATEGORY (fatal) */
export const R_WRITER_UNKNOWN_COMMAND = 10;
/** an EVENT/BEGIN names a parent or global event id that is not open (fatal) */
export const R_WRITER_UNKNOWN_PARENT = 11;
/** UPDATE/END of an id that is not open (fatal) */
export const R_WRITER_UNKNOWN_EVENT = 12;
/** an event's category, or a CATEGORY's parent, was never registered (fatal) */
export const R_WRITER_UNKNOWN_CATEGORY = 13;
/** BEGIN of an id that is open (fatal) */
export const R_WRITER_DUPLICATE_EVENT = 14;
/** CATEGORY with another parent than before, UPDATE with another parent (fatal) */
export const R_WRITER_CONFLICT = 15;
/** tv_last_sent before tv_created (Dovecot's stats process asserts on it; here fatal for the connection) */
export const R_WRITER_NEGATIVE_DURATION = 16;
/** a line longer than Dovecot's 128 KiB input buffer (fatal) */
export const R_WRITER_LINE_TOO_LONG = 17;
/** past tallyd's per-connection caps (open events, their bytes, parent depth): dropped, not fatal */
export const R_WRITER_LIMIT = 18;

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * A plain object: what msgpackr (maps as objects) and JSON.parse make of a
 * map. Anything else a decoder may produce (arrays, buffers, dates, msgpackr's
 * object for byte 0xc1, which carries a `name`) is not a map.
 */
function isMap(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Field names in reasons are cut: a reason never echoes a megabyte back. */
const MAX_NAME_IN_REASON = 64;

function shown(k: string): string {
  return JSON.stringify(k.length <= MAX_NAME_IN_REASON ? k : `${k.slice(0, MAX_NAME_IN_REASON)}…`);
}

function own(o: Record<string, unknown>, k: string): unknown {
  return hasOwn.call(o, k) ? o[k] : undefined;
}

/** U+FFFD is what a decoder leaves for invalid UTF-8; lone surrogates are not UTF-8 either. */
function isCleanUtf8(s: string): boolean {
  return s.indexOf('\uFFFD') === -1 && s.isWellFormed();
}

function isStringArray(v: unknown[]): boolean {
  for (let i = 0; i < v.length; i++) if (typeof v[i] !== 'string') return false;
  return true;
}

/**
 * Describes the last rejection in words (for `errors[].reason`); set only on
 * the rejection path.
 */
export let lastRejectDetail = '';

function reject(code: number, detail: string): number {
  lastRejectDetail = `${REJECT_REASONS[code]}: ${detail}`;
  return code;
}

/** Loads `raw` into `out`; returns R_OK or a reason code. */
export function loadEvent(raw: unknown, out: TallyEvent): number {
  if (!isMap(raw)) return reject(R_NOT_A_MAP, 'event is not a map');
  let name = own(raw, 'event');
  if (name === undefined || name === null) name = own(raw, 'name');
  if (name === undefined || name === null) return reject(R_MISSING_NAME, 'key "event" is missing');
  if (typeof name !== 'string') return reject(R_INVALID_NAME, 'key "event" is not a string');
  if (!isCleanUtf8(name)) return reject(R_INVALID_NAME, 'event name is not valid UTF-8');

  const cats = own(raw, 'categories');
  if (cats !== undefined && cats !== null && !(Array.isArray(cats) && isStringArray(cats))) {
    return reject(R_INVALID_CATEGORIES, 'key "categories" is not an array of strings');
  }

  const fields = own(raw, 'fields');
  let negative = false;
  if (fields !== undefined && fields !== null) {
    if (!isMap(fields)) return reject(R_INVALID_FIELDS, 'key "fields" is not a map');
    for (const k in fields) {
      if (!hasOwn.call(fields, k)) continue;
      const v = fields[k];
      if (v === null || typeof v === 'string') continue;
      if (typeof v === 'number') {
        if (Number.isFinite(v)) {
          if (v < 0) negative = true;
          continue;
        }
        return reject(R_INVALID_FIELD_VALUE, `field ${shown(k)} is not a finite number`);
      }
      if (Array.isArray(v) && isStringArray(v)) continue;
      return reject(R_INVALID_FIELD_VALUE, `field ${shown(k)} has an unsupported type`);
    }
  }

  let d = own(raw, 'duration');
  if (d === undefined || d === null) {
    d = fields !== undefined && fields !== null ? own(fields as Record<string, unknown>, 'duration') : undefined;
    if (d === undefined || d === null) d = 0;
  }
  if (typeof d !== 'number' || !Number.isFinite(d)) {
    return reject(R_INVALID_DURATION, 'duration is not a finite number');
  }

  const host = own(raw, 'hostname');
  out.name = name;
  // a hostname that is not a string is as if absent (it was never validated)
  out.hostname = typeof host === 'string' ? host : undefined;
  out.categories = cats === null ? undefined : (cats as string[] | undefined);
  out.fields = fields === null ? undefined : (fields as Record<string, unknown> | undefined);
  out.duration = Math.round(d);
  out.negative = negative || d < 0;
  return R_OK;
}
