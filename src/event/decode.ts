/**
 * Batch framing (SPEC 2.3): msgpack (a concatenation of values, each an event
 * or an array of events), JSON (an event or an array) and NDJSON (one event
 * per line, each line framed on its own).
 */
import { Unpackr } from 'msgpackr';

export const FORMAT_MSGPACK = 1;
export const FORMAT_JSON = 2;
export const FORMAT_NDJSON = 3;
export type BatchFormat = typeof FORMAT_MSGPACK | typeof FORMAT_JSON | typeof FORMAT_NDJSON;

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

function pushValue(out: unknown[], v: unknown): void {
  if (Array.isArray(v)) for (let i = 0; i < v.length; i++) out.push(v[i]);
  else out.push(v);
}

/**
 * Frames `bytes` into the list of events it holds, in order. A BrokenLine
 * entry stands for an NDJSON line that did not parse. Throws FramingError.
 */
export function frameBatch(bytes: Uint8Array, format: BatchFormat): unknown[] {
  const out: unknown[] = [];
  if (format === FORMAT_MSGPACK) {
    if (bytes.length === 0) return out;
    let values: unknown[];
    try {
      values = unpackr.unpackMultiple(bytes) as unknown[];
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
