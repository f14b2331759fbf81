/**
 * What flows between the main thread and a shard worker.
 *
 * main → shard: ring records, in order. A batch record carries the raw batch
 * (format = msgpack/json/ndjson/stats-writer, id = the batch's global sequence number); a
 * control record carries a msgpack-encoded ControlMessage (id = its sequence
 * number). Because both travel through the same ring, a control applies at
 * one point of the shard's stream.
 *
 * A multi record (RECORD_MULTI) carries several small batches that the main
 * thread coalesced into one record (one worker wake-up, one delta, one merge
 * for all of them); the worker ingests and acknowledges each sub-batch on its
 * own, so each keeps its own answer. Its payload, little-endian:
 *
 *   u32 count, then `count` times:
 *     u32 id (low 32 bits), u32 id (high bits), u32 format, u32 length, `length` bytes
 *
 * shard → main: messages on a MessagePort (ShardMessage).
 */
import type { EventError, IdentifiedMetric } from '../engine/engine.js';
import type { FlatDelta } from '../merge/delta.js';
import type { MessagePort } from 'node:worker_threads';
import type { MetricDef, Settings } from '../config/types.js';

export const RECORD_BATCH = 1;
export const RECORD_CONTROL = 2;
export const RECORD_MULTI = 3;

/** Bytes of a multi record before its first sub-batch. */
export const MULTI_HEADER_BYTES = 4;
/** Bytes before each sub-batch's own bytes in a multi record. */
export const MULTI_SUB_HEADER_BYTES = 16;

export type ControlMessage =
  /** ship everything recorded so far, answering with `flushed: id` */
  | { op: 'flush' }
  | { op: 'add'; id: number; def: MetricDef }
  | { op: 'remove'; id: number }
  /** ship, then end the task (ring drained up to here) */
  | { op: 'stop' }
  /** a stats-writer connection closed: forget its state (Engine.closeWriter; nothing shipped) */
  | { op: 'writer-close'; conn: number };

/** Per-batch answer: the counts, why the batch could not be framed, or the engine's failure on it. */
export interface BatchAck {
  id: number;
  accepted: number;
  rejected: number;
  errors: EventError[];
  /** set when the batch could not be framed (nothing of it was counted) */
  framing?: string;
  /** set when the engine threw anything but a FramingError on the batch (nothing of it was counted: 500) */
  internal?: string;
  /**
   * stats-writer lines (FORMAT_STATS_WRITER) only: a line broke the protocol
   * the way Dovecot answers by disconnecting; the main thread closes the
   * connection. The lines before it are counted, none after it.
   */
  fatal?: string;
}

export type ShardMessage =
  | { t: 'ready'; shard: number; threadId: number }
  /**
   * What the shard recorded since its last delta, and the acks of the
   * batches it covers; `flushed` is the id of a flush/stop control it answers.
   */
  | { t: 'delta'; shard: number; delta: FlatDelta; acks: BatchAck[]; flushed: number | null };

export interface ShardTask {
  shard: number;
  sab: SharedArrayBuffer;
  port: MessagePort;
  settings: Pick<Settings, 'dovecotCompat' | 'maxSubMetrics'>;
  metrics: IdentifiedMetric[];
}
