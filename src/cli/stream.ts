/**
 * Event files read as streams, in bounded memory, for `tallyd aggregate`:
 * the file goes by in chunks and comes out as batches of events, each event
 * with the place it came from (`FILE:LINE` for text, `FILE: event I` for
 * msgpack), so that a rejection names it as `tallyd replay` does.
 *
 * - msgpack (by a `.msgpack`/`.mpk`/`.msgp` name): a concatenation of values,
 *   each an event or an array of events; values are cut at their ends, a
 *   top-level array's elements one by one.
 * - NDJSON: one event per line, a line that is not JSON rejected on its own.
 * - JSON: an array of events, or one event, or several such values one after
 *   the other; told from NDJSON by content: a first line that is JSON on its
 *   own makes the file NDJSON, a first value spanning lines that parses makes
 *   it JSON.
 *
 * Memory is the chunk (1 MiB), one batch and the largest single event.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { BrokenLine, FORMAT_MSGPACK, FORMAT_NDJSON } from '../event/decode.js';
import { msgpackEnd } from '../event/msgpack.js';
import { TallydError } from '../errors.js';

const CHUNK_BYTES = 1 << 20;
/** a batch is handed over at this many events or bytes */
const BATCH_EVENTS = 4096;
const BATCH_BYTES = 1 << 20;
/** how far the JSON/NDJSON decision may look */
const PROBE_BYTES = 16 << 20;

/** A batch of events ready for the engine. */
export type EventBatch =
  | { kind: 'bytes'; bytes: Buffer; format: typeof FORMAT_MSGPACK | typeof FORMAT_NDJSON; where: (i: number) => string }
  | { kind: 'values'; events: unknown[]; where: (i: number) => string };

/** The input cannot be read on (a JSON document that does not parse, truncated msgpack): names FILE:LINE. */
export function inputError(message: string): TallydError {
  return new TallydError('ERR_INGEST_FRAMING', message);
}

export function isMsgpackName(name: string): boolean {
  return /\.(msgpack|mpk|msgp)$/i.test(name);
}

/** The chunks of a file, or of stdin for `-`. */
async function* chunks(_path: string): AsyncGenerator<Buffer> {
  for await (const c of process.stdin) yield typeof c === 'string' ? Buffer.from(c) : (c as Buffer);
}

/**
 * The input in one buffer: `buf` is what is read and not dropped yet. A file
 * is read with readSync into one reused buffer (no allocation per chunk;
 * what `buf` held before `more()` is moved, so views of it do not outlive
 * the call); stdin comes as stream chunks.
 */
class Reader {
  buf: Buffer = Buffer.alloc(0);
  done = false;
  private store = Buffer.allocUnsafe(2 * CHUNK_BYTES);
  private readonly fd: number | null;
  private readonly it: AsyncGenerator<Buffer> | null;
  constructor(path: string) {
    this.fd = path === '-' ? null : openSync(path, 'r');
    this.it = path === '-' ? chunks(path) : null;
  }
  /** appends the next chunk; false at the end of the input */
  async more(): Promise<boolean> {
    if (this.done) return false;
    if (this.fd !== null) {
      const keep = this.buf.length;
      if (keep + CHUNK_BYTES > this.store.length) {
        const grown = Buffer.allocUnsafe(Math.max(2 * this.store.length, keep + CHUNK_BYTES));
        this.buf.copy(grown, 0);
        this.store = grown;
      } else if (keep > 0 && this.buf.byteOffset !== this.store.byteOffset) this.buf.copy(this.store, 0);
      const n = readSync(this.fd, this.store, keep, CHUNK_BYTES, null);
      this.buf = this.store.subarray(0, keep + n);
      if (n === 0) {
        this.done = true;
        closeSync(this.fd);
        return false;
      }
      return true;
    }
    const n = await (this.it as AsyncGenerator<Buffer>).next();
    if (n.done === true) {
      this.done = true;
      return false;
    }
    this.buf = this.buf.length === 0 ? n.value : Buffer.concat([this.buf, n.value]);
    return true;
  }
  /** drops the first `n` bytes */
  drop(n: number): void {
    this.buf = this.buf.subarray(n);
  }
}

export async function* streamEventFile(path: string, name: string): AsyncGenerator<EventBatch> {
  const r = new Reader(path);
  if (path !== '-' && isMsgpackName(path)) {
    yield* msgpackBatches(r, name);
    return;
  }
  if (await probeJson(r)) yield* jsonBatches(r, name);
  else yield* ndjsonBatches(r, name);
}

// ---- JSON or NDJSON --------------------------------------------------------

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** The first byte that is not blank (nor a UTF-8 BOM), or -1. */
function firstNonBlank(b: Buffer, from = 0): number {
  for (let i = from; i < b.length; i++) {
    const c = b[i] as number;
    if (!isSpace(c) && !(i < 3 && (c === 0xef || c === 0xbb || c === 0xbf))) return i;
  }
  return -1;
}

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** True for JSON (array, or values spanning lines), false for NDJSON; reads what it needs to decide. */
async function probeJson(r: Reader): Promise<boolean> {
  let first = -1;
  while ((first = firstNonBlank(r.buf)) < 0 && (await r.more()));
  if (first < 0) return false;
  const c = r.buf[first] as number;
  if (c === 0x5b) return true;
  if (c !== 0x7b) return false;
  let nl = -1;
  while ((nl = r.buf.indexOf(0x0a, first)) < 0 && r.buf.length < PROBE_BYTES && (await r.more()));
  const line = r.buf.toString('utf8', first, nl < 0 ? r.buf.length : nl);
  if (parses(line)) return false;
  // the first line is not JSON alone: JSON when the first value, across lines, is
  const sc = new JsonScanner();
  for (;;) {
    const unit = sc.next(r.buf);
    if (unit !== null) return parses(r.buf.toString('utf8', unit.start, unit.end));
    if (sc.error !== null || r.buf.length >= PROBE_BYTES || !(await r.more())) return false;
    sc.reset();
  }
}

async function* ndjsonBatches(r: Reader, name: string): AsyncGenerator<EventBatch> {
  let line = 1;
  for (;;) {
    while (!r.done && r.buf.length < BATCH_BYTES) await r.more();
    const end = r.done ? r.buf.length : r.buf.lastIndexOf(0x0a) + 1;
    if (end === 0) {
      // no line ends in the buffer yet (a long line, or nothing left)
      if (r.done) return;
      await r.more();
      continue;
    }
    const bytes = r.buf.subarray(0, end);
    const startLine = line;
    for (let i = bytes.indexOf(0x0a); i >= 0; i = bytes.indexOf(0x0a, i + 1)) line++;
    r.drop(end);
    yield { kind: 'bytes', bytes, format: FORMAT_NDJSON, where: (i) => `${name}:${ndjsonLine(bytes, startLine, i)}` };
    if (r.done && r.buf.length === 0) return;
  }
}

/** The line number of the i-th non-blank line of `bytes` (frameBatch's event index). */
function ndjsonLine(bytes: Buffer, startLine: number, index: number): number {
  let line = startLine;
  let seen = -1;
  let start = 0;
  while (start <= bytes.length) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    if (bytes.toString('utf8', start, end).trim() !== '' && ++seen === index) return line;
    line++;
    start = end + 1;
  }
  return line;
}

interface Unit {
  start: number;
  end: number;
}

/**
 * Finds the events of JSON text structurally (strings, escapes, brackets):
 * each top-level value is an event, except a top-level array, whose
 * elements are. Resumable: `next` returns null when the buffer ends inside
 * a value (call again with more bytes from the same origin) or on an error
 * (`error` set). Lines are counted as it goes.
 */
class JsonScanner {
  /** where scanning resumes, relative to the buffer's origin */
  pos = 0;
  line = 1;
  error: string | null = null;
  /** line of the unit being scanned */
  unitLine = 1;
  private unitStart = -1;
  private stack: number[] = [];
  private inString = false;
  private escape = false;
  /** inside the top-level array whose elements are the units */
  private inTopArray = false;
  /** in the top array, a unit ended and a `,` or `]` is due */
  private needComma = false;
  /** a bare word (number, true, null) as a unit */
  private inWord = false;

  reset(): void {
    Object.assign(this, { pos: 0, line: 1, error: null, unitLine: 1, unitStart: -1, stack: [], inString: false, escape: false, inTopArray: false, needComma: false, inWord: false });
  }

  /** shifts positions after the buffer's first `n` bytes were dropped */
  rebase(n: number): void {
    this.pos -= n;
    if (this.unitStart >= 0) this.unitStart -= n;
  }

  /** where the caller may drop up to: the start of the unit in progress, else pos */
  get keepFrom(): number {
    return this.unitStart >= 0 ? this.unitStart : this.pos;
  }

  next(b: Buffer): Unit | null {
    while (this.pos < b.length) {
      const c = b[this.pos] as number;
      if (c === 0x0a) this.line++;
      if (this.unitStart < 0) {
        // between units
        this.pos++;
        if (isSpace(c) || (this.pos <= 3 && (c === 0xef || c === 0xbb || c === 0xbf))) continue;
        if (this.inTopArray) {
          if (c === 0x5d) {
            this.inTopArray = false;
            this.needComma = false;
            continue;
          }
          if (this.needComma) {
            if (c === 0x2c) {
              this.needComma = false;
              continue;
            }
            return this.fail(`expected ',' or ']' after an array element, found '${String.fromCharCode(c)}'`);
          }
        } else if (c === 0x5b) {
          this.inTopArray = true;
          this.needComma = false;
          continue;
        }
        if (c === 0x5d || c === 0x7d || c === 0x2c || c === 0x3a) return this.fail(`unexpected '${String.fromCharCode(c)}'`);
        this.unitStart = this.pos - 1;
        this.unitLine = this.line;
        if (c === 0x7b || c === 0x5b) this.stack.push(c === 0x7b ? 0x7d : 0x5d);
        else if (c === 0x22) this.inString = true;
        else this.inWord = true;
        continue;
      }
      if (this.inWord) {
        if (isSpace(c) || c === 0x2c || c === 0x5d || c === 0x7d || c === 0x5b || c === 0x7b || c === 0x22) {
          this.inWord = false;
          if (c === 0x0a) this.line--; // counted again between units
          return this.emit(this.pos);
        }
        this.pos++;
        continue;
      }
      this.pos++;
      if (this.inString) {
        if (this.escape) this.escape = false;
        else if (c === 0x5c) this.escape = true;
        else if (c === 0x22) {
          this.inString = false;
          if (this.stack.length === 0) return this.emit(this.pos);
        }
        continue;
      }
      if (c === 0x22) this.inString = true;
      else if (c === 0x7b) this.stack.push(0x7d);
      else if (c === 0x5b) this.stack.push(0x5d);
      else if (c === 0x7d || c === 0x5d) {
        if (this.stack.pop() !== c) return this.fail(`unexpected '${String.fromCharCode(c)}'`);
        if (this.stack.length === 0) return this.emit(this.pos);
      }
    }
    return null;
  }

  /** at the end of the input: a unit still open, or an unclosed top array, is an error */
  finish(): Unit | null {
    if (this.inWord && this.unitStart >= 0) {
      this.inWord = false;
      return this.emit(this.pos);
    }
    if (this.unitStart >= 0) {
      this.fail('unexpected end of input: the value starting here is not closed');
      this.line = this.unitLine;
    } else if (this.inTopArray) this.fail("unexpected end of input: the array is not closed (no ']')");
    return null;
  }

  private emit(end: number): Unit {
    const u = { start: this.unitStart, end };
    this.unitStart = -1;
    if (this.inTopArray) this.needComma = true;
    return u;
  }

  private fail(why: string): null {
    this.error = why;
    return null;
  }
}

async function* jsonBatches(r: Reader, name: string): AsyncGenerator<EventBatch> {
  const sc = new JsonScanner();
  let events: unknown[] = [];
  let lines: number[] = [];
  let bytes = 0;
  const batch = (): EventBatch => {
    const ls = lines;
    const b: EventBatch = { kind: 'values', events, where: (i) => `${name}:${ls[i] ?? '?'}` };
    events = [];
    lines = [];
    bytes = 0;
    return b;
  };
  for (;;) {
    let unit: Unit | null;
    while ((unit = sc.next(r.buf)) !== null) {
      const text = r.buf.toString('utf8', unit.start, unit.end);
      let v: unknown;
      try {
        v = JSON.parse(text);
      } catch (e) {
        v = new BrokenLine(sc.unitLine, (e as Error).message);
      }
      events.push(v);
      lines.push(sc.unitLine);
      bytes += unit.end - unit.start;
      if (events.length >= BATCH_EVENTS || bytes >= BATCH_BYTES) yield batch();
    }
    if (sc.error !== null) throw inputError(`${name}:${sc.line}: invalid JSON: ${sc.error}`);
    const keep = sc.keepFrom;
    r.drop(keep);
    sc.rebase(keep);
    if (!(await r.more())) break;
  }
  const last = sc.finish();
  if (last !== null) {
    events.push(parseOrBroken(r.buf.toString('utf8', last.start, last.end), sc.unitLine));
    lines.push(sc.unitLine);
  }
  if (events.length > 0) yield batch();
  if (sc.error !== null) throw inputError(`${name}:${sc.line}: invalid JSON: ${sc.error}`);
}

function parseOrBroken(text: string, line: number): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    return new BrokenLine(line, (e as Error).message);
  }
}

// ---- msgpack ---------------------------------------------------------------

async function* msgpackBatches(r: Reader, name: string): AsyncGenerator<EventBatch> {
  /** elements of the current top-level array still to come */
  let inArray = 0;
  let event = 0;
  let offset = 0;
  let pos = 0;
  // a batch is a run of whole values in the buffer: a view, handed over before the buffer moves
  let start = 0;
  let first = 0;
  const batch = (end: number): EventBatch => {
    const base = first;
    const b: EventBatch = { kind: 'bytes', bytes: r.buf.subarray(start, end), format: FORMAT_MSGPACK, where: (i) => `${name}: event ${base + i}` };
    first = event;
    return b;
  };
  for (;;) {
    const b = r.buf;
    while (pos < b.length) {
      const t = b[pos] as number;
      if (inArray === 0 && (t === 0xdc || t === 0xdd || (t >= 0x90 && t <= 0x9f))) {
        const head = t <= 0x9f ? 1 : t === 0xdc ? 3 : 5;
        if (pos + head > b.length) break;
        if (event > first) yield batch(pos);
        inArray = t <= 0x9f ? t & 0x0f : t === 0xdc ? b.readUInt16BE(pos + 1) : b.readUInt32BE(pos + 1);
        pos += head;
        start = pos;
        continue;
      }
      let end: number;
      try {
        end = msgpackEnd(b, pos);
      } catch (e) {
        throw inputError(`${name}: event ${event} (byte ${offset + pos}): invalid msgpack: ${(e as Error).message}`);
      }
      if (end < 0) break;
      pos = end;
      event++;
      if (inArray > 0) inArray--;
      if (event - first >= BATCH_EVENTS) {
        yield batch(pos);
        start = pos;
      }
    }
    if (event > first) yield batch(pos);
    r.drop(pos);
    offset += pos;
    pos = 0;
    start = 0;
    if (!(await r.more())) break;
  }
  if (r.buf.length > 0 || inArray > 0) {
    throw inputError(`${name}: event ${event} (byte ${offset}): invalid msgpack: the file ends inside a value`);
  }
}
