/**
 * Ring transfer, main thread → one worker (bench/ring.ts's modes and
 * consumer): one call writes 32 batches of 1000 events (~64–140 KiB each)
 * into a 16 MiB ring and waits until the worker has consumed them all (a SYNC
 * record it answers through a shared counter), so the time covers transfer,
 * the consumer's work and one wake-up.
 */
import { once } from 'node:events';
import { RecordFormat, RingProducer, createRing } from '../../src/ring/index.js';
import { EVENTS_PER_BATCH, MODES, RING_BYTES, SYNC, makeBatch, startConsumer } from '../ring.js';
import { rowsOf, type Row } from '../lib/report.js';
import { newBench, type SuiteOptions } from './common.js';

const PER_CALL = 32;
const DATA = 1;
const STOP = 3;

export async function ringSuite(opts: SuiteOptions): Promise<Row[]> {
  const rows: Row[] = [];
  const modes = opts.quick ? MODES.filter((m) => m.name.includes('maps')) : MODES;
  for (const mode of modes) {
    const batch = makeBatch(mode.encoding);
    const sab = createRing(RING_BYTES);
    const syncBuf = new SharedArrayBuffer(4);
    const sync = new Int32Array(syncBuf);
    const producer = new RingProducer(sab);
    const worker = startConsumer(mode, sab, syncBuf);
    const empty = new Uint8Array(0);
    let id = 0;
    const send = async (type: number, payload: Uint8Array): Promise<void> => {
      while (!producer.tryWrite(type, id, RecordFormat.msgpack, payload)) {
        await producer.waitForSpace(payload.length, 1000);
      }
      id++;
    };
    const bench = newBench(opts, 'ring');
    const name = `${mode.name}: ${PER_CALL} x ${batch.length} B batches (${EVENTS_PER_BATCH} events)`;
    bench.add(name, async () => {
      for (let i = 0; i < PER_CALL; i++) await send(DATA, batch);
      const seen = Atomics.load(sync, 0);
      await send(SYNC, empty);
      for (;;) {
        const w = Atomics.waitAsync(sync, 0, seen, 5000);
        const r = w.async ? await w.value : w.value;
        if (Atomics.load(sync, 0) !== seen) break;
        if (r === 'timed-out') throw new Error(`ring ${mode.name}: the consumer did not answer`);
      }
    });
    try {
      await bench.run();
    } finally {
      const exited = once(worker, 'exit');
      await send(STOP, empty).catch(() => undefined);
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
      await worker.terminate();
    }
    for (const row of rowsOf('ring', bench)) {
      rows.push({ ...row, itemsPerOp: PER_CALL * EVENTS_PER_BATCH, unit: 'events', itemsPerSec: row.opsPerSec * PER_CALL * EVENTS_PER_BATCH });
    }
  }
  return rows;
}
