/**
 * Decode of a 1000-event msgpack batch as a shard does it: out of its ring,
 * either copied into the shard's private buffer first (what the worker does)
 * or decoded straight from the SharedArrayBuffer view. Also JSON framing of
 * the same events and the validation of the decoded events.
 *
 * msgpackr-extract 3.0.4 (the native decoder msgpackr uses when it loads)
 * crashes the process with SIGSEGV when handed a Buffer over a
 * SharedArrayBuffer, so the shared-memory task runs in a child process with
 * MSGPACKR_NATIVE_ACCELERATION_DISABLED=true, next to the copying task with
 * the same JavaScript decoder (scope `decode-js`).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Packr, isNativeAccelerationEnabled } from 'msgpackr';
import { FORMAT_JSON, FORMAT_MSGPACK, frameBatch } from '../../src/event/decode.js';
import { newEvent } from '../../src/event/types.js';
import { loadEvent } from '../../src/event/validate.js';
import { RecordFormat, RecordSink, RingConsumer, RingProducer, createRing } from '../../src/ring/index.js';
import { mailBatches, packBatch } from '../fixtures/mail.js';
import { addTask, ratioRow, rowsOf, type AnyRow, type Row } from '../lib/report.js';
import { keep, newBench, type SuiteOptions } from './common.js';

const EVENTS = 1000;

interface Fixture {
  msgpack: Buffer;
  /** the same events packed with msgpackr's record extension (a producer using Packr({ useRecords: true })) */
  records: Buffer;
  json: Buffer;
  producer: RingProducer;
  consumer: RingConsumer;
  sink: RecordSink;
}

function fixture(): Fixture {
  const events = mailBatches(1, EVENTS)[0] ?? [];
  const sab = createRing(16 * 1024 * 1024);
  // producer and consumer on one thread: one write and one read per call
  return {
    msgpack: packBatch(events),
    records: new Packr({ useRecords: true }).pack(events),
    json: Buffer.from(JSON.stringify(events)),
    producer: new RingProducer(sab),
    consumer: new RingConsumer(sab),
    sink: new RecordSink(1 << 20),
  };
}

function decoderName(): string {
  return isNativeAccelerationEnabled ? 'msgpackr-extract' : 'msgpackr JS decoder';
}

function addCopyTask(bench: ReturnType<typeof newBench>, f: Fixture): void {
  addTask(
    bench,
    `msgpack ${EVENTS} events: ring slot copied to a private Buffer, frameBatch (${decoderName()})`,
    () => {
      f.producer.tryWrite(1, 1, RecordFormat.msgpack, f.msgpack);
      f.consumer.read(f.sink);
      keep(frameBatch(f.sink.buffer.subarray(0, f.sink.length), FORMAT_MSGPACK));
    },
    EVENTS,
    'events',
  );
}

export async function decodeSuite(opts: SuiteOptions): Promise<AnyRow[]> {
  const f = fixture();
  const decoded = frameBatch(f.msgpack, FORMAT_MSGPACK);
  const ev = newEvent();
  const bench = newBench(opts, 'decode');
  addCopyTask(bench, f);
  addTask(
    bench,
    `msgpack ${EVENTS} events packed with msgpackr records (${f.records.length} B vs ${f.msgpack.length} B): ring slot copied, frameBatch`,
    () => {
      f.producer.tryWrite(1, 1, RecordFormat.msgpack, f.records);
      f.consumer.read(f.sink);
      keep(frameBatch(f.sink.buffer.subarray(0, f.sink.length), FORMAT_MSGPACK));
    },
    EVENTS,
    'events',
  );
  addTask(bench, `json ${EVENTS} events: frameBatch from a Buffer`, () => keep(frameBatch(f.json, FORMAT_JSON)), EVENTS, 'events');
  addTask(
    bench,
    `validate ${EVENTS} decoded events (loadEvent)`,
    () => {
      let ok = 0;
      for (let i = 0; i < decoded.length; i++) if (loadEvent(decoded[i], ev) === 0) ok++;
      keep(ok);
    },
    EVENTS,
    'events',
  );
  await bench.run();
  const rows = rowsOf('decode', bench);
  const js = await jsDecoderRows(opts);
  rows.splice(1, 0, ...js);
  const sab = 'msgpack 1000 events: frameBatch straight from the SharedArrayBuffer view';
  return [
    ...rows,
    ratioRow('decode', 'decode from the SAB view (JS decoder) / private copy (msgpackr-extract), per event', [...js, ...rows], sab, `msgpack ${EVENTS} events: ring slot copied to a private Buffer, frameBatch (msgpackr-extract)`),
    ratioRow('decode', 'decode from the SAB view / private copy, both JS decoder, per event', js, sab, `msgpack ${EVENTS} events: ring slot copied to a private Buffer, frameBatch (msgpackr JS decoder)`),
  ];
}

/** scope `decode-js`: both ways with msgpackr's JavaScript decoder (run with the native one disabled) */
export async function decodeJsSuite(opts: SuiteOptions): Promise<Row[]> {
  if (isNativeAccelerationEnabled) {
    throw new Error('decode-js: set MSGPACKR_NATIVE_ACCELERATION_DISABLED=true (msgpackr-extract crashes on SharedArrayBuffer input)');
  }
  const f = fixture();
  const visit = (shared: Buffer, start: number, end: number): void => keep(frameBatch(shared.subarray(start, end), FORMAT_MSGPACK));
  const bench = newBench(opts, 'decode-js');
  addCopyTask(bench, f);
  addTask(
    bench,
    `msgpack ${EVENTS} events: frameBatch straight from the SharedArrayBuffer view (${decoderName()})`,
    () => {
      f.producer.tryWrite(1, 1, RecordFormat.msgpack, f.msgpack);
      f.consumer.readInPlace(f.sink, visit);
    },
    EVENTS,
    'events',
  );
  await bench.run();
  return rowsOf('decode', bench);
}

function jsDecoderRows(opts: SuiteOptions): Promise<Row[]> {
  const runner = fileURLToPath(new URL('../run.js', import.meta.url));
  const args = ['--expose-gc', runner, '--scope', 'decode-js', '--reporter', 'json', '--time', String(opts.time)];
  const env = { ...process.env, MSGPACKR_NATIVE_ACCELERATION_DISABLED: 'true' };
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { env, timeout: 120_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`decode-js child: ${err.message}\n${stderr}`));
      else resolve(stdout.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Row));
    });
  });
}
