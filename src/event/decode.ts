/**
 * Batch framing (docs/contract.md §2.3): msgpack (a concatenation of values, each an event
 * or an array of events), JSON (an event or an array) and NDJSON (one event
 * per line, each line framed on its own).
 */
import { isNativeAccelerationEnabled, Unpackr } from 'msgpackr';
import { countWriterEvents } from '../dovecot/index.js';
import { scanMsgpack } from './msgpack.js';

export const FORMAT_MSGPACK = 1;
export const FORMAT_JSON = 2;
export const FORMAT_NDJSON = 3;
/**
 * Lines of one Dovecot stats-writer connection (src/dovecot/): u32
 * little-endian connection id, then complete lines, each ending in LF.
 * Never framed into objects: Engine.ingestBytes hands it to ingestWriter.
 */
export const FORMAT_STATS_WRITER = 4;
/** Bytes before the lines of a FORMAT_STATS_WRITER payload (the connection id). */
export const STATS_WRITER_HEADER_BYTES = 4;
/** KumoMTA log records (src/event/kumomta.ts, docs/kumomta.md): JSON, one record or an array */
export const FORMAT_KUMOMTA_JSON = 5;
/** KumoMTA log records, one per line */
export const FORMAT_KUMOMTA_NDJSON = 6;
export type BatchFormat =
  | typeof FORMAT_MSGPACK
  | typeof FORMAT_JSON
  | typeof FORMAT_NDJSON
  | typeof FORMAT_STATS_WRITER
  | typeof FORMAT_KUMOMTA_JSON
  | typeof FORMAT_KUMOMTA_NDJSON;

/** One entry of a framed NDJSON batch whose line did not parse. */
export class BrokenLine {
  readonly line: number;
  readonly message: string;
  constructor(line: number, message: string) {
    this.line = line;
    this.message = message;
  }
}

/** Thrown when a batch cannot be framed at all: it is rejected whole. */
export class FramingError extends Error {
  readonly code = 'ERR_INGEST_FRAMING';
  constructor(message: string) {
    super(message);
    this.name = 'FramingError';
  }
}

const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number', moreTypes: false });
const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Decodes one complete plain msgpack value (the general path for one event). */
export function unpackOne(bytes: Uint8Array): unknown {
  return unpackr.unpack(readableBytes(bytes));
}

function pushValue(out: unknown[], v: unknown): void {
  if (Array.isArray(v)) for (let i = 0; i < v.length; i++) out.push(v[i]);
  else out.push(v);
}

/**
 * Bytes msgpackr may read: the native string extractor of msgpackr-extract
 * crashes the process on a Buffer over a SharedArrayBuffer, so with it loaded
 * such a view is copied first (the JavaScript decoder reads shared memory).
 */
function readableBytes(bytes: Uint8Array): Uint8Array {
  return isNativeAccelerationEnabled && bytes.buffer instanceof SharedArrayBuffer ? Uint8Array.prototype.slice.call(bytes) : bytes;
}

export interface FrameOptions {
  /**
   * msgpack from the network: plain msgpack only (docs/contract.md §2.3), checked by
   * scanMsgpack before msgpackr reads it (complete values, no 0xc1, no
   * msgpackr extensions such as records, nesting at most MAX_DEPTH). Without
   * it, whatever msgpackr decodes is taken (`tallyd aggregate` on files).
   */
  plain?: boolean;
}

/**
 * Frames `bytes` into the list of events it holds, in order. A BrokenLine
 * entry stands for an NDJSON line that did not parse. Throws FramingError.
 */
export function frameBatch(bytes: Uint8Array, format: BatchFormat, opts?: FrameOptions): unknown[] {
  if (format === FORMAT_STATS_WRITER) throw new FramingError('stats-writer lines are not framed into events (Engine.ingestWriter reads them)');
  if (format === FORMAT_KUMOMTA_JSON) format = FORMAT_JSON; // the records themselves: kumoBatch makes events of them
  else if (format === FORMAT_KUMOMTA_NDJSON) format = FORMAT_NDJSON;
  const out: unknown[] = [];
  if (format === FORMAT_MSGPACK) {
    if (bytes.length === 0) return out;
    let values: unknown[];
    try {
      if (opts?.plain === true) scanMsgpack(bytes);
      values = unpackr.unpackMultiple(readableBytes(bytes)) as unknown[];
    } catch (e) {
      throw new FramingError(`invalid msgpack: ${(e as Error).message}`);
    }
    for (let i = 0; i < values.length; i++) pushValue(out, values[i]);
    return out;
  }
  const text = utf8.decode(bytes);
  if (format === FORMAT_JSON) {
    if (text.trim() === '') return out;
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      throw new FramingError(`invalid JSON: ${(e as Error).message}`);
    }
    pushValue(out, v);
    return out;
  }
  let start = 0;
  let line = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    line++;
    const s = text.slice(start, end).trim();
    if (s !== '') {
      try {
        out.push(JSON.parse(s));
      } catch (e) {
        out.push(new BrokenLine(line, `line ${line}: ${(e as Error).message}`));
      }
    }
    start = end + 1;
  }
  return out;
}

/**
 * The number of events `frameBatch(bytes, format, { plain: true })` would
 * give, without decoding: no allocation for msgpack and JSON. For a batch
 * that cannot be framed it is 0 (msgpack) or a count of its top-level values
 * (JSON). For stats-writer lines it is the number of EVENT and BEGIN lines
 * after the connection id. The main thread uses it for the events of a batch lost with its shard, so that
 * a shard's death never makes it decode a batch (which may be what killed
 * the shard).
 */
export function countBatchEvents(bytes: Uint8Array, format: BatchFormat): number {
  if (format === FORMAT_MSGPACK) {
    try {
      return scanMsgpack(bytes);
    } catch {
      return 0;
    }
  }
  if (format === FORMAT_JSON || format === FORMAT_KUMOMTA_JSON) return countJsonValues(bytes);
  if (format === FORMAT_STATS_WRITER) return bytes.length < STATS_WRITER_HEADER_BYTES ? 0 : countWriterEvents(bytes.subarray(STATS_WRITER_HEADER_BYTES));
  const text = utf8.decode(bytes);
  let n = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    if (text.slice(start, end).trim() !== '') n++;
    start = end + 1;
  }
  return n;
}

const isJsonSpace = (c: number | undefined): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** Top-level elements of a JSON array, 1 for any other JSON text, 0 for blank. */
function countJsonValues(b: Uint8Array): number {
  let i = 0;
  if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) i = 3; // BOM, dropped by the decoder
  while (i < b.length && isJsonSpace(b[i])) i++;
  if (i === b.length) return 0;
  // one value, unless the text is blank to String.prototype.trim (as frameBatch decides)
  if (b[i] !== 0x5b) return utf8.decode(b).trim() === '' ? 0 : 1;
  let depth = 0;
  let count = 0;
  let seen = false;
  let inString = false;
  for (; i < b.length; i++) {
    const c = b[i] as number;
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) {
      inString = true;
      if (depth === 1) seen = true;
    } else if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth === 2) seen = true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
      if (depth === 0) return count + (seen ? 1 : 0);
    } else if (c === 0x2c) {
      if (depth === 1) count++;
    } else if (depth === 1 && !isJsonSpace(c)) seen = true;
  }
  return count + (seen ? 1 : 0);
}

/** Maps an HTTP content type to a batch format, or null when it is not one. */
export function formatOfContentType(ct: string | undefined): BatchFormat | null {
  if (ct === undefined) return null;
  const semi = ct.indexOf(';');
  const base = (semi === -1 ? ct : ct.slice(0, semi)).trim().toLowerCase();
  switch (base) {
    case 'application/msgpack':
    case 'application/x-msgpack':
    case 'application/vnd.msgpack':
      return FORMAT_MSGPACK;
    case 'application/json':
      return FORMAT_JSON;
    case 'application/x-ndjson':
    case 'application/ndjson':
    case 'application/jsonlines':
    case 'application/jsonl':
      return FORMAT_NDJSON;
    default:
      return null;
  }
}
