import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { RecordSink, RingConsumer, RingProducer, createRing } from '../../src/ring/index.js';
import { SPACE_WANTED, recordBytes } from '../../src/ring/layout.js';
import { assertCompiledRing, fixture } from './dist.js';

const workers: Worker[] = [];

async function consumerWorker(sab: SharedArrayBuffer): Promise<Worker> {
  const worker = new Worker(fixture('consumer-worker.mjs'), { workerData: { sab } });
  workers.push(worker);
  await once(worker, 'message');
  return worker;
}

async function ask<T>(worker: Worker, msg: object): Promise<T> {
  const reply = once(worker, 'message');
  worker.postMessage(msg);
  const [value] = await reply;
  return value as T;
}

function fill(p: RingProducer, len: number): number {
  let n = 0;
  while (p.tryWrite(1, n, 1, new Uint8Array(len))) n++;
  return n;
}

afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.terminate()));
});

describe('waitForData', () => {
  it('times out without data', async () => {
    const c = new RingConsumer(createRing(1024));
    const t0 = performance.now();
    expect(await c.waitForData(60)).toBe(false);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(55);
  });

  it('resolves at once when a record is ready', async () => {
    const sab = createRing(1024);
    new RingProducer(sab).tryWrite(1, 1, 1, new Uint8Array(3));
    // "at once": settled before the next macrotask, not after any wait (rather than under a
    // wall-clock bound, which a busy machine can exceed)
    const order: string[] = [];
    const waiting = new RingConsumer(sab).waitForData(20_000).then((v) => {
      order.push('settled');
      return v;
    });
    await new Promise<void>((r) => setImmediate(() => r(void order.push('next macrotask'))));
    expect(order).toEqual(['settled', 'next macrotask']);
    expect(await waiting).toBe(true);
  });

  it('rejects unbounded timeouts', () => {
    const c = new RingConsumer(createRing(1024));
    expect(() => c.waitForData(Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(() => c.waitForData(-1)).toThrow(RangeError);
  });

  it('notifies only while the consumer waits', async () => {
    const sab = createRing(4096);
    const p = new RingProducer(sab);
    const c = new RingConsumer(sab);
    const notify = vi.spyOn(Atomics, 'notify');
    try {
      for (let i = 0; i < 20; i++) p.tryWrite(1, i, 1, new Uint8Array(10));
      expect(notify).not.toHaveBeenCalled();
      const sink = new RecordSink();
      while (c.read(sink));
      const waiting = c.waitForData(5000);
      p.tryWrite(1, 99, 1, new Uint8Array(10));
      expect(notify).toHaveBeenCalledTimes(1);
      expect(await waiting).toBe(true);
      c.read(sink);
      p.tryWrite(1, 100, 1, new Uint8Array(10));
      expect(notify).toHaveBeenCalledTimes(1);
    } finally {
      notify.mockRestore();
    }
  });

  it('wakes a consumer in another thread when a record is written', async () => {
    const sab = createRing(1024);
    const p = new RingProducer(sab);
    const worker = await consumerWorker(sab);
    expect(await ask(worker, { cmd: 'wait', timeoutMs: 20_000 })).toEqual({ waiting: true });
    const reply = once(worker, 'message');
    await sleep(50);
    p.tryWrite(1, 42, 1, new Uint8Array(5));
    const [{ data, ms }] = (await reply) as [{ data: boolean; ms: number }];
    expect(data).toBe(true);
    expect(ms).toBeGreaterThanOrEqual(45);
    expect(ms).toBeLessThan(5000);
    expect(await ask(worker, { cmd: 'read', max: 10 })).toEqual({ ids: [42] });
  });

  it('times out in another thread, keeping the worker alive meanwhile', async () => {
    const worker = new Worker(fixture('idle-worker.mjs'), { workerData: { sab: createRing(1024), timeoutMs: 300 } });
    workers.push(worker);
    const exited = once(worker, 'exit').then(() => 'exit' as const);
    const replied = once(worker, 'message').then(([m]) => m as { data: boolean; ms: number });
    const first = await Promise.race([replied, exited]);
    expect(first).not.toBe('exit');
    const { data, ms } = first as { data: boolean; ms: number };
    expect(data).toBe(false);
    expect(ms).toBeGreaterThanOrEqual(290);
  });

  it('ends on close once the ring is drained', async () => {
    const sab = createRing(1024);
    const p = new RingProducer(sab);
    const worker = await consumerWorker(sab);
    const drained = ask<{ ids: number[] }>(worker, { cmd: 'drainUntilClosed' });
    for (let id = 0; id < 10; id++) {
      while (!p.tryWrite(1, id, 1, new Uint8Array(200))) await p.waitForSpace(200, 5000);
    }
    p.close();
    expect(() => p.tryWrite(1, 11, 1, new Uint8Array(1))).toThrow(/closed/);
    expect((await drained).ids).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

describe('waitForSpace', () => {
  it('resolves true at once when the record fits', async () => {
    const p = new RingProducer(createRing(1024));
    expect(await p.waitForSpace(1000, 10)).toBe(true);
  });

  it('times out while the consumer does not read', async () => {
    const sab = createRing(1024);
    const p = new RingProducer(sab);
    fill(p, 100);
    const t0 = performance.now();
    expect(await p.waitForSpace(100, 80)).toBe(false);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(75);
  });

  it('throws for a record that can never fit or an unbounded timeout', () => {
    const p = new RingProducer(createRing(1024));
    expect(() => p.waitForSpace(1024, 10)).toThrow(/exceeds maxRecordBytes/);
    expect(() => p.waitForSpace(10, Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });

  it('resolves when a consumer in another thread frees enough space', async () => {
    const sab = createRing(1024);
    const p = new RingProducer(sab);
    const n = fill(p, 100);
    const worker = await consumerWorker(sab);
    const waiting = p.waitForSpace(300, 20_000);
    let resolved = false;
    void waiting.then(() => (resolved = true));
    await sleep(50);
    expect(resolved).toBe(false);
    await ask(worker, { cmd: 'read', max: 1 });
    await sleep(50);
    expect(resolved).toBe(false);
    const t0 = performance.now();
    await ask(worker, { cmd: 'read', max: 2 });
    expect(await waiting).toBe(true);
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(p.tryWrite(1, n, 1, new Uint8Array(300))).toBe(true);
  });

  it('with a headroom, waits until that much is free, not only the record', async () => {
    const sab = createRing(1024);
    const p = new RingProducer(sab);
    fill(p, 100);
    const worker = await consumerWorker(sab);
    const waiting = p.waitForSpace(100, 20_000, 600);
    let resolved = false;
    void waiting.then(() => (resolved = true));
    // one record's room: enough for the record, not for the headroom
    await ask(worker, { cmd: 'read', max: 1 });
    await sleep(50);
    expect(p.fits(100)).toBe(true);
    expect(resolved).toBe(false);
    await ask(worker, { cmd: 'read', max: 5 });
    expect(await waiting).toBe(true);
    expect(p.freeBytes()).toBeGreaterThanOrEqual(600);
    // a headroom past the capacity means an empty ring
    const all = p.waitForSpace(100, 20_000, 1 << 20);
    await ask(worker, { cmd: 'read', max: 100 });
    expect(await all).toBe(true);
    expect(p.usedBytes()).toBe(0);
  });

  it('wakes for the least any waiter waits for, and each waiter when its own room is free', async () => {
    const sab = createRing(1024);
    const i32 = new Int32Array(sab);
    const p = new RingProducer(sab);
    fill(p, 100);
    const worker = await consumerWorker(sab);
    let small = false;
    let large = false;
    const a = p.waitForSpace(100, 20_000, 600).then((ok) => (large = ok));
    const b = p.waitForSpace(100, 20_000).then((ok) => (small = ok));
    // one word for both: the smaller want (one record, and the tail it skips if it straddles the end), not "any free at all"
    const wanted = Atomics.load(i32, SPACE_WANTED);
    expect(wanted).toBeGreaterThanOrEqual(recordBytes(100));
    expect(wanted).toBeLessThan(600);
    await ask(worker, { cmd: 'read', max: 1 });
    await b;
    expect(small).toBe(true);
    await sleep(50);
    expect(large).toBe(false);
    // the one left waits for its headroom
    expect(Atomics.load(i32, SPACE_WANTED)).toBe(600);
    await ask(worker, { cmd: 'read', max: 5 });
    await a;
    expect(large).toBe(true);
    expect(Atomics.load(i32, SPACE_WANTED)).toBe(0);
  });

  it('resolves a wait for a record larger than half the ring once the ring empties', async () => {
    const sab = createRing(1024);
    const p = new RingProducer(sab);
    const sink = new RecordSink();
    const c = new RingConsumer(sab);
    p.tryWrite(1, 0, 1, new Uint8Array(300));
    p.tryWrite(1, 1, 1, new Uint8Array(300));
    c.read(sink);
    const worker = await consumerWorker(sab);
    const waiting = p.waitForSpace(900, 20_000);
    await sleep(30);
    await ask(worker, { cmd: 'read', max: 1 });
    expect(await waiting).toBe(true);
    expect(p.tryWrite(1, 2, 1, new Uint8Array(900))).toBe(true);
    expect(await ask(worker, { cmd: 'read', max: 5 })).toEqual({ ids: [2] });
  });

  it('serves several waiters and writes made while waiting', async () => {
    const sab = createRing(1024);
    const p = new RingProducer(sab);
    fill(p, 100);
    const worker = await consumerWorker(sab);
    const a = p.waitForSpace(50, 20_000);
    const b = p.waitForSpace(400, 20_000);
    await ask(worker, { cmd: 'read', max: 1 });
    expect(await a).toBe(true);
    expect(p.tryWrite(1, 100, 1, new Uint8Array(50))).toBe(true);
    await ask(worker, { cmd: 'read', max: 100 });
    expect(await b).toBe(true);
  });
});
