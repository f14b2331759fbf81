import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RecordSink, RingConsumer, RingProducer, createRing } from '../../src/ring/index.js';
import { HEADER_BYTES, READ_POS, WRITE_POS } from '../../src/ring/layout.js';
import { RingModel, patternPayload } from './model.js';

type Op = { kind: 'write'; len: number; type: number; format: number } | { kind: 'read' } | { kind: 'restart' };

function opArb(cap: number): fc.Arbitrary<Op> {
  const max = cap - HEADER_BYTES;
  const len = fc.oneof(
    fc.integer({ min: 0, max }),
    fc.integer({ min: 0, max: 24 }),
    fc.integer({ min: Math.max(0, max - 24), max }),
    fc.integer({ min: max + 1, max: max + 64 }),
  );
  return fc.oneof(
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('write' as const), len, type: fc.nat(255), format: fc.nat(255) }) },
    { weight: 4, arbitrary: fc.constant({ kind: 'read' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
  );
}

const scenario = fc
  .record({ cap: fc.constantFrom(32, 40, 64, 200, 256, 1000), startSlot: fc.nat(1000) })
  .chain(({ cap, startSlot }) =>
    fc.record({
      cap: fc.constant(cap),
      start: fc.constant((startSlot * 8) % (2 * cap)),
      ops: fc.array(opArb(cap), { maxLength: 300 }),
    }),
  );

describe('ring against an array-queue model', () => {
  it('matches the model for any sequence of writes and reads', () => {
    fc.assert(
      fc.property(scenario, ({ cap, start, ops }) => {
        const sab = createRing(cap);
        const i32 = new Int32Array(sab);
        Atomics.store(i32, WRITE_POS, start);
        Atomics.store(i32, READ_POS, start);
        const p = new RingProducer(sab);
        let c = new RingConsumer(sab);
        const model = new RingModel(cap, start);
        const sink = new RecordSink(8);
        let id = 0;
        for (const op of ops) {
          if (op.kind === 'write') {
            const payload = patternPayload(++id, op.len);
            if (op.len > p.maxRecordBytes) {
              expect(() => p.tryWrite(op.type, id, op.format, payload)).toThrow(RangeError);
              expect(p.fits(op.len)).toBe(false);
              continue;
            }
            expect(p.fits(op.len)).toBe(model.placement(op.len) !== null);
            expect(p.tryWrite(op.type, id, op.format, payload)).toBe(model.tryWrite(op.type, id, op.format, payload));
          } else if (op.kind === 'read') {
            const rec = model.read();
            expect(c.read(sink)).toBe(rec !== undefined);
            if (rec !== undefined) {
              expect([sink.type, sink.id, sink.format]).toEqual([rec.type, rec.id, rec.format]);
              expect(sink.payload().equals(rec.payload)).toBe(true);
            }
          } else {
            c = new RingConsumer(sab);
          }
          expect(p.usedBytes()).toBe(model.used());
          expect(c.usedBytes()).toBe(model.used());
          expect(p.pendingRecords()).toBe(model.queue.length);
          expect(c.hasData()).toBe(model.queue.length > 0);
          expect(Atomics.load(i32, WRITE_POS)).toBe(model.writePos % (2 * cap));
        }
        while (model.read() !== undefined) expect(c.read(sink)).toBe(true);
        expect(c.read(sink)).toBe(false);
        expect(p.usedBytes()).toBe(0);
      }),
      { numRuns: 500 },
    );
  });
});
