import {
  CLOSED,
  CONSUMER_WAITING,
  HDR_ID_HI,
  HDR_ID_LO,
  HDR_LENGTH,
  HDR_META,
  ID_HI_FACTOR,
  MAX_FORMAT,
  MAX_TYPE,
  META_FORMAT_SHIFT,
  READ_POS,
  RECORDS_READ,
  RECORDS_WRITTEN,
  SPACE_WANTED,
  WRAP_AT,
  WRITE_POS,
  advance,
  distance,
  effectiveRead,
  headerWord,
  maxPayloadBytes,
  nextLap,
  offsetOf,
  payloadByte,
  recordBytes,
} from './layout.js';
import { attachRing } from './memory.js';
import { checkTimeout, waitChange } from './wait.js';

/**
 * The writing side of a ring (one per ring, on the main thread). It never
 * blocks: tryWrite refuses a record that does not fit now, and waitForSpace
 * waits with Atomics.waitAsync.
 */
export class RingProducer {
  /** Data-region bytes. */
  readonly capacity: number;
  /** Largest payload tryWrite accepts; anything larger can never fit. */
  readonly maxRecordBytes: number;

  private readonly i32: Int32Array;
  private readonly u8: Uint8Array;
  private pos: number;
  private written: number;
  /** what each pending waitForSpace waits for: its record's bytes and its headroom */
  private readonly waiters: Set<{ alloc: number; room: number }>;
  private isClosed: boolean;

  constructor(sab: SharedArrayBuffer) {
    const mem = attachRing(sab);
    this.capacity = mem.capacity;
    this.maxRecordBytes = maxPayloadBytes(mem.capacity);
    this.i32 = mem.i32;
    this.u8 = mem.u8;
    this.pos = Atomics.load(mem.i32, WRITE_POS);
    this.written = Atomics.load(mem.i32, RECORDS_WRITTEN);
    this.waiters = new Set();
    this.isClosed = Atomics.load(mem.i32, CLOSED) !== 0;
  }

  /**
   * Appends a record, or returns false when it does not fit now (nothing is
   * overwritten; apply backpressure and retry, e.g. after waitForSpace).
   * Throws RangeError for a payload over maxRecordBytes, a type or format
   * outside 0..255 or an id that is not an integer in 0..2^53-1.
   */
  tryWrite(type: number, id: number, format: number, payload: Uint8Array): boolean {
    const len = payload.length;
    if (len > this.maxRecordBytes) this.tooLarge(len);
    if ((type & MAX_TYPE) !== type || (format & MAX_FORMAT) !== format || !(id >= 0 && Number.isSafeInteger(id))) {
      throw new RangeError(`invalid ring record header: type ${type}, format ${format}, id ${id}`);
    }
    if (this.isClosed) throw new Error('ring producer is closed');
    const cap = this.capacity;
    const i32 = this.i32;
    const w = this.pos;
    const alloc = recordBytes(len);
    const used = this.used();
    const tail = cap - offsetOf(w, cap);
    const skip = alloc > tail;
    if (used !== 0 && used + (skip ? tail + alloc : alloc) > cap) return false;

    const start = skip ? nextLap(w, cap) : w;
    const off = offsetOf(start, cap);
    const hw = headerWord(off);
    i32[hw + HDR_LENGTH] = len;
    i32[hw + HDR_META] = type | (format << META_FORMAT_SHIFT);
    i32[hw + HDR_ID_LO] = id >>> 0;
    i32[hw + HDR_ID_HI] = (id / ID_HI_FACTOR) >>> 0;
    this.u8.set(payload, payloadByte(off));

    if (skip) Atomics.store(i32, WRAP_AT, w);
    this.pos = advance(start, alloc, cap);
    this.written = (this.written + 1) | 0;
    Atomics.store(i32, RECORDS_WRITTEN, this.written);
    Atomics.store(i32, WRITE_POS, this.pos);
    if (Atomics.load(i32, CONSUMER_WAITING) !== 0) Atomics.notify(i32, WRITE_POS);
    // a waiter's record may now straddle the end: what it needs is counted again
    if (this.waiters.size !== 0) this.publishWanted();
    return true;
  }

  /** Whether a record with `payloadBytes` of payload would fit now. */
  fits(payloadBytes: number): boolean {
    if (payloadBytes > this.maxRecordBytes) return false;
    const used = this.used();
    return used === 0 || used + this.need(recordBytes(payloadBytes)) <= this.capacity;
  }

  /** Data-region bytes in use: records not yet read, plus a skipped tail the reader has yet to pass. */
  usedBytes(): number {
    return Math.min(this.used(), this.capacity);
  }

  /**
   * capacity - usedBytes(). A record needs recordBytes(payload) of it, plus
   * the tail it skips when it would straddle the end: use fits() to decide.
   */
  freeBytes(): number {
    return this.capacity - this.usedBytes();
  }

  /** Records written and not yet read. */
  pendingRecords(): number {
    return (this.written - Atomics.load(this.i32, RECORDS_READ)) >>> 0;
  }


  /**
   * Resolves true once a record of `payloadBytes` fits and at least
   * `headroom` bytes are free (at most the capacity), false if not after
   * `timeoutMs`. Waits with Atomics.waitAsync on the read position; the
   * consumer notifies when it has freed enough. A headroom spares a producer
   * that streams (a stats-writer connection) a wake-up of both threads per
   * record: woken once, it writes a run of records. Throws RangeError at
   * once for a payload over maxRecordBytes or a timeout outside 0..MAX_WAIT_MS.
   */
  waitForSpace(payloadBytes: number, timeoutMs: number, headroom = 0): Promise<boolean> {
    if (payloadBytes > this.maxRecordBytes) this.tooLarge(payloadBytes);
    checkTimeout(timeoutMs);
    const room = Math.min(Math.max(0, headroom), this.capacity);
    if (this.roomFor(payloadBytes, room)) return Promise.resolve(true);
    return this.spaceLoop(payloadBytes, room, performance.now() + timeoutMs);
  }

  /** Whether the record fits and `room` bytes are free. */
  private roomFor(payloadBytes: number, room: number): boolean {
    return this.fits(payloadBytes) && (room === 0 || this.freeBytes() >= room);
  }

  /** Marks the ring closed and wakes the consumer; tryWrite throws afterwards. */
  close(): void {
    this.isClosed = true;
    Atomics.store(this.i32, CLOSED, 1);
    Atomics.notify(this.i32, WRITE_POS);
  }

  private async spaceLoop(payloadBytes: number, room: number, deadline: number): Promise<boolean> {
    const i32 = this.i32;
    const waiter = { alloc: recordBytes(payloadBytes), room };
    this.waiters.add(waiter);
    try {
      for (;;) {
        this.publishWanted();
        const r = Atomics.load(i32, READ_POS);
        if (this.roomFor(payloadBytes, room)) return true;
        const left = deadline - performance.now();
        if (left <= 0) return false;
        await waitChange(i32, READ_POS, r, Math.ceil(left));
      }
    } finally {
      this.waiters.delete(waiter);
      this.publishWanted();
    }
  }

  /**
   * SPACE_WANTED: the free bytes at which the consumer wakes the waiters, the
   * least any of them waits for (0: none waits). Each woken waiter that is
   * still short publishes again; one word for all of them, and a free that
   * satisfies nobody wakes nobody.
   */
  private publishWanted(): void {
    let want = 0;
    for (const w of this.waiters) {
      const n = Math.max(this.need(w.alloc), w.room);
      if (want === 0 || n < want) want = n;
    }
    Atomics.store(this.i32, SPACE_WANTED, want);
  }

  private used(): number {
    const cap = this.capacity;
    const r = effectiveRead(Atomics.load(this.i32, READ_POS), Atomics.load(this.i32, WRAP_AT), cap);
    return distance(r, this.pos, cap);
  }

  /** Bytes a record of `alloc` bytes consumes at the current write position. */
  private need(alloc: number): number {
    const tail = this.capacity - offsetOf(this.pos, this.capacity);
    return alloc > tail ? tail + alloc : alloc;
  }

  private tooLarge(len: number): never {
    throw new RangeError(
      `ring record payload of ${len} bytes exceeds maxRecordBytes ${this.maxRecordBytes} (ring capacity ${this.capacity})`,
    );
  }
}
