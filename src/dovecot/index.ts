/**
 * Dovecot's stats-writer protocol, shard side: the lines of a connection
 * after its handshake, aggregated by `Engine.ingestWriter`
 * (docs/dovecot-sockets.md, "stats-writer").
 */
import type { IngestResult } from '../engine/engine.js';

export { WriterConnection, LINE_EVENT, LINE_EVENT_VALS, LINE_OK, LINE_REJECT, MAX_CATEGORIES, MAX_DEPTH, MAX_DROPPED, MAX_OPEN_BYTES, MAX_OPEN_EVENTS } from './writer-state.js';
export { MAX_LINE_BYTES, splitLine, unescapeArg } from './writer-line.js';

/**
 * What `Engine.ingestWriter` did with a call's lines. `accepted` counts the
 * events aggregated (EVENT and BEGIN lines: Dovecot matches both against the
 * metrics); `rejected` counts every line refused, whatever its command
 * (each under its reason, `errors[].index` = the line's 0-based position in
 * the call). `fatal`: a line broke the protocol as Dovecot answers by
 * disconnecting; nothing after it was processed, and the connection takes
 * no more lines until `closeWriter`.
 */
export interface WriterResult extends IngestResult {
  fatal?: string;
}

/** Whether a line (its first argument) is one the engine counts as an event. */
export function isEventCommand(bytes: Uint8Array, start: number): boolean {
  // "EVENT\t" / "BEGIN\t" (or the bare word: a malformed event line still counts)
  return isWord(bytes, start, 'EVENT') || isWord(bytes, start, 'BEGIN');
}

function isWord(bytes: Uint8Array, start: number, w: string): boolean {
  for (let i = 0; i < w.length; i++) if (bytes[start + i] !== w.charCodeAt(i)) return false;
  const c = bytes[start + w.length];
  return c === undefined || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x00;
}

/** The number of EVENT and BEGIN lines in `bytes` (no decoding). */
export function countWriterEvents(bytes: Uint8Array): number {
  let n = 0;
  let pos = 0;
  while (pos < bytes.length) {
    let nl = bytes.indexOf(0x0a, pos);
    if (nl === -1) nl = bytes.length;
    if (isEventCommand(bytes, pos)) n++;
    pos = nl + 1;
  }
  return n;
}
