/**
 * The main thread's side of one shard: its ring producer, the batches and
 * flushes it waits on (in ring order), and the task running it.
 */
import type { BatchFormat } from '../event/decode.js';
import { RingProducer } from '../ring/index.js';
import type { BatchAck } from './protocol.js';

export interface PendingBatch {
  /** position of its record among all records written to this ring */
  record: number;
  /** the batch, kept until it is answered: if its shard dies, its events are counted lost */
  bytes: Uint8Array;
  format: BatchFormat;
  resolve(outcome: BatchOutcome): void;
}

export interface PendingFlush {
  record: number;
  resolve(): void;
}

export type BatchOutcome = { kind: 'ack'; ack: BatchAck } | { kind: 'lost' };

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
  /** set while a reset waits for this shard's marker: later deltas wait too */
  passedMarker: boolean;
  alive: boolean;

  constructor(index: number, sab: SharedArrayBuffer) {
    this.index = index;
    this.sab = sab;
    this.producer = new RingProducer(sab);
    this.written = 0;
    this.batches = new Map();
    this.flushes = new Map();
    this.threadId = -1;
    this.restarts = 0;
    this.passedMarker = false;
    this.alive = false;
  }

  /** Records the consumer has taken out of the ring. */
  readCount(): number {
    return this.written - this.producer.pendingRecords();
  }
}
