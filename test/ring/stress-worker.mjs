import { crc32 } from 'node:zlib';
import { parentPort, workerData } from 'node:worker_threads';

const { RecordSink, RingConsumer } = await import(new URL('../../dist/src/ring/index.js', import.meta.url).href);

const { sab, count, inPlace } = workerData;
const consumer = new RingConsumer(sab);
const sink = new RecordSink(1024);
const stamp = Buffer.alloc(8);
const errors = [];
let expected = 0;
let waits = 0;
let bytes = 0;
let idle = 0;

function fail(msg) {
  if (errors.length < 10) errors.push(`record ${expected}: ${msg}`);
}

function check(buf, start, end) {
  const len = end - start;
  if (sink.id !== expected) fail(`id ${sink.id}`);
  if (sink.type !== (expected & 0xff)) fail(`type ${sink.type}`);
  if (sink.format !== expected % 4) fail(`format ${sink.format}`);
  if (len >= 8) {
    if (buf.readUInt32LE(start) !== expected >>> 0) fail(`payload sequence ${buf.readUInt32LE(start)}`);
    if (buf.readUInt32LE(start + 4) !== crc32(buf.subarray(start + 8, end))) fail(`checksum, length ${len}`);
  } else {
    stamp.writeUInt32LE(expected >>> 0, 0);
    stamp.writeUInt32LE(0, 4);
    if (buf.compare(stamp, 0, len, start, end) !== 0) fail(`short payload, length ${len}`);
  }
  bytes += len;
  expected = sink.id + 1;
}

const visit = (shared, start, end) => check(shared, start, end);

while (expected < count) {
  const got = inPlace ? consumer.readInPlace(sink, visit) : consumer.read(sink);
  if (got) {
    idle = 0;
    if (!inPlace) check(sink.buffer, 0, sink.length);
    continue;
  }
  waits++;
  if (!(await consumer.waitForData(1000)) && ++idle > 10) {
    fail('no data for 10 s');
    break;
  }
}
parentPort.postMessage({ received: expected, bytes, waits, errors, extra: consumer.hasData() });
