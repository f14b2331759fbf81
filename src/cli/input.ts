/**
 * Reading event files for `aggregate` and `replay`: NDJSON or JSON by
 * content, msgpack by a `.msgpack` name, `-` for stdin.
 */
import { readFileSync } from 'node:fs';
import { FORMAT_JSON, FORMAT_MSGPACK, FORMAT_NDJSON, type BatchFormat } from '../event/decode.js';

export interface EventFile {
  name: string;
  bytes: Buffer;
  format: BatchFormat;
}

/** JSON when the whole text is one JSON value, NDJSON otherwise. */
export function sniffTextFormat(bytes: Buffer): BatchFormat {
  const text = bytes.toString('utf8').trim();
  if (text.startsWith('[')) return FORMAT_JSON;
  if (text.startsWith('{')) {
    try {
      JSON.parse(text);
      return FORMAT_JSON;
    } catch {
      return FORMAT_NDJSON;
    }
  }
  return FORMAT_NDJSON;
}

export function readEventFile(name: string): EventFile {
  const bytes = name === '-' ? readFileSync(0) : readFileSync(name);
  const format = /\.(msgpack|mpk|msgp)$/i.test(name) ? FORMAT_MSGPACK : sniffTextFormat(bytes);
  return { name, bytes, format };
}
