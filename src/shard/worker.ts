/**
 * A shard: a piscina task that runs for the life of the shard. It reads its
 * ring, decodes and aggregates each batch into its own Engine, and ships
 * deltas (what it recorded since the last one, with the acks of the batches
 * they cover) to the main thread: when its ring runs dry, every
 * SHIP_EVERY_BATCHES batches, every SHIP_EVERY_MS, and on a flush. Under
 * load each delta costs a merge on the main thread, so fewer, larger deltas
 * cost less CPU per event; an idle ring ships at once (no added latency).
 */
import { threadId } from 'node:worker_threads';
import { Unpackr } from 'msgpackr';
import { Engine } from '../engine/engine.js';
import type { BatchFormat } from '../event/decode.js';
import { RecordSink, RingConsumer } from '../ring/index.js';
import { RECORD_BATCH, RECORD_CONTROL, type BatchAck, type ControlMessage, type ShardMessage, type ShardTask } from './protocol.js';

const SHIP_EVERY_BATCHES = 32;
const SHIP_EVERY_MS = 10;
const IDLE_WAIT_MS = 200;

const controlUnpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

export default async function runShard(task: ShardTask): Promise<{ shard: number; batches: number }> {
  const { shard, port } = task;
  const engine = new Engine({ metrics: [], settings: task.settings }, task.metrics);
  const ring = new RingConsumer(task.sab);
  const sink = new RecordSink(1 << 20);
  let acks: BatchAck[] = [];
  let lastShip = performance.now();
  let batches = 0;

  const ship = (flushed: number | null): void => {
    const msg: ShardMessage = { t: 'delta', shard, delta: engine.takeDelta(), acks, flushed };
    port.postMessage(msg);
    acks = [];
    lastShip = performance.now();
  };

  const hello: ShardMessage = { t: 'ready', shard, threadId };
  port.postMessage(hello);

  for (;;) {
    if (!ring.read(sink)) {
      if (acks.length > 0) ship(null);
      if (ring.closed && !ring.hasData()) break;
      await ring.waitForData(IDLE_WAIT_MS);
      continue;
    }
    if (sink.type === RECORD_BATCH) {
      batches++;
      const ack: BatchAck = { id: sink.id, accepted: 0, rejected: 0, errors: [] };
      try {
        // from the network: plain msgpack only, structure checked before anything reads it
        const r = engine.ingestBytes(sink.buffer.subarray(0, sink.length), sink.format as BatchFormat, sink.id, true);
        ack.accepted = r.accepted;
        ack.rejected = r.rejected;
        ack.errors = r.errors;
      } catch (e) {
        ack.framing = (e as Error).message;
      }
      acks.push(ack);
      if (acks.length >= SHIP_EVERY_BATCHES || performance.now() - lastShip >= SHIP_EVERY_MS) ship(null);
    } else if (sink.type === RECORD_CONTROL) {
      const msg = controlUnpackr.unpack(sink.buffer.subarray(0, sink.length)) as ControlMessage;
      if (msg.op === 'add') {
        if (!engine.hasMetricId(msg.id)) engine.addMetric(msg.def, msg.id);
      } else if (msg.op === 'remove') {
        engine.removeMetricId(msg.id);
      } else {
        ship(sink.id);
        if (msg.op === 'stop') break;
      }
    }
  }
  // the port closes with the task (closing it here could drop the last delta)
  return { shard, batches };
}
