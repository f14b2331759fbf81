import {
  CLOSED,
  CONSUMER_WAITING,
  HDR_ID_HI,
  HDR_ID_LO,
  HDR_LENGTH,
  HDR_META,
  HELD,
  ID_HI_FACTOR,
  META_FORMAT_MASK,
  META_FORMAT_SHIFT,
  META_TYPE_MASK,
  READ_POS,
  RECORDS_READ,
  SPACE_WANTED,
  WRAP_AT,
  WRAP_NONE,
  WRITE_POS,
  advance,
  distance,
  effectiveRead,
  headerWord,
  nextLap,
  offsetOf,
  payloadByte,
  recordBytes,
} from './layout.js';
import { attachRing } from './memory.js';
import type { RecordSink } from './sink.js';
import { checkTimeout, waitChange } from './wait.js';

/**
 * Receives the shared buffer, its start byte and end byte (exclusive) of a
 * record's payload in place. The bytes are only valid during the call.
 */
export type InPlaceVisitor = (shared: Buffer, start: number, end: number) => void;

/**
 * The reading side of a ring (one per ring, in the shard worker). A new
 * consumer over the same buffer (a restarted worker) resumes after the last
 * record the previous one finished reading.
 */
export class RingConsumer {
  readonly capacity: number;

  private readonly i32: Int32Array;
  private readonly bytes: Buffer;
  private pos: number;
  private readCount: number;
  private waiters: number;
  /** payload bytes of the record taken and not yet freed (-1: none) */
  private heldLength: number;

  constructor(sab: SharedArrayBuffer) {
    const mem = attachRing(sab);
    this.capacity = mem.capacity;
    this.i32 = mem.i32;
    this.bytes = mem.bytes;
    this.pos = Atomics.load(mem.i32, READ_POS);
    this.readCount = Atomics.load(mem.i32, RECORDS_READ);
    this.waiters = 0;
    this.heldLength = -1;
    Atomics.store(mem.i32, CONSUMER_WAITING, 0);
    this.dropStaleWrap();
    this.dropHeld();
  }

  /** The ring's bytes: what take()'s payload index points into. */
  get shared(): Buffer {
    return this.bytes;
  }

  /**
   * Takes the next record in place: its header fields into `sink` (not its
   * buffer) and the byte index of its payload in `shared`, or -1 when the
   * ring is empty. The record counts as read at once; its bytes stay valid,
   * and its space taken, until free(). At most one record is held at a time,
   * and hasData() and the waits are for a consumer holding none.
   */
  take(sink: RecordSink): number {
    if (this.heldLength >= 0) throw new Error('ring consumer: a record is held already (free it first)');
    const start = this.claim(sink);
    if (start < 0) return -1;
    this.readCount = (this.readCount + 1) | 0;
    Atomics.store(this.i32, RECORDS_READ, this.readCount);
    Atomics.store(this.i32, HELD, 1);
    this.heldLength = sink.length;
    return start;
  }

  /** Copies the payload of the record take() holds into `sink.buffer` (grown when short). */
  copyHeld(sink: RecordSink, start: number): void {
    const len = this.heldLength;
    let dst = sink.buffer;
    if (dst.length < len) dst = sink.reserve(len);
    this.bytes.copy(dst, 0, start, start + len);
  }

  /** Frees the record take() holds (its bytes are the producer's again). */
  free(): void {
    const len = this.heldLength;
    if (len < 0) return;
    this.heldLength = -1;
    // HELD first: a consumer dying in between leaves the record to be read again, never a record skipped
    Atomics.store(this.i32, HELD, 0);
    this.freeSpace(len);
  }

  /**
   * Copies the next record into `sink` (header fields, payload into
   * sink.buffer) and frees its space; false when the ring is empty.
   */
  read(sink: RecordSink): boolean {
    const start = this.take(sink);
    if (start < 0) return false;
    this.copyHeld(sink, start);
    this.free();
    return true;
  }

  /**
   * Zero-copy read: fills the header fields of `sink` (not its buffer), calls
   * `visit` on the payload where it lies in shared memory, then frees the
   * record (also when `visit` throws). The bytes are valid only during the
   * call; msgpackr with msgpackr-extract crashes the process on a Buffer over
   * a SharedArrayBuffer, so what msgpackr decodes is copied first.
   */
  readInPlace(sink: RecordSink, visit: InPlaceVisitor): boolean {
    const start = this.take(sink);
    if (start < 0) return false;
    try {
      visit(this.bytes, start, start + sink.length);
    } finally {
      this.free();
    }
    return true;
  }

  /** Whether a record is ready to read. */
  hasData(): boolean {
    return Atomics.load(this.i32, WRITE_POS) !== this.pos;
  }

  /** Whether the producer has closed the ring (records may remain to read). */
  get closed(): boolean {
    return Atomics.load(this.i32, CLOSED) !== 0;
  }

  /** Data-region bytes in use, as seen from the reading side. */
  usedBytes(): number {
    const cap = this.capacity;
    const r = effectiveRead(this.pos, Atomics.load(this.i32, WRAP_AT), cap);
    return Math.min(distance(r, Atomics.load(this.i32, WRITE_POS), cap), cap);
  }

  /**
   * Resolves true as soon as a record is ready, false after `timeoutMs` without
   * one or once the ring is closed. Waits with Atomics.waitAsync on the write
   * position; the producer notifies only while this wait is flagged. Throws
   * RangeError at once for a timeout outside 0..MAX_WAIT_MS.
   */
  waitForData(timeoutMs: number): Promise<boolean> {
    checkTimeout(timeoutMs);
    const i32 = this.i32;
    if (this.hasData()) return Promise.resolve(true);
    if (this.closed) return Promise.resolve(false);
    this.waiters++;
    Atomics.store(i32, CONSUMER_WAITING, 1);
    return waitChange(i32, WRITE_POS, this.pos, timeoutMs).then(() => {
      if (--this.waiters === 0) Atomics.store(i32, CONSUMER_WAITING, 0);
      return this.hasData();
    });
  }

  /**
   * Like waitForData, but blocks the calling thread (Atomics.wait) for up to
   * `timeoutMs`: true once a record is ready, false on timeout or once the
   * ring is closed. A producer's notify wakes the thread straight from the
   * futex, without a turn of its event loop (what waking an
   * Atomics.waitAsync costs: a task posted to the isolate, an event-loop
   * wake-up, a promise). Only for a worker thread with nothing else to do
   * meanwhile; it should return to its event loop between waits.
   */
  waitForDataSync(timeoutMs: number): boolean {
    checkTimeout(timeoutMs);
    const i32 = this.i32;
    if (this.hasData()) return true;
    if (this.closed) return false;
    Atomics.store(i32, CONSUMER_WAITING, 1);
    try {
      Atomics.wait(i32, WRITE_POS, this.pos, timeoutMs);
    } finally {
      if (this.waiters === 0) Atomics.store(i32, CONSUMER_WAITING, 0);
    }
    return this.hasData();
  }

  /**
   * A consumer that died between storing READ_POS and clearing WRAP_AT leaves
   * a marker just behind the read position (more than capacity bytes ahead of
   * it, going forward), while a live marker lies between the read and write
   * positions. Clear a stale one unless the producer has replaced it meanwhile.
   */
  private dropStaleWrap(): void {
    const i32 = this.i32;
    const cap = this.capacity;
    const w = Atomics.load(i32, WRITE_POS);
    const wrapAt = Atomics.load(i32, WRAP_AT);
    if (wrapAt === WRAP_NONE) return;
    if (distance(this.pos, wrapAt, cap) > distance(this.pos, w, cap)) {
      Atomics.compareExchange(i32, WRAP_AT, wrapAt, WRAP_NONE);
    }
  }

  /** Reads the next record's header into `sink`; returns its payload's byte index, or -1. */
  private claim(sink: RecordSink): number {
    const i32 = this.i32;
    const cap = this.capacity;
    let r = this.pos;
    if (Atomics.load(i32, WRITE_POS) === r) return -1;
    if (Atomics.load(i32, WRAP_AT) === r) {
      r = nextLap(r, cap);
      this.pos = r;
      Atomics.store(i32, READ_POS, r);
      Atomics.store(i32, WRAP_AT, WRAP_NONE);
    }
    const off = offsetOf(r, cap);
    const hw = headerWord(off);
    const meta = i32[hw + HDR_META] as number;
    sink.type = meta & META_TYPE_MASK;
    sink.format = (meta >>> META_FORMAT_SHIFT) & META_FORMAT_MASK;
    sink.id = ((i32[hw + HDR_ID_HI] as number) >>> 0) * ID_HI_FACTOR + ((i32[hw + HDR_ID_LO] as number) >>> 0);
    sink.length = i32[hw + HDR_LENGTH] as number;
    return payloadByte(off);
  }

  /**
   * A consumer that died holding a record (take without free) counted it as
   * read and left its space taken: free it without reading it again.
   */
  private dropHeld(): void {
    const i32 = this.i32;
    if (Atomics.load(i32, HELD) === 0) return;
    // take left READ_POS at the record itself (past any tail it skipped)
    if (Atomics.load(i32, WRITE_POS) !== this.pos) {
      const len = i32[headerWord(offsetOf(this.pos, this.capacity)) + HDR_LENGTH] as number;
      Atomics.store(i32, HELD, 0);
      this.freeSpace(len);
    } else Atomics.store(i32, HELD, 0);
  }

  /** Frees the record at the read position and wakes a producer waiting for that space. */
  private freeSpace(len: number): void {
    const i32 = this.i32;
    const cap = this.capacity;
    const r = advance(this.pos, recordBytes(len), cap);
    this.pos = r;
    Atomics.store(i32, READ_POS, r);
    const want = Atomics.load(i32, SPACE_WANTED);
    if (want !== 0) {
      const used = distance(effectiveRead(r, Atomics.load(i32, WRAP_AT), cap), Atomics.load(i32, WRITE_POS), cap);
      if (used === 0 || cap - used >= want) Atomics.notify(i32, READ_POS);
    }
  }
}
