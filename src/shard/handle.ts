/**
 * The main thread's side of one shard: its ring producer, the batches and
 * flushes it waits on (in ring order), and the task running it.
 */
import type { BatchFormat } from '../event/decode.js';
import { RingProducer } from '../ring/index.js';
import type { BatchAck } from './protocol.js';

export interface PendingBatch {
  /** its batch id (the runtime's sequence number) */
  id: number;
  /**
   * position of its record among all records written to this ring;
   * NOT_WRITTEN while it waits in the shard's coalescing group (a dying
   * worker never held it: it goes into the ring for the next one)
   */
  record: number;
  /** the batch, kept until it is answered: if its shard dies, its events are counted lost */
  bytes: Uint8Array;
  format: BatchFormat;
  /** its events, counted when it was written, for a batch whose bytes were not kept (-1: count `bytes`) */
  events: number;
  resolve(outcome: BatchOutcome): void;
}

export interface PendingFlush {
  record: number;
  resolve(): void;
}

/** PendingBatch.record of a batch still in its shard's coalescing group. */
export const NOT_WRITTEN = Number.POSITIVE_INFINITY;

/**
 * Small batches bound for one ring as one multi record, written at the end
 * of the event-loop turn (or once large enough). Room for the whole group in
 * the ring was checked as each batch joined, and nothing else is written
 * into that ring before the group (every other write flushes groups first).
 */
export interface CoalesceGroup {
  batches: PendingBatch[];
  /** payload bytes of the multi record so far (header included) */
  payloadBytes: number;
}

export type BatchOutcome =
  | { kind: 'ack'; ack: BatchAck }
  | { kind: 'lost' }
  /** its group found no room in the ring after all (never expected: room is checked as batches join) */
  | { kind: 'busy' };

export class ShardHandle {
  readonly index: number;
  readonly sab: SharedArrayBuffer;
  readonly producer: RingProducer;
  /** records written so far (batches and controls) */
  written: number;
  readonly batches: Map<number, PendingBatch>;
  readonly flushes: Map<number, PendingFlush>;
  threadId: number;
  restarts: number;
  /** events this shard accepted (from its acks), for the live page's per-shard rate */
  accepted: number;
  /** set while a reset waits for this shard's marker: later deltas wait too */
  passedMarker: boolean;
  alive: boolean;
  /** small batches not yet written into the ring, or null */
  group: CoalesceGroup | null;

  constructor(index: number, sab: SharedArrayBuffer) {
    this.index = index;
    this.sab = sab;
    this.producer = new RingProducer(sab);
    this.written = 0;
    this.batches = new Map();
    this.flushes = new Map();
    this.threadId = -1;
    this.restarts = 0;
    this.accepted = 0;
    this.passedMarker = false;
    this.alive = false;
    this.group = null;
  }

  /** Records the consumer has taken out of the ring. */
  readCount(): number {
    return this.written - this.producer.pendingRecords();
  }
}
