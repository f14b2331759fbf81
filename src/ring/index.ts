export { createRing } from './memory.js';
export { RingProducer } from './producer.js';
export { RingConsumer } from './consumer.js';
export type { InPlaceVisitor } from './consumer.js';
export { RecordSink } from './sink.js';
export { RecordFormat, recordBytes, maxPayloadBytes } from './layout.js';
export { MAX_WAIT_MS } from './wait.js';
