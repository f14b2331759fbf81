/**
 * Ring throughput: main thread -> one worker through a 16 MiB ring, ~64 KiB
 * msgpack batches of 1000 events. Consumer work per mode:
 *   touch          read in place, one byte per 64-byte line
 *   copy           copy out into a reusable Buffer, one byte per 64-byte line
 *   copy+decode    copy out, then msgpackr unpack
 *   sab-decode     msgpackr unpack straight from the shared memory
 * Each decode mode runs with plain msgpack maps and with msgpackr records.
 * Decoding from shared memory uses msgpackr's JavaScript decoder: the native
 * msgpackr-extract 3.0.4 crashes the process (SIGSEGV) on a Buffer over a
 * SharedArrayBuffer; "copy out + decode, maps, JS decoder" is its like for like.
 *
 *   node dist/bench/ring.js [seconds per round = 2] [rounds = 3] [mode name filter]
 */
import { once } from 'node:events';
import { pathToFileURL } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Packr, Unpackr, isNativeAccelerationEnabled } from 'msgpackr';
import { RecordFormat, RecordSink, RingConsumer, RingProducer, createRing } from '../src/ring/index.js';

export const RING_BYTES = 16 * 1024 * 1024;
export const EVENTS_PER_BATCH = 1000;
const DATA = 1;
const START = 2;
const STOP = 3;
/** the consumer bumps sync[0] and wakes its waiters (used by the runner's ring suite) */
export const SYNC = 4;

type Work = 'touch' | 'decode';
type Encoding = 'maps' | 'records';

export interface Mode {
  readonly name: string;
  readonly copy: boolean;
  readonly work: Work;
  readonly encoding: Encoding;
  /**
   * decode with msgpackr's JavaScript decoder: msgpackr-extract 3.0.4
   * crashes the process (SIGSEGV) when given a Buffer over a SharedArrayBuffer
   */
  readonly jsDecoder?: boolean;
}

interface WorkerInput {
  readonly ringBench: true;
  readonly sab: SharedArrayBuffer;
  readonly mode: Mode;
  /** Int32Array(1) over it: bumped on every SYNC record */
  readonly sync?: SharedArrayBuffer;
}

interface WorkerResult {
  readonly records: number;
  readonly bytes: number;
  readonly ms: number;
  readonly waits: number;
  readonly check: number;
  readonly native: boolean;
}

export interface RingBenchRow {
  readonly mode: string;
  readonly recordsPerSec: number[];
  readonly mbPerSec: number[];
  readonly cpuCores: number[];
  readonly waitsPerRecord: number[];
  readonly recordBytes: number;
}

export const MODES: readonly Mode[] = [
  { name: 'touch (in place)', copy: false, work: 'touch', encoding: 'maps' },
  { name: 'copy out + touch', copy: true, work: 'touch', encoding: 'maps' },
  { name: 'copy out + decode, maps', copy: true, work: 'decode', encoding: 'maps' },
  { name: 'copy out + decode, maps, JS decoder', copy: true, work: 'decode', encoding: 'maps', jsDecoder: true },
  { name: 'decode from SAB, maps, JS decoder', copy: false, work: 'decode', encoding: 'maps', jsDecoder: true },
  { name: 'copy out + decode, records', copy: true, work: 'decode', encoding: 'records' },
  { name: 'copy out + decode, records, JS decoder', copy: true, work: 'decode', encoding: 'records', jsDecoder: true },
  { name: 'decode from SAB, records, JS decoder', copy: false, work: 'decode', encoding: 'records', jsDecoder: true },
];

export function makeBatch(encoding: Encoding): Buffer {
  const cmds = ['FETCH', 'SELECT', 'STORE', 'IDLE', 'NOOP', 'CLOSE'];
  const events = [];
  for (let i = 0; i < EVENTS_PER_BATCH; i++) {
    events.push({
      event: 'imap_cmd',
      fields: { user: `u${i % 97}@ex.org`, cmd: cmds[i % cmds.length] },
      duration: 100 + ((i * 104_729) % 100_000),
    });
  }
  return new Packr({ useRecords: encoding === 'records' }).pack(events);
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

/** A consumer worker for `mode` reading `sab` (stop it with a STOP record or terminate()). */
export function startConsumer(mode: Mode, sab: SharedArrayBuffer, sync?: SharedArrayBuffer): Worker {
  const input: WorkerInput = sync === undefined ? { ringBench: true, sab, mode } : { ringBench: true, sab, mode, sync };
  // the worker loads msgpackr afresh and reads this variable then
  const env = mode.jsDecoder === true ? { ...process.env, MSGPACKR_NATIVE_ACCELERATION_DISABLED: 'true' } : process.env;
  return new Worker(new URL(import.meta.url), { workerData: input, env });
}

async function runRound(mode: Mode, batch: Buffer, seconds: number): Promise<{ result: WorkerResult; cpu: number }> {
  const sab = createRing(RING_BYTES);
  const producer = new RingProducer(sab);
  const worker = startConsumer(mode, sab);
  const reply = once(worker, 'message') as Promise<[WorkerResult]>;
  const empty = new Uint8Array(0);
  let id = 0;

  const send = async (type: number, payload: Uint8Array): Promise<void> => {
    while (!producer.tryWrite(type, id, RecordFormat.msgpack, payload)) {
      await producer.waitForSpace(payload.length, 1000);
    }
    id++;
  };
  const pump = async (ms: number): Promise<void> => {
    const end = performance.now() + ms;
    while (performance.now() < end) {
      for (let i = 0; i < 64; i++) await send(DATA, batch);
    }
  };

  await pump(500);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await send(START, empty);
  await pump(seconds * 1000);
  await send(STOP, empty);
  const [result] = await reply;
  const cpu = process.cpuUsage(cpu0);
  const wall = performance.now() - t0;
  await worker.terminate();
  return { result, cpu: (cpu.user + cpu.system) / 1000 / wall };
}

export async function benchRing(seconds = 2, rounds = 3, filter = ''): Promise<RingBenchRow[]> {
  const rows: RingBenchRow[] = [];
  for (const mode of MODES) {
    if (!mode.name.includes(filter)) continue;
    const batch = makeBatch(mode.encoding);
    const recordsPerSec: number[] = [];
    const mbPerSec: number[] = [];
    const cpuCores: number[] = [];
    const waitsPerRecord: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const { result, cpu } = await runRound(mode, batch, seconds);
      if (mode.work === 'decode' && result.native === (mode.jsDecoder === true)) {
        throw new Error(`${mode.name}: msgpackr native acceleration is ${result.native ? 'on' : 'off'}`);
      }
      if (mode.work === 'decode' && result.check !== result.records * EVENTS_PER_BATCH) {
        throw new Error(`${mode.name}: decoded ${result.check} events from ${result.records} batches`);
      }
      recordsPerSec.push((result.records * 1000) / result.ms);
      mbPerSec.push((result.bytes / 1e6) * (1000 / result.ms));
      cpuCores.push(cpu);
      waitsPerRecord.push(result.waits / Math.max(1, result.records));
    }
    rows.push({ mode: mode.name, recordsPerSec, mbPerSec, cpuCores, waitsPerRecord, recordBytes: batch.length });
  }
  return rows;
}

export function formatRingTable(rows: readonly RingBenchRow[]): string {
  const range = (xs: readonly number[], digits: number): string =>
    `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)} – ${Math.max(...xs).toFixed(digits)})`;
  const lines = [
    '| mode | record bytes | records/s median (min – max) | MB/s median (min – max) | events/s median | process CPU (cores) | consumer waits per record |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const row of rows) {
    const events = (median(row.recordsPerSec) * EVENTS_PER_BATCH) / 1e6;
    lines.push(
      `| ${row.mode} | ${row.recordBytes} | ${range(row.recordsPerSec, 0)} | ${range(row.mbPerSec, 0)} | ${events.toFixed(2)}M | ${median(row.cpuCores).toFixed(2)} | ${median(row.waitsPerRecord).toFixed(3)} |`,
    );
  }
  return lines.join('\n');
}

async function consume(input: WorkerInput): Promise<void> {
  const { mode } = input;
  const consumer = new RingConsumer(input.sab);
  const sink = new RecordSink(128 * 1024);
  const unpackr = new Unpackr({ useRecords: mode.encoding === 'records' });
  const range = { start: 0, end: 0 };
  const sync = input.sync === undefined ? null : new Int32Array(input.sync);
  let counting = false;
  let records = 0;
  let bytes = 0;
  let waits = 0;
  let check = 0;
  let t0 = 0;

  const work = (buf: Buffer, start: number, end: number): void => {
    if (sink.type !== DATA) return;
    if (mode.work === 'touch') {
      let acc = 0;
      for (let i = start; i < end; i += 64) acc += buf[i] as number;
      if (counting) check += acc & 1;
    } else {
      range.start = start;
      range.end = end;
      const events = unpackr.unpack(buf, range) as unknown[];
      if (counting) check += events.length;
    }
  };

  for (;;) {
    const got = mode.copy ? consumer.read(sink) : consumer.readInPlace(sink, work);
    if (!got) {
      waits++;
      await consumer.waitForData(1000);
      continue;
    }
    if (mode.copy) work(sink.buffer, 0, sink.length);
    if (sink.type === SYNC && sync !== null) {
      Atomics.add(sync, 0, 1);
      Atomics.notify(sync, 0);
    } else if (sink.type === START) {
      counting = true;
      waits = 0;
      t0 = performance.now();
    } else if (sink.type === STOP) {
      const ms = performance.now() - t0;
      const result: WorkerResult = { records, bytes, ms, waits, check, native: isNativeAccelerationEnabled };
      parentPort?.postMessage(result);
      return;
    } else if (counting) {
      records++;
      bytes += sink.length;
    }
  }
}

const input = workerData as WorkerInput | null;
if (!isMainThread && input?.ringBench === true) {
  await consume(input);
} else if (isMainThread && process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const seconds = Number(process.argv[2] ?? 2);
  const rounds = Number(process.argv[3] ?? 3);
  const filter = process.argv[4] ?? '';
  console.log(
    `ring ${RING_BYTES / 1024 / 1024} MiB, 1 worker, ${EVENTS_PER_BATCH} events per record, ${rounds} rounds x ${seconds} s`,
  );
  console.log(formatRingTable(await benchRing(seconds, rounds, filter)));
}
