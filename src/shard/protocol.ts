/**
 * What flows between the main thread and a shard worker.
 *
 * main → shard: ring records, in order. A batch record carries the raw batch
 * (format = msgpack/json/ndjson, id = the batch's global sequence number); a
 * control record carries a msgpack-encoded ControlMessage (id = its sequence
 * number). Because both travel through the same ring, a control applies at
 * one point of the shard's stream.
 *
 * shard → main: messages on a MessagePort (ShardMessage).
 */
import type { EngineDelta, EventError, IdentifiedMetric } from '../engine/engine.js';
import type { MessagePort } from 'node:worker_threads';
import type { MetricDef, Settings } from '../config/types.js';

export const RECORD_BATCH = 1;
export const RECORD_CONTROL = 2;

export type ControlMessage =
  /** ship everything recorded so far, answering with `flushed: id` */
  | { op: 'flush' }
  | { op: 'add'; id: number; def: MetricDef }
  | { op: 'remove'; id: number }
  /** ship, then end the task (ring drained up to here) */
  | { op: 'stop' };

/** Per-batch answer: the counts, or why the batch could not be framed. */
export interface BatchAck {
  id: number;
  accepted: number;
  rejected: number;
  errors: EventError[];
  /** set when the batch could not be framed (nothing of it was counted) */
  framing?: string;
}

export type ShardMessage =
  | { t: 'ready'; shard: number; threadId: number }
  /**
   * What the shard recorded since its last delta, and the acks of the
   * batches it covers; `flushed` is the id of a flush/stop control it answers.
   */
  | { t: 'delta'; shard: number; delta: EngineDelta; acks: BatchAck[]; flushed: number | null };

export interface ShardTask {
  shard: number;
  sab: SharedArrayBuffer;
  port: MessagePort;
  settings: Pick<Settings, 'dovecotCompat' | 'maxSubMetrics'>;
  metrics: IdentifiedMetric[];
}
