/**
 * A shard: a piscina task that runs for the life of the shard. It reads its
 * ring, decodes and aggregates each batch into its own Engine, and ships
 * deltas (what it recorded since the last one, with the acks of the batches
 * they cover) to the main thread: when its ring runs dry, every
 * SHIP_EVERY_BATCHES batches, every SHIP_EVERY_MS, and on a flush. Under
 * load each delta costs a merge on the main thread, so fewer, larger deltas
 * cost less CPU per event; an idle ring ships at once (no added latency).
 * Deltas that answer only stats-writer lines (no client waits on them) go
 * out every SHIP_WRITER_EVERY_MS / SHIP_WRITER_EVERY_BATCHES instead.
 *
 * A multi record (small batches the main thread coalesced) is ingested and
 * acknowledged batch by batch: each keeps its own counts or framing error.
 * Only a FramingError is the client's fault; anything else the engine throws
 * is acknowledged as `internal` (answered 500, never 400).
 */
import { threadId } from 'node:worker_threads';
import { Unpackr } from 'msgpackr';
import { Engine } from '../engine/engine.js';
import { FORMAT_MSGPACK, FORMAT_STATS_WRITER, FramingError, type BatchFormat } from '../event/decode.js';
import { RecordSink, RingConsumer } from '../ring/index.js';
import {
  MULTI_HEADER_BYTES,
  MULTI_SUB_HEADER_BYTES,
  RECORD_BATCH,
  RECORD_CONTROL,
  RECORD_MULTI,
  type BatchAck,
  type ControlMessage,
  type ShardMessage,
  type ShardTask,
} from './protocol.js';

const SHIP_EVERY_BATCHES = 32;
const SHIP_EVERY_MS = 10;
/**
 * Deltas that only answer stats-writer lines (nobody waits for them; a
 * scrape or dump flushes first anyway) go out at most this often: each
 * delta costs the main thread a structured clone and a tree merge.
 */
const SHIP_WRITER_EVERY_MS = 50;
const SHIP_WRITER_EVERY_BATCHES = 256;
const IDLE_WAIT_MS = 200;
/**
 * A dry ring is waited on blocking the thread (Atomics.wait) for up to this
 * long at a time, with a turn of the worker's event loop between waits (so
 * termination and the loop's own work are never held up for longer). Woken
 * from the futex, the worker starts on the next record at once: waking an
 * Atomics.waitAsync instead costs a task posted to the worker's isolate, an
 * event-loop wake-up and a promise per record, on both threads.
 */
const SYNC_WAIT_MS = 20;

const controlUnpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

/** Only a FramingError is the client's fault (400); anything else the engine throws is tallyd's (500). */
export function isFramingError(e: unknown): e is Error {
  return e instanceof FramingError || (e instanceof Error && (e as { code?: unknown }).code === 'ERR_INGEST_FRAMING');
}

export default async function runShard(task: ShardTask): Promise<{ shard: number; batches: number }> {
  const { shard, port } = task;
  const engine = new Engine({ metrics: [], settings: task.settings }, task.metrics);
  const ring = new RingConsumer(task.sab);
  const sink = new RecordSink(1 << 20);
  let acks: BatchAck[] = [];
  let lastShip = performance.now();
  let batches = 0;
  /** whether an ack not yet shipped is one a client waits for */
  let awaited = false;

  const ship = (flushed: number | null): void => {
    const delta = engine.takeDelta();
    const msg: ShardMessage = { t: 'delta', shard, delta, acks, flushed };
    // the figures move to the main thread: transferred, not copied
    port.postMessage(msg, [delta.cells.buffer as ArrayBuffer, delta.nodes.buffer as ArrayBuffer]);
    acks = [];
    awaited = false;
    lastShip = performance.now();
  };

  /** One batch, answered on its own: its counts, a framing error, or the engine's failure. */
  const ingestOne = (bytes: Buffer, format: BatchFormat, seq: number): void => {
    batches++;
    const ack: BatchAck = { id: seq, accepted: 0, rejected: 0, errors: [] };
    try {
      // from the network: plain msgpack only, structure checked before anything reads it
      const r = engine.ingestBytes(bytes, format, seq, true);
      ack.accepted = r.accepted;
      ack.rejected = r.rejected;
      ack.errors = r.errors;
      if (r.fatal !== undefined) ack.fatal = r.fatal;
    } catch (e) {
      if (isFramingError(e)) ack.framing = e.message;
      else ack.internal = e instanceof Error ? e.message : String(e);
    }
    acks.push(ack);
    // a client waits for this answer (stats-writer lines have none to wait for, unless they broke the protocol)
    if (format !== FORMAT_STATS_WRITER || ack.fatal !== undefined || ack.internal !== undefined) awaited = true;
  };

  /** under load: a client's answer within SHIP_EVERY_MS, stats-writer lines' within SHIP_WRITER_EVERY_MS */
  const shipDue = (): boolean =>
    awaited
      ? acks.length >= SHIP_EVERY_BATCHES || performance.now() - lastShip >= SHIP_EVERY_MS
      : acks.length >= SHIP_WRITER_EVERY_BATCHES || performance.now() - lastShip >= SHIP_WRITER_EVERY_MS;

  const hello: ShardMessage = { t: 'ready', shard, threadId };
  port.postMessage(hello);

  for (;;) {
    const start = ring.take(sink);
    if (start < 0) {
      // dry: answer what a client waits for at once (no added latency); stats-writer
      // lines, which nobody waits on, within SHIP_WRITER_EVERY_MS (fewer, larger deltas)
      let wait = SYNC_WAIT_MS;
      if (acks.length > 0) {
        const since = performance.now() - lastShip;
        if (awaited || since >= SHIP_WRITER_EVERY_MS) ship(null);
        else wait = Math.max(1, Math.ceil(SHIP_WRITER_EVERY_MS - since));
      }
      if (ring.closed && !ring.hasData()) {
        if (acks.length > 0) ship(null);
        break;
      }
      if (ring.waitForDataSync(wait)) continue;
      if (acks.length > 0) continue;
      // a turn of the event loop, then (still dry) the usual wait
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (!ring.hasData() && !ring.closed) await ring.waitForData(IDLE_WAIT_MS);
      continue;
    }
    if (sink.type === RECORD_BATCH && sink.format === FORMAT_MSGPACK) {
      // read where it lies (the scanner reads shared memory; msgpackr gets a copy of what it decodes),
      // freed before its delta is shipped: a worker dying before it has shipped it left it unanswered
      ingestOne(ring.shared.subarray(start, start + sink.length), FORMAT_MSGPACK, sink.id);
      ring.free();
      if (shipDue()) ship(null);
      continue;
    }
    ring.copyHeld(sink, start);
    ring.free();
    if (sink.type === RECORD_BATCH) {
      ingestOne(sink.buffer.subarray(0, sink.length), sink.format as BatchFormat, sink.id);
      if (shipDue()) ship(null);
    } else if (sink.type === RECORD_MULTI) {
      // small batches coalesced by the main thread: each ingested and answered on its own
      const buf = sink.buffer;
      const n = buf.readUInt32LE(0);
      let off = MULTI_HEADER_BYTES;
      for (let i = 0; i < n; i++) {
        const seq = buf.readUInt32LE(off + 4) * 2 ** 32 + buf.readUInt32LE(off);
        const format = buf.readUInt32LE(off + 8) as BatchFormat;
        const len = buf.readUInt32LE(off + 12);
        off += MULTI_SUB_HEADER_BYTES;
        ingestOne(buf.subarray(off, off + len), format, seq);
        off += len;
      }
      if (shipDue()) ship(null);
    } else if (sink.type === RECORD_CONTROL) {
      const msg = controlUnpackr.unpack(sink.buffer.subarray(0, sink.length)) as ControlMessage;
      if (msg.op === 'add') {
        if (!engine.hasMetricId(msg.id)) engine.addMetric(msg.def, msg.id);
      } else if (msg.op === 'remove') {
        engine.removeMetricId(msg.id);
      } else if (msg.op === 'writer-close') {
        engine.closeWriter(msg.conn);
      } else {
        ship(sink.id);
        if (msg.op === 'stop') break;
      }
    }
  }
  // the port closes with the task (closing it here could drop the last delta)
  return { shard, batches };
}
