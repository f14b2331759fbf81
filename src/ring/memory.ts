import {
  CAPACITY_WORD,
  DATA_START,
  LAYOUT_VERSION,
  MAGIC,
  MAGIC_WORD,
  MAX_CAPACITY,
  MIN_CAPACITY,
  READ_POS,
  VERSION_WORD,
  WRAP_AT,
  WRAP_NONE,
  WRITE_POS,
  ringByteLength,
  roundCapacity,
} from './layout.js';

/** Views over one ring's SharedArrayBuffer, shared by producer and consumer code. */
export interface RingMemory {
  readonly sab: SharedArrayBuffer;
  readonly i32: Int32Array;
  readonly u8: Uint8Array;
  readonly bytes: Buffer;
  readonly capacity: number;
}

/**
 * Allocates a ring with `dataBytes` of data region (rounded up to a multiple
 * of 8; between 32 bytes and 1 GiB). Hand the buffer to one RingProducer and
 * one RingConsumer, e.g. through workerData.
 */
export function createRing(dataBytes: number): SharedArrayBuffer {
  if (!Number.isInteger(dataBytes) || dataBytes < MIN_CAPACITY || dataBytes > MAX_CAPACITY) {
    throw new RangeError(
      `ring size must be an integer from ${MIN_CAPACITY} to ${MAX_CAPACITY} bytes, got ${dataBytes}`,
    );
  }
  const capacity = roundCapacity(dataBytes);
  const sab = new SharedArrayBuffer(ringByteLength(capacity));
  const i32 = new Int32Array(sab);
  Atomics.store(i32, MAGIC_WORD, MAGIC);
  Atomics.store(i32, VERSION_WORD, LAYOUT_VERSION);
  Atomics.store(i32, CAPACITY_WORD, capacity);
  Atomics.store(i32, WRITE_POS, 0);
  Atomics.store(i32, READ_POS, 0);
  Atomics.store(i32, WRAP_AT, WRAP_NONE);
  return sab;
}

/** Validates a buffer made by createRing and returns views over it. */
export function attachRing(sab: SharedArrayBuffer): RingMemory {
  if (!(sab instanceof SharedArrayBuffer) || sab.byteLength < DATA_START + MIN_CAPACITY) {
    throw new TypeError('not a ring: expected a SharedArrayBuffer made by createRing()');
  }
  const i32 = new Int32Array(sab);
  if (Atomics.load(i32, MAGIC_WORD) !== MAGIC) {
    throw new TypeError('not a ring: bad magic word');
  }
  const version = Atomics.load(i32, VERSION_WORD);
  if (version !== LAYOUT_VERSION) {
    throw new TypeError(`ring layout version ${version}, expected ${LAYOUT_VERSION}`);
  }
  const capacity = Atomics.load(i32, CAPACITY_WORD);
  if (ringByteLength(capacity) !== sab.byteLength) {
    throw new TypeError(`ring capacity ${capacity} does not match buffer size ${sab.byteLength}`);
  }
  return { sab, i32, u8: new Uint8Array(sab), bytes: Buffer.from(sab), capacity };
}
