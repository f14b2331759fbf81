import { parentPort, workerData } from 'node:worker_threads';

const { RecordSink, RingConsumer } = await import(new URL('../../dist/src/ring/index.js', import.meta.url).href);

const consumer = new RingConsumer(workerData.sab);
const sink = new RecordSink(64);

parentPort.on('message', async (msg) => {
  if (msg.cmd === 'wait') {
    const t0 = performance.now();
    const waiting = consumer.waitForData(msg.timeoutMs);
    parentPort.postMessage({ waiting: true });
    const data = await waiting;
    parentPort.postMessage({ data, ms: performance.now() - t0 });
  } else if (msg.cmd === 'read') {
    const ids = [];
    while (ids.length < msg.max && consumer.read(sink)) ids.push(sink.id);
    parentPort.postMessage({ ids });
  } else if (msg.cmd === 'drainUntilClosed') {
    const ids = [];
    for (;;) {
      while (consumer.read(sink)) ids.push(sink.id);
      if (consumer.closed && !consumer.hasData()) break;
      await consumer.waitForData(1000);
    }
    parentPort.postMessage({ ids });
  }
});
parentPort.postMessage({ ready: true });
