/**
 * KumoMTA's log records (docs/kumomta.md): each JSON record becomes one
 * tallyd event, in the shard, before loadEvent validates it.
 *
 * - name: `kumomta_` + the record's `type` in snake case (`TransientFailure`
 *   → `kumomta_transient_failure`, `OOB` → `kumomta_oob`);
 * - fields: every key (`type` too), nested objects flattened with `_`
 *   (`response.code` → `response_code`), booleans as "true"/"false", arrays as
 *   string lists of their scalar elements, nulls left out, nothing deeper than
 *   MAX_DEPTH keys; `response_enhanced_code` is also "class.subject.detail";
 * - duration: `timestamp` − `created` in µs, from `event_time` −
 *   `created_time` (RFC 3339, sub-second) when the record has both, else from
 *   the epoch seconds.
 */
import { BrokenLine, frameBatch, FORMAT_JSON, FORMAT_NDJSON, type FrameOptions } from './decode.js';
import { R_INVALID_DURATION, R_INVALID_NAME, R_MISSING_NAME, R_NOT_A_MAP, REJECT_REASONS } from './validate.js';

/** Path length (keys) beyond which nested values are left out. */
export const MAX_DEPTH = 8;

/** A record refused before it became an event: the engine counts it under `code`. */
export class RejectedRecord {
  readonly code: number;
  readonly detail: string;
  constructor(code: number, detail: string) {
    this.code = code;
    this.detail = `${REJECT_REASONS[code]}: ${detail}`;
  }
}

const hasOwn = Object.prototype.hasOwnProperty;

function isMap(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** `TransientFailure` → `transient_failure`, `OOB` → `oob`, `XferIn` → `xfer_in`. */
export function snakeCase(type: string): string {
  return type
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toLowerCase();
}

const TYPE_NAME = /^[A-Za-z][A-Za-z0-9]*$/;

function scalarText(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return null;
}

function flatten(v: unknown, key: string, depth: number, out: Record<string, unknown>): void {
  if (v === null || v === undefined) return;
  if (typeof v === 'string' || typeof v === 'number') out[key] = v;
  else if (typeof v === 'boolean') out[key] = v ? 'true' : 'false';
  else if (Array.isArray(v)) {
    const list: string[] = [];
    for (const x of v) {
      const s = scalarText(x);
      if (s !== null) list.push(s);
    }
    out[key] = list;
  } else if (isMap(v)) {
    if (depth >= MAX_DEPTH) return;
    for (const k in v) if (hasOwn.call(v, k)) flatten(v[k], `${key}_${k}`, depth + 1, out);
  }
}

/** µs since the epoch of an RFC 3339 time (nanoseconds kept to µs), or null. */
export function rfc3339Micros(s: string): number | null {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/i.exec(s);
  if (m === null) return null;
  const ms = Date.parse(`${m[1]}${(m[3] as string).toUpperCase()}`);
  if (!Number.isFinite(ms)) return null;
  const frac = m[2] === undefined ? 0 : Math.floor(Number(`0.${m[2]}`) * 1e6 + 1e-6);
  return ms * 1000 + frac;
}

/** µs since the epoch of `key` (seconds, or an RFC 3339 string), undefined when absent, null when invalid. */
function timeOf(rec: Record<string, unknown>, key: string): number | null | undefined {
  const v = hasOwn.call(rec, key) ? rec[key] : undefined;
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') return Number.isFinite(v) ? v * 1e6 : null;
  if (typeof v === 'string') return rfc3339Micros(v);
  return null;
}

/** The record's queue time in µs, 0 without both times, or a RejectedRecord. */
function durationOf(rec: Record<string, unknown>): number | RejectedRecord {
  for (const [end, start] of [
    ['event_time', 'created_time'],
    ['timestamp', 'created'],
  ] as const) {
    const e = timeOf(rec, end);
    const s = timeOf(rec, start);
    if (e === null || s === null) {
      return new RejectedRecord(R_INVALID_DURATION, `"${e === null ? end : start}" is not seconds since the epoch or an RFC 3339 time`);
    }
    if (e !== undefined && s !== undefined) return e - s;
  }
  return 0;
}

/** One decoded record → the event loadEvent reads, or why it is refused. */
export function kumoEvent(rec: unknown): unknown {
  if (rec instanceof BrokenLine) return rec;
  if (!isMap(rec)) return new RejectedRecord(R_NOT_A_MAP, 'a KumoMTA record is a JSON object');
  const type = hasOwn.call(rec, 'type') ? rec.type : undefined;
  if (type === undefined || type === null) return new RejectedRecord(R_MISSING_NAME, 'key "type" is missing');
  if (typeof type !== 'string') return new RejectedRecord(R_INVALID_NAME, 'key "type" is not a string');
  if (!TYPE_NAME.test(type)) return new RejectedRecord(R_INVALID_NAME, `type ${JSON.stringify(type.slice(0, 64))} is not a record type name`);
  const duration = durationOf(rec);
  if (duration instanceof RejectedRecord) return duration;
  // no prototype: a record key `__proto__` is a field like any other
  const fields = Object.create(null) as Record<string, unknown>;
  for (const k in rec) {
    if (!hasOwn.call(rec, k)) continue;
    flatten(rec[k], k, 1, fields);
  }
  const enh = isMap(rec.response) ? rec.response.enhanced_code : undefined;
  if (isMap(enh) && typeof enh.class === 'number' && typeof enh.subject === 'number' && typeof enh.detail === 'number') {
    fields.response_enhanced_code = `${enh.class}.${enh.subject}.${enh.detail}`;
  }
  return { event: `kumomta_${snakeCase(type)}`, duration, fields };
}

/** Frames a body of KumoMTA records (JSON: one or an array; NDJSON: one per line) into events. */
export function kumoBatch(bytes: Uint8Array, ndjson: boolean, opts?: FrameOptions): unknown[] {
  const values = frameBatch(bytes, ndjson ? FORMAT_NDJSON : FORMAT_JSON, opts);
  for (let i = 0; i < values.length; i++) values[i] = kumoEvent(values[i]);
  return values;
}
