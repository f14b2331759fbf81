import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { crc32 } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { RingProducer, createRing } from '../../src/ring/index.js';
import { assertCompiledRing, fixture } from './dist.js';

interface StressResult {
  received: number;
  bytes: number;
  waits: number;
  errors: string[];
  extra: boolean;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Sends `count` records whose payload starts with its sequence number and the
 * CRC-32 of the rest (both truncated for payloads under 8 bytes), with
 * id = sequence, type = sequence & 0xff, format = sequence % 4.
 */
async function stress(opts: {
  ringBytes: number;
  count: number;
  size: (rnd: () => number) => number;
  inPlace: boolean;
  seed: number;
}): Promise<{ result: StressResult; sentBytes: number; spaceWaits: number }> {
  const sab = createRing(opts.ringBytes);
  const producer = new RingProducer(sab);
  const worker = new Worker(fixture('stress-worker.mjs'), {
    workerData: { sab, count: opts.count, inPlace: opts.inPlace },
  });
  const done = once(worker, 'message') as Promise<[StressResult]>;
  const failed = once(worker, 'error').then(([err]) => {
    throw err;
  });
  const rnd = mulberry32(opts.seed);
  const source = randomBytes(1 << 20);
  const scratch = Buffer.alloc(producer.maxRecordBytes);
  let sentBytes = 0;
  let spaceWaits = 0;
  for (let seq = 0; seq < opts.count; seq++) {
    const len = opts.size(rnd);
    const bodyLen = Math.max(0, len - 8);
    const from = Math.floor(rnd() * (source.length - bodyLen));
    const body = source.subarray(from, from + bodyLen);
    scratch.writeUInt32LE(seq, 0);
    scratch.writeUInt32LE(bodyLen > 0 ? crc32(body) : 0, 4);
    body.copy(scratch, 8);
    const payload = scratch.subarray(0, len);
    while (!producer.tryWrite(seq & 0xff, seq, seq % 4, payload)) {
      spaceWaits++;
      if (!(await Promise.race([producer.waitForSpace(len, 10_000), failed]))) {
        throw new Error(`no space for record ${seq} within 10 s`);
      }
    }
    sentBytes += len;
  }
  const [result] = await Promise.race([done, failed]);
  await worker.terminate();
  return { result, sentBytes, spaceWaits };
}

describe('ring across threads', () => {
  beforeAll(assertCompiledRing);

  it('moves 200k records of 1..70000 bytes through a 1 MiB ring intact and in order', async () => {
    const count = 200_000;
    const { result, sentBytes, spaceWaits } = await stress({
      ringBytes: 1 << 20,
      count,
      size: (rnd) => 1 + Math.floor(rnd() * 70_000),
      inPlace: false,
      seed: 1,
    });
    expect(result.errors).toEqual([]);
    expect(result.received).toBe(count);
    expect(result.bytes).toBe(sentBytes);
    expect(result.extra).toBe(false);
    expect(sentBytes).toBeGreaterThan(2 ** 32);
    expect(spaceWaits).toBeGreaterThan(0);
  }, 120_000);

  it('moves 200k tiny records through a 4 KiB ring, read in place', async () => {
    const count = 200_000;
    const { result, sentBytes } = await stress({
      ringBytes: 4096,
      count,
      size: (rnd) => Math.floor(rnd() * 300),
      inPlace: true,
      seed: 2,
    });
    expect(result.errors).toEqual([]);
    expect(result.received).toBe(count);
    expect(result.bytes).toBe(sentBytes);
  }, 120_000);

  it('moves records from tiny to ring-sized through a 64 KiB ring', async () => {
    const count = 30_000;
    const ringBytes = 64 * 1024;
    const max = ringBytes - 16;
    const { result, sentBytes } = await stress({
      ringBytes,
      count,
      size: (rnd) => {
        const r = rnd();
        if (r < 0.4) return Math.floor(rnd() * 64);
        if (r < 0.7) return ringBytes / 2 - 64 + Math.floor(rnd() * 128);
        return max - Math.floor(rnd() * 512);
      },
      inPlace: false,
      seed: 3,
    });
    expect(result.errors).toEqual([]);
    expect(result.received).toBe(count);
    expect(result.bytes).toBe(sentBytes);
  }, 120_000);
});
