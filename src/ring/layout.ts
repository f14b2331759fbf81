/**
 * Shared-memory layout of a shard ring. Every offset, word index and header
 * encoding used by the ring lives here; nothing else hard-codes one.
 *
 * One SharedArrayBuffer per ring: a control block of three 64-byte lines
 * followed by the data region. Each line is written by one side, so the two
 * threads do not contend for a cache line (the one exception: the consumer
 * clears WRAP_AT, at most once per lap). Control words are Int32, accessed
 * through Atomics.
 *
 *   byte 0          64                    128                    192       192+capacity
 *   +---------------+---------------------+----------------------+-----...-----+
 *   | identity      | producer-written    | consumer-written     | data region |
 *   |  0 MAGIC      |  64 WRITE_POS       | 128 READ_POS         | records,    |
 *   |  4 VERSION    |  68 WRAP_AT         | 132 RECORDS_READ     | each 8-byte |
 *   |  8 CAPACITY   |  72 RECORDS_WRITTEN | 136 CONSUMER_WAITING | aligned     |
 *   |               |  76 SPACE_WANTED    |                      |             |
 *   |               |  80 CLOSED          | 140 HELD             |             |
 *   +---------------+---------------------+----------------------+-----...-----+
 *
 * Record, at an 8-byte aligned offset of the data region (HEADER_BYTES = 16):
 *
 *   +0   i32 payload length in bytes
 *   +4   i32 meta: bits 0-7 type, bits 8-15 format, bits 16-31 flags (0)
 *   +8   u32 id, low 32 bits
 *   +12  u32 id, high 21 bits (ids are integers 0 .. 2^53-1)
 *   +16  payload, then 0-7 padding bytes up to the next 8-byte boundary
 *
 * Positions. WRITE_POS and READ_POS are positions in [0, 2*capacity): the data
 * offset is `pos mod capacity`, and the extra bit tells the laps apart, so
 * equal positions mean empty and `(write - read) mod 2*capacity` is the number
 * of bytes in use (at most capacity). Positions never overflow however many
 * bytes go through the ring.
 *
 * Wrap marker. A record never straddles the end of the data region: when it
 * does not fit in the tail, the producer places it at offset 0 of the next lap
 * and stores the position it skipped from in WRAP_AT. The consumer, reaching
 * that position, stores the next lap's start in READ_POS, then WRAP_NONE in
 * WRAP_AT (in that order, so a consumer that dies in between leaves a state a
 * new consumer reads correctly). While a skip is
 * pending the skipped tail holds no data, so the reader's effective position
 * is the start of the next lap (see `effectiveRead`): a record of up to
 * `capacity` bytes fits whenever the ring is empty, whatever the offset.
 *
 * A record taken in place. RECORDS_READ counts the records the consumer has
 * taken (the producer's side reads a taken record as gone: lost if its shard
 * dies before answering it); READ_POS is where the space freed so far ends.
 * A record read in place (take, then free once it has been processed) is
 * counted when taken and freed after: HELD is 1 in between. A new consumer
 * over a ring whose last consumer died holding a record skips that record
 * rather than reading it again (its producer has already counted it lost).
 *
 * Wake-ups. CONSUMER_WAITING is non-zero while the consumer waits on WRITE_POS;
 * the producer calls Atomics.notify only then. SPACE_WANTED is non-zero while
 * the producer waits on READ_POS: the consumer notifies once that many bytes
 * are free (or the ring is empty).
 */

export const MAGIC = 0x54_52_4e_47; // "TRNG"
export const LAYOUT_VERSION = 1;

export const CONTROL_LINE_BYTES = 64;

/** Int32 word indices of the control block. */
export const MAGIC_WORD = 0;
export const VERSION_WORD = 1;
export const CAPACITY_WORD = 2;

export const WRITE_POS = 16;
export const WRAP_AT = 17;
export const RECORDS_WRITTEN = 18;
export const SPACE_WANTED = 19;
export const CLOSED = 20;

export const READ_POS = 32;
export const RECORDS_READ = 33;
export const CONSUMER_WAITING = 34;
export const HELD = 35;

/** Byte offset of the data region in the SharedArrayBuffer. */
export const DATA_START = 3 * CONTROL_LINE_BYTES;

/** Value of WRAP_AT when no skip is pending. */
export const WRAP_NONE = -1;

export const ALIGN = 8;
export const MIN_CAPACITY = 32;
export const MAX_CAPACITY = 2 ** 30;

/** Record header: Int32 word indices relative to the record's first word. */
export const HEADER_BYTES = 16;
export const HDR_LENGTH = 0;
export const HDR_META = 1;
export const HDR_ID_LO = 2;
export const HDR_ID_HI = 3;

export const META_TYPE_MASK = 0xff;
export const META_FORMAT_SHIFT = 8;
export const META_FORMAT_MASK = 0xff;

export const MAX_TYPE = 0xff;
export const MAX_FORMAT = 0xff;
export const MAX_ID = Number.MAX_SAFE_INTEGER;
export const ID_HI_FACTOR = 2 ** 32;

/** Format codes carried in a record's meta word. */
export const RecordFormat = {
  msgpack: 1,
  json: 2,
  ndjson: 3,
} as const;
export type RecordFormat = (typeof RecordFormat)[keyof typeof RecordFormat];

/** Data-region bytes taken by a record with `payloadBytes` of payload. */
export function recordBytes(payloadBytes: number): number {
  return (HEADER_BYTES + payloadBytes + ALIGN - 1) & ~(ALIGN - 1);
}

/** Capacity actually used for a requested data size (rounded up to ALIGN). */
export function roundCapacity(dataBytes: number): number {
  return Math.ceil(dataBytes / ALIGN) * ALIGN;
}

/** SharedArrayBuffer byte length for a ring of `capacity` data bytes. */
export function ringByteLength(capacity: number): number {
  return DATA_START + capacity;
}

/** Largest payload a ring of `capacity` data bytes can hold. */
export function maxPayloadBytes(capacity: number): number {
  return capacity - HEADER_BYTES;
}

/** Int32 index of the first header word of the record at data offset `off`. */
export function headerWord(off: number): number {
  return (DATA_START + off) >> 2;
}

/** Byte index in the SharedArrayBuffer of the payload of the record at `off`. */
export function payloadByte(off: number): number {
  return DATA_START + off + HEADER_BYTES;
}

export function offsetOf(pos: number, capacity: number): number {
  return pos >= capacity ? pos - capacity : pos;
}

export function advance(pos: number, bytes: number, capacity: number): number {
  const p = pos + bytes;
  return p >= 2 * capacity ? p - 2 * capacity : p;
}

/** Position of offset 0 in the lap after the one `pos` is in. */
export function nextLap(pos: number, capacity: number): number {
  return pos >= capacity ? 0 : capacity;
}

/** Bytes from position `from` forward to position `to`. */
export function distance(from: number, to: number, capacity: number): number {
  const d = to - from;
  return d < 0 ? d + 2 * capacity : d;
}

/** The reader's position once a skip pending at `wrapAt` is taken into account. */
export function effectiveRead(read: number, wrapAt: number, capacity: number): number {
  return read === wrapAt ? nextLap(read, capacity) : read;
}
