import { recordBytes } from '../../src/ring/layout.js';

export interface ModelRecord {
  start: number;
  alloc: number;
  type: number;
  id: number;
  format: number;
  payload: Uint8Array;
}

/**
 * Reference behaviour of a ring, with unbounded positions: a record goes at
 * the write position, or at the start of the next lap if it would straddle
 * the end, and fits when it ends at most `capacity` bytes after the start of
 * the oldest unread record.
 */
export class RingModel {
  readonly queue: ModelRecord[] = [];
  writePos: number;
  readPos: number;

  constructor(
    readonly capacity: number,
    startPos = 0,
  ) {
    this.writePos = startPos;
    this.readPos = startPos;
  }

  placement(payloadBytes: number): number | null {
    const cap = this.capacity;
    const alloc = recordBytes(payloadBytes);
    const tail = cap - (this.writePos % cap);
    const start = alloc <= tail ? this.writePos : this.writePos + tail;
    const head = this.queue[0]?.start ?? start;
    return start + alloc - head <= cap ? start : null;
  }

  tryWrite(type: number, id: number, format: number, payload: Uint8Array): boolean {
    const start = this.placement(payload.length);
    if (start === null) return false;
    const alloc = recordBytes(payload.length);
    this.queue.push({ start, alloc, type, id, format, payload: Uint8Array.from(payload) });
    this.writePos = start + alloc;
    return true;
  }

  read(): ModelRecord | undefined {
    const rec = this.queue.shift();
    if (rec !== undefined) this.readPos = rec.start + rec.alloc;
    return rec;
  }

  used(): number {
    const head = this.queue[0];
    return head === undefined ? 0 : this.writePos - head.start;
  }
}

/** Deterministic payload bytes for a record id. */
export function patternPayload(id: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (id * 31 + i * 7) & 0xff;
  return out;
}
