import { parentPort, workerData } from 'node:worker_threads';

const { RingConsumer } = await import(new URL('../../dist/src/ring/index.js', import.meta.url).href);

const consumer = new RingConsumer(workerData.sab);
const t0 = performance.now();
const data = await consumer.waitForData(workerData.timeoutMs);
parentPort.postMessage({ data, ms: performance.now() - t0 });
