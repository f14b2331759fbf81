import { describe, expect, it, vi } from 'vitest';
import { RecordFormat, RecordSink, RingConsumer, RingProducer, createRing } from '../../src/ring/index.js';
import {
  HEADER_BYTES,
  READ_POS,
  RECORDS_READ,
  RECORDS_WRITTEN,
  WRAP_AT,
  WRAP_NONE,
  WRITE_POS,
  recordBytes,
} from '../../src/ring/layout.js';
import { RingModel, patternPayload } from './model.js';

function ringAt(capacity: number, pos: number): SharedArrayBuffer {
  const sab = createRing(capacity);
  const i32 = new Int32Array(sab);
  Atomics.store(i32, WRITE_POS, pos);
  Atomics.store(i32, READ_POS, pos);
  return sab;
}

function positions(sab: SharedArrayBuffer): { write: number; read: number; wrapAt: number } {
  const i32 = new Int32Array(sab);
  return {
    write: Atomics.load(i32, WRITE_POS),
    read: Atomics.load(i32, READ_POS),
    wrapAt: Atomics.load(i32, WRAP_AT),
  };
}

function expectRecord(sink: RecordSink, type: number, id: number, format: number, payload: Uint8Array): void {
  expect({ type: sink.type, id: sink.id, format: sink.format, length: sink.length }).toEqual({
    type,
    id,
    format,
    length: payload.length,
  });
  expect(sink.payload().equals(payload)).toBe(true);
}

describe('ring basics', () => {
  it('round-trips header fields and payload', () => {
    const sab = createRing(1024);
    const p = new RingProducer(sab);
    const c = new RingConsumer(sab);
    const sink = new RecordSink(4);
    const ids = [0, 1, 0xffff_ffff, 2 ** 32, 2 ** 40 + 12345, Number.MAX_SAFE_INTEGER];
    for (const [i, id] of ids.entries()) {
      const payload = patternPayload(id, i * 10);
      expect(p.tryWrite(i * 50, id, RecordFormat.ndjson, payload)).toBe(true);
      expect(c.read(sink)).toBe(true);
      expectRecord(sink, i * 50, id, RecordFormat.ndjson, payload);
    }
    expect(c.read(sink)).toBe(false);
    expect(p.usedBytes()).toBe(0);
    expect(p.pendingRecords()).toBe(0);
  });

  it('rounds the capacity up to 8 bytes and rejects bad sizes', () => {
    expect(new RingProducer(createRing(1001)).capacity).toBe(1008);
    expect(new RingProducer(createRing(1001)).maxRecordBytes).toBe(1008 - HEADER_BYTES);
    expect(() => createRing(8)).toThrow(RangeError);
    expect(() => createRing(2 ** 30 + 1)).toThrow(RangeError);
    expect(() => createRing(100.5)).toThrow(RangeError);
  });

  it('refuses buffers that are not rings', () => {
    expect(() => new RingProducer(new SharedArrayBuffer(4096))).toThrow(/magic/);
    expect(() => new RingConsumer(new ArrayBuffer(4096) as unknown as SharedArrayBuffer)).toThrow(TypeError);
  });

  it('rejects invalid header values', () => {
    const p = new RingProducer(createRing(256));
    const one = new Uint8Array(1);
    expect(() => p.tryWrite(256, 0, 1, one)).toThrow(RangeError);
    expect(() => p.tryWrite(-1, 0, 1, one)).toThrow(RangeError);
    expect(() => p.tryWrite(1.5, 0, 1, one)).toThrow(RangeError);
    expect(() => p.tryWrite(0, 0, 256, one)).toThrow(RangeError);
    expect(() => p.tryWrite(0, -1, 1, one)).toThrow(RangeError);
    expect(() => p.tryWrite(0, 0.5, 1, one)).toThrow(RangeError);
    expect(() => p.tryWrite(0, 2 ** 53, 1, one)).toThrow(RangeError);
    expect(() => p.tryWrite(0, Number.NaN, 1, one)).toThrow(RangeError);
    expect(p.usedBytes()).toBe(0);
  });

  it('throws for a record larger than the capacity, accepts maxRecordBytes', () => {
    const sab = createRing(256);
    const p = new RingProducer(sab);
    const c = new RingConsumer(sab);
    expect(() => p.tryWrite(1, 1, 1, new Uint8Array(p.maxRecordBytes + 1))).toThrow(
      /exceeds maxRecordBytes 240 \(ring capacity 256\)/,
    );
    expect(() => p.tryWrite(1, 1, 1, new Uint8Array(10_000))).toThrow(RangeError);
    expect(p.fits(p.maxRecordBytes + 1)).toBe(false);
    expect(p.usedBytes()).toBe(0);
    const big = patternPayload(7, p.maxRecordBytes);
    expect(p.tryWrite(1, 7, 1, big)).toBe(true);
    expect(p.usedBytes()).toBe(256);
    expect(p.freeBytes()).toBe(0);
    expect(p.tryWrite(1, 8, 1, new Uint8Array(0))).toBe(false);
    const sink = new RecordSink(16);
    expect(c.read(sink)).toBe(true);
    expectRecord(sink, 1, 7, 1, big);
  });

  it('grows the sink buffer for records larger than it', () => {
    const sab = createRing(4096);
    const p = new RingProducer(sab);
    const c = new RingConsumer(sab);
    const sink = new RecordSink(16);
    const payload = patternPayload(3, 3000);
    p.tryWrite(2, 3, 2, payload);
    expect(c.read(sink)).toBe(true);
    expect(sink.buffer.length).toBeGreaterThanOrEqual(3000);
    expectRecord(sink, 2, 3, 2, payload);
  });

  it('reads in place and frees the record even when the visitor throws', () => {
    const sab = createRing(512);
    const p = new RingProducer(sab);
    const c = new RingConsumer(sab);
    const sink = new RecordSink();
    const a = patternPayload(1, 100);
    const b = patternPayload(2, 50);
    p.tryWrite(1, 1, 1, a);
    p.tryWrite(1, 2, 1, b);
    let seen: Buffer | undefined;
    expect(c.readInPlace(sink, (shared, start, end) => (seen = Buffer.from(shared.subarray(start, end))))).toBe(true);
    expect(seen?.equals(a)).toBe(true);
    expect(() =>
      c.readInPlace(sink, () => {
        throw new Error('visitor failed');
      }),
    ).toThrow('visitor failed');
    expect(sink.id).toBe(2);
    expect(p.usedBytes()).toBe(0);
    expect(c.readInPlace(sink, () => undefined)).toBe(false);
  });

  it('never calls Atomics.wait on the producer side', async () => {
    const spy = vi.spyOn(Atomics, 'wait');
    try {
      const sab = createRing(256);
      const p = new RingProducer(sab);
      const c = new RingConsumer(sab);
      const waiting = c.waitForData(1000);
      while (p.tryWrite(1, 1, 1, new Uint8Array(100)));
      expect(await p.waitForSpace(100, 20)).toBe(false);
      p.usedBytes();
      p.freeBytes();
      p.pendingRecords();
      p.fits(5);
      await waiting;
      p.close();
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });
});

describe('wrap-around', () => {
  const cap = 256;

  it('places records at every offset class exactly as the model does', () => {
    const sink = new RecordSink(cap);
    let id = 0;
    for (let base = 0; base < 2 * cap; base += 8) {
      const tail = cap - (base % cap);
      const lens = new Set<number>([
        0,
        1,
        tail - HEADER_BYTES - 1,
        tail - HEADER_BYTES,
        tail - HEADER_BYTES + 1,
        tail - HEADER_BYTES - 8,
        tail - HEADER_BYTES + 8,
        tail,
        cap - HEADER_BYTES,
      ]);
      for (const first of lens) {
        if (first < 0 || first > cap - HEADER_BYTES) continue;
        for (const second of [0, 1, 8, 40, 100, cap / 2, cap - HEADER_BYTES]) {
          const sab = ringAt(cap, base);
          const p = new RingProducer(sab);
          const c = new RingConsumer(sab);
          const model = new RingModel(cap, base);
          const records: Array<[number, Uint8Array]> = [];
          for (const len of [first, second]) {
            const payload = patternPayload(++id, len);
            const ok = model.tryWrite(1, id, 2, payload);
            expect(p.tryWrite(1, id, 2, payload), `base ${base} len ${len}`).toBe(ok);
            if (ok) records.push([id, payload]);
            expect(p.usedBytes()).toBe(model.used());
            expect(positions(sab).write).toBe(model.writePos % (2 * cap));
          }
          for (const [rid, payload] of records) {
            expect(c.read(sink)).toBe(true);
            expectRecord(sink, 1, rid, 2, payload);
            model.read();
            expect(positions(sab).read).toBe(model.readPos % (2 * cap));
            expect(c.usedBytes()).toBe(model.used());
          }
          expect(c.read(sink)).toBe(false);
          expect(positions(sab).wrapAt).toBe(WRAP_NONE);
        }
      }
    }
  });

  it('fits a record of up to the capacity into an empty ring at any offset', () => {
    const sink = new RecordSink();
    for (let base = 0; base < 2 * cap; base += 8) {
      const sab = ringAt(cap, base);
      const p = new RingProducer(sab);
      const c = new RingConsumer(sab);
      for (const len of [cap / 2 - HEADER_BYTES + 1, cap - HEADER_BYTES - 7, cap - HEADER_BYTES]) {
        expect(p.fits(len)).toBe(true);
        const payload = patternPayload(base + len, len);
        expect(p.tryWrite(3, base + len, 1, payload)).toBe(true);
        expect(p.usedBytes()).toBe(recordBytes(len));
        expect(c.read(sink)).toBe(true);
        expectRecord(sink, 3, base + len, 1, payload);
        expect(p.usedBytes()).toBe(0);
      }
    }
  });

  it('leaves a full ring untouched and accepts again once the consumer reads', () => {
    const sab = createRing(1024);
    const p = new RingProducer(sab);
    const c = new RingConsumer(sab);
    const sink = new RecordSink();
    const sent: Uint8Array[] = [];
    let id = 0;
    for (;;) {
      const payload = patternPayload(id, 37 + (id % 5) * 13);
      if (!p.tryWrite(0, id, 1, payload)) break;
      sent.push(payload);
      id++;
    }
    const used = p.usedBytes();
    const snapshot = Buffer.from(new Uint8Array(sab)).toString('base64');
    for (let i = 0; i < 5; i++) expect(p.tryWrite(0, 999, 1, patternPayload(999, 100))).toBe(false);
    expect(Buffer.from(new Uint8Array(sab)).toString('base64')).toBe(snapshot);
    expect(p.usedBytes()).toBe(used);
    expect(p.pendingRecords()).toBe(sent.length);

    expect(c.read(sink)).toBe(true);
    expectRecord(sink, 0, 0, 1, sent[0] as Uint8Array);
    expect(c.read(sink)).toBe(true);
    expect(p.tryWrite(0, id, 1, patternPayload(id, 40))).toBe(true);
    sent.push(patternPayload(id, 40));
    for (let i = 2; i < sent.length; i++) {
      expect(c.read(sink)).toBe(true);
      expectRecord(sink, 0, i === sent.length - 1 ? id : i, 1, sent[i] as Uint8Array);
    }
    expect(c.read(sink)).toBe(false);
  });

  it('keeps going across the end of the position range and the record counters', () => {
    const cap = 128;
    const sab = createRing(cap);
    const i32 = new Int32Array(sab);
    Atomics.store(i32, WRITE_POS, 2 * cap - 24);
    Atomics.store(i32, READ_POS, 2 * cap - 24);
    Atomics.store(i32, RECORDS_WRITTEN, -3);
    Atomics.store(i32, RECORDS_READ, -3);
    const p = new RingProducer(sab);
    const c = new RingConsumer(sab);
    const model = new RingModel(cap, 2 * cap - 24);
    const sink = new RecordSink();
    for (let id = 0; id < 5000; id++) {
      const len = (id * 37) % 100;
      const payload = patternPayload(id, len);
      expect(p.tryWrite(id & 0xff, id, 1, payload)).toBe(model.tryWrite(id & 0xff, id, 1, payload));
      expect(p.pendingRecords()).toBe(model.queue.length);
      if (id % 3 !== 0 || !p.fits(100)) {
        const rec = model.read();
        expect(c.read(sink)).toBe(rec !== undefined);
        if (rec) expectRecord(sink, rec.type, rec.id, rec.format, rec.payload);
      }
      expect(positions(sab).write).toBe(model.writePos % (2 * cap));
    }
  });

  it('resumes with a new consumer where the old one stopped', () => {
    const sab = createRing(256);
    const p = new RingProducer(sab);
    const first = new RingConsumer(sab);
    const sink = new RecordSink();
    const payloads = [100, 100].map((n, i) => patternPayload(i, n));
    payloads.forEach((pl, i) => expect(p.tryWrite(0, i, 1, pl)).toBe(true));
    expect(first.read(sink)).toBe(true);
    payloads.push(patternPayload(2, 90));
    expect(p.tryWrite(0, 2, 1, payloads[2] as Uint8Array)).toBe(true);
    expect(positions(sab).wrapAt).toBe(240);
    const second = new RingConsumer(sab);
    for (const i of [1, 2]) {
      expect(second.read(sink)).toBe(true);
      expectRecord(sink, 0, i, 1, payloads[i] as Uint8Array);
    }
    expect(second.read(sink)).toBe(false);
  });

  it('holds a taken record until it is freed: counted as read at once, its space the producer\'s after', () => {
    const cap = 256;
    const sab = createRing(cap);
    const p = new RingProducer(sab);
    const c = new RingConsumer(sab);
    const sink = new RecordSink();
    const a = patternPayload(1, 100);
    const b = patternPayload(2, 100);
    expect(p.tryWrite(1, 1, 1, a)).toBe(true);
    expect(p.tryWrite(1, 2, 1, b)).toBe(true);
    const start = c.take(sink);
    expect(start).toBeGreaterThanOrEqual(0);
    expect(c.shared.subarray(start, start + sink.length).equals(a)).toBe(true);
    expect(p.pendingRecords()).toBe(1);
    // its space is still taken: a third record of 100 bytes does not fit
    expect(p.tryWrite(1, 3, 1, patternPayload(3, 100))).toBe(false);
    expect(() => c.take(sink)).toThrow('held already');
    c.copyHeld(sink, start);
    expectRecord(sink, 1, 1, 1, a);
    c.free();
    expect(p.tryWrite(1, 3, 1, patternPayload(3, 100))).toBe(true);
    const next = c.take(sink);
    expect(sink.id).toBe(2);
    expect(c.shared.subarray(next, next + sink.length).equals(b)).toBe(true);
    c.free();
    c.free(); // nothing held: nothing freed twice
    expect(c.read(sink)).toBe(true);
    expect(sink.id).toBe(3);
    expect(c.take(sink)).toBe(-1);
    expect(p.usedBytes()).toBe(0);
  });

  it('skips, not reads again, a record a consumer that died holding it had taken, across the wrap', () => {
    const cap = 256;
    const sab = ringAt(cap, 200);
    const p = new RingProducer(sab);
    const sink = new RecordSink();
    // 100 bytes do not fit the 56-byte tail: placed at the start of the next lap
    const payloads = [patternPayload(1, 100), patternPayload(2, 40)];
    payloads.forEach((pl, i) => expect(p.tryWrite(0, i + 1, 1, pl)).toBe(true));
    const dead = new RingConsumer(sab);
    expect(dead.take(sink)).toBeGreaterThanOrEqual(0);
    expect(sink.id).toBe(1);
    // the worker dies here, before free()
    const second = new RingConsumer(sab);
    expect(p.pendingRecords()).toBe(1);
    expect(second.read(sink)).toBe(true);
    expectRecord(sink, 0, 2, 1, payloads[1] as Uint8Array);
    expect(second.read(sink)).toBe(false);
    expect(p.usedBytes()).toBe(0);
    expect(p.pendingRecords()).toBe(0);
    // a consumer that freed what it took leaves nothing to skip
    expect(p.tryWrite(0, 3, 1, patternPayload(3, 30))).toBe(true);
    expect(second.take(sink)).toBeGreaterThanOrEqual(0);
    second.free();
    expect(p.tryWrite(0, 4, 1, patternPayload(4, 30))).toBe(true);
    const third = new RingConsumer(sab);
    expect(third.read(sink)).toBe(true);
    expect(sink.id).toBe(4);
  });

  it('drops a wrap marker left behind by a consumer that died mid-skip', () => {
    const cap = 256;
    const sab = ringAt(cap, 200);
    const i32 = new Int32Array(sab);
    Atomics.store(i32, WRAP_AT, 104);
    new RingConsumer(sab);
    expect(positions(sab).wrapAt).toBe(WRAP_NONE);

    const live = ringAt(cap, 200);
    const p = new RingProducer(live);
    p.tryWrite(0, 1, 1, new Uint8Array(100));
    expect(positions(live).wrapAt).toBe(200);
    new RingConsumer(live);
    expect(positions(live).wrapAt).toBe(200);
  });
});
