import fc from 'fast-check';
import { pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/index.js';
import { Engine } from '../../src/engine/engine.js';
import { FORMAT_JSON, FORMAT_MSGPACK } from '../../src/event/decode.js';
import { renderDump } from '../../src/export/index.js';
import type { EngineSnapshot } from '../../src/metrics/types.js';
import { Runtime, type IngestOutcome } from '../../src/shard/runtime.js';
import { eventArb, MIXED_CONFIG, splitAt } from '../helpers/events.js';
import { killWhenTaken, pickVictim, restarted, runtimeStarter } from '../helpers/shards.js';

const FIELDS = ['count', 'sum', 'min', 'max', 'avg', 'median', 'stddev', '%95', '%99', '%50'];
const dump = (s: EngineSnapshot): string => renderDump(s, FIELDS, { compat: '2.4' });
const cfg = parseConfigText(MIXED_CONFIG, 'mixed.conf');

const start = runtimeStarter(cfg);
/** batches of at most 2 KiB aggregated on the main thread, larger ones in the shards */
const startMixed = runtimeStarter(cfg, 2048);

/** Ingests, waiting for ring space instead of taking `busy`. */
async function ingest(rt: Runtime, bytes: Uint8Array, format = FORMAT_MSGPACK as 1 | 2 | 3): Promise<IngestOutcome> {
  for (;;) {
    const r = await rt.ingest(bytes, format);
    if (r.status !== 'busy') return r;
    await rt.waitForSpace(bytes.length, 1000);
  }
}

describe('sharded runtime', () => {
  it('gives the single-threaded dump, cell for cell, for any stream, batching and shard count', async () => {
    for (const [shards, starter] of [[1, start], [2, start], [4, start], [2, startMixed]] as const) {
      await fc.assert(
        fc.asyncProperty(
          fc.array(eventArb, { minLength: 1, maxLength: 400 }),
          fc.array(fc.nat(), { maxLength: 12 }),
          async (events, cuts) => {
            const batches = splitAt(events, cuts);
            const engine = new Engine(cfg);
            for (const b of batches) engine.ingest(b);
            const rt = await starter(shards);
            // all batches in flight at once, as concurrent producers would send them
            const outcomes = await Promise.all(batches.map((b) => ingest(rt, pack(b))));
            expect(outcomes.every((o) => o.status === 'ok')).toBe(true);
            const got = await rt.snapshot(dump);
            expect(got).toBe(dump(engine.snapshot('full')));
            await rt.close(() => undefined);
                },
        ),
        { numRuns: shards === 1 ? 6 : 10 },
      );
    }
    // 26 runtimes (each starting its worker threads) in one test: about 14 s alone on 2 cores, 30 s
    // when the machine is busy, which was the suite's default limit
  }, 180_000);

  it('answers each batch with its counts and per-event reasons once merged', async () => {
    const rt = await start(2);
    const body = JSON.stringify([
      { event: 'imap_command_finished', fields: { cmd_name: 'SELECT' }, duration: 5 },
      { fields: {} },
      42,
      { event: 'x', duration: 'slow' },
    ]);
    const r = await ingest(rt, Buffer.from(body), FORMAT_JSON);
    expect(r).toEqual({
      status: 'ok',
      accepted: 1,
      rejected: 3,
      errors: [
        { index: 1, reason: 'missing_name: key "event" is missing' },
        { index: 2, reason: 'not_a_map: event is not a map' },
        { index: 3, reason: 'invalid_duration: duration is not a finite number' },
      ],
    });
    const bad = await ingest(rt, Buffer.from('[{"event":'), FORMAT_JSON);
    expect(bad.status).toBe('framing');
    const counters = await rt.snapshot((s) => ({ ...s.counters }));
    expect(counters.eventsAccepted).toBe(1);
    expect(counters.eventsRejected).toEqual({ missing_name: 1, not_a_map: 1, invalid_duration: 1 });
  });

  it('refuses a batch visibly when every ring is full, and takes it once there is room', async () => {
    const rt = await start(1, 64 * 1024);
    const big = pack(Array.from({ length: 400 }, (_, i) => ({ event: 'other', duration: i, fields: { size: i } })));
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => rt.ingest(big, FORMAT_MSGPACK)));
    const busy = outcomes.filter((o) => o.status === 'busy').length;
    const ok = outcomes.filter((o) => o.status === 'ok').length;
    expect(busy).toBeGreaterThan(0);
    expect(ok + busy).toBe(20);
    expect(rt.stats().busyRefusals).toBe(busy);
    const accepted = await rt.snapshot((s) => s.counters.eventsAccepted);
    expect(accepted).toBe(ok * 400);
  });

  it.each([
    ['in the shards', start],
    ['small batches on the main thread, large in the shards', startMixed],
  ])('puts every event in exactly one dump when resets run during ingest (%s)', async (_how, starter) => {
    const rt = await starter(2);
    const big = pack(Array.from({ length: 50 }, (_, i) => ({ event: 'imap_command_finished', duration: i, fields: { cmd_name: 'NOOP' } })));
    const small = pack(Array.from({ length: 5 }, (_, i) => ({ event: 'imap_command_finished', duration: i, fields: { cmd_name: 'NOOP' } })));
    const rootCount = (s: EngineSnapshot): number => s.metrics[0]?.root.count ?? 0;
    const sends: Promise<IngestOutcome>[] = [];
    const dumps: Promise<number>[] = [];
    for (let i = 0; i < 400; i++) {
      sends.push(ingest(rt, i % 2 === 0 ? big : small));
      if (i % 50 === 25) dumps.push(rt.snapshotAndReset(rootCount));
      if (i % 20 === 0) await new Promise((r) => setImmediate(r));
    }
    const outcomes = await Promise.all(sends);
    const acked = outcomes.reduce((n, o) => n + (o.status === 'ok' ? o.accepted : 0), 0);
    const counted = (await Promise.all(dumps)).reduce((a, b) => a + b, 0) + (await rt.snapshotAndReset(rootCount));
    expect(acked).toBe(200 * 50 + 200 * 5);
    expect(big.length).toBeGreaterThan(2048);
    expect(rt.stats().inlineBatches).toBe(starter === start ? 0 : 200);
    expect(counted).toBe(acked);
  });

  it.each([
    ['in the shards', start],
    ['on the main thread', startMixed],
  ])('adds and removes metrics at run time; an added metric sees only later events (%s)', async (_how, starter) => {
    const rt = await starter(2);
    const ev = pack([{ event: 'late', duration: 7, fields: { k: 'v' } }]);
    await ingest(rt, ev);
    await rt.addMetric({ name: 'late', filter: 'event=late', fields: [], groupBy: [{ kind: 'discrete', field: 'k', modifier: null }], description: '' });
    await ingest(rt, ev);
    await ingest(rt, ev);
    const text = await rt.snapshot(dump);
    expect(text).toContain('late\tduration\t2\t14\t');
    expect(text).toContain('late_v\tduration\t2\t14\t');
    expect(await rt.removeMetric('late')).toBe(true);
    expect(await rt.removeMetric('late')).toBe(false);
    expect(await rt.snapshot(dump)).not.toContain('late');
    expect(rt.stats().inlineBatches).toBe(starter === start ? 0 : 3);
  });

  it('restarts a killed shard, reports its in-flight batches lost and keeps the rest exact', async () => {
    const rt = await start(2, 16 << 20);
    const batch = pack(Array.from({ length: 1000 }, (_, i) => ({ event: 'imap_command_finished', duration: i % 97, fields: { cmd_name: 'FETCH' } })));
    const sends: Promise<IngestOutcome>[] = [];
    // kill shard 0's worker thread while it is working through its batches (again, with fresh
    // batches, should a kill land only after it had answered them all: each kill is checked below)
    let kills = 0;
    while (rt.stats().lostBatches === 0) {
      expect(kills, 'a kill landed while shard 0 held batches').toBeLessThan(5);
      // the rings empty again before a new round
      if (kills > 0) await Promise.all(sends);
      const victim = await pickVictim(rt, 0);
      for (let i = 0; i < 200; i++) sends.push(ingest(rt, batch));
      expect(rt.stats().shards[0]?.pending ?? 0).toBeGreaterThan(20);
      await killWhenTaken(rt, victim);
      kills++;
      // more while it is replaced
      for (let i = 0; i < 20; i++) sends.push(ingest(rt, batch));
      await restarted(rt, victim);
    }
    const outcomes = await Promise.all(sends);
    const lost = outcomes.filter((o) => o.status === 'lost').length;
    const acked = outcomes.reduce((n, o) => n + (o.status === 'ok' ? o.accepted : 0), 0);
    expect(outcomes.every((o) => o.status === 'ok' || o.status === 'lost')).toBe(true);
    const snap = await rt.snapshot((s) => ({ count: s.metrics[0]?.root.count, lostEvents: s.counters.eventsLost }));
    expect(snap.count).toBe(acked);
    expect(acked + lost * 1000).toBe(sends.length * 1000);
    expect(lost).toBeGreaterThan(0);
    expect(rt.stats().lostBatches).toBe(lost);
    expect(snap.lostEvents).toBe(lost * 1000);
    expect(rt.stats().restarts).toBe(kills);
    // the restarted shard works
    const after = await ingest(rt, batch);
    expect(after.status).toBe('ok');
  });
});
