/**
 * Coalescing of small batches (src/shard/runtime.ts): batches handed over in
 * one event-loop turn share one multi record, yet each keeps its own answer;
 * a shard that dies holding multi records loses exactly their unanswered
 * batches, counted without decoding. Real worker threads, no mocks.
 */
import { pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/index.js';
import { Engine } from '../../src/engine/engine.js';
import { countBatchEvents, FORMAT_JSON, FORMAT_MSGPACK, FORMAT_NDJSON, FramingError, type BatchFormat } from '../../src/event/decode.js';
import { outcomeResponse } from '../../src/server/ingest.js';
import { COALESCE_MAX_BATCH, type IngestOutcome, type Runtime } from '../../src/shard/runtime.js';
import { isFramingError } from '../../src/shard/worker.js';
import { killWhenTaken, pickVictim, restarted, runtimeStarter } from '../helpers/shards.js';

const CONFIG = `
metric cmds {
  filter = event=imap_command_finished
  group_by = cmd_name
}
metric everything {
  filter = event=*
}
`;
const cfg = parseConfigText(CONFIG, 'coalesce.conf');

const start = runtimeStarter(cfg);

interface Batch {
  bytes: Buffer;
  format: BatchFormat;
}

/** What the single-threaded engine answers for one batch on its own. */
function expected(b: Batch): IngestOutcome {
  const engine = new Engine(cfg);
  try {
    const r = engine.ingestBytes(b.bytes, b.format, 1, true);
    return { status: 'ok', accepted: r.accepted, rejected: r.rejected, errors: r.errors };
  } catch (e) {
    if (!(e instanceof FramingError)) throw e;
    return { status: 'framing', message: e.message };
  }
}

const cmd = (i: number): Record<string, unknown> => ({
  event: 'imap_command_finished',
  hostname: 'mx1',
  categories: ['imap'],
  fields: { user: `u${i}@x`, cmd_name: ['FETCH', 'SELECT', 'NOOP'][i % 3], tagged_reply_state: 'OK', duration: 100 + i },
});

/** One small batch of each kind a Dovecot exporter or a confused client sends, by index. */
function smallBatch(i: number): Batch {
  switch (i % 7) {
    case 0:
    case 1:
    case 2:
      return { bytes: Buffer.from(JSON.stringify(cmd(i))), format: FORMAT_JSON };
    case 3:
      // not JSON at all: a framing error for this batch only
      return { bytes: Buffer.from(`{"event":"imap_command_finished","fields":{"n":${i}`), format: FORMAT_JSON };
    case 4:
      // JSON, but events the engine rejects (no name; a field of the wrong type) next to a good one
      return { bytes: Buffer.from(JSON.stringify([{ fields: { n: i } }, cmd(i), { event: 'x', fields: { bad: { nested: i } } }])), format: FORMAT_JSON };
    case 5:
      return { bytes: Buffer.from(pack([cmd(i), cmd(i + 1)])), format: FORMAT_MSGPACK };
    default:
      return { bytes: Buffer.from(`${JSON.stringify(cmd(i))}\nnot json\n${JSON.stringify(cmd(i + 2))}\n`), format: FORMAT_NDJSON };
  }
}

describe('coalesced small batches', () => {
  it('answers each batch of a multi record on its own, exactly as if sent alone, and counts exactly the accepted events', async () => {
    for (const shards of [1, 3]) {
      const rt = await start(shards);
      const batches = Array.from({ length: 700 }, (_, i) => smallBatch(i));
      const want = batches.map(expected);
      // handed over in one turn, as many connections' requests are: they share multi records
      const got = await Promise.all(batches.map((b) => rt.ingest(b.bytes, b.format)));
      expect(got).toEqual(want);
      const st = rt.stats();
      expect(st.coalescedRecords).toBeGreaterThan(0);
      expect(st.coalescedBatches).toBe(700);
      expect(st.internalErrors).toBe(0);
      const accepted = want.reduce((n, o) => n + (o.status === 'ok' ? o.accepted : 0), 0);
      const rejected = want.reduce((n, o) => n + (o.status === 'ok' ? o.rejected : 0), 0);
      expect(want.filter((o) => o.status === 'framing').length).toBe(100);
      const snap = await rt.snapshot((s) => ({ everything: s.metrics[1]?.root.count, counters: s.counters }));
      expect(snap.everything).toBe(accepted);
      expect(snap.counters.eventsAccepted).toBe(accepted);
      expect(Object.values(snap.counters.eventsRejected).reduce((a, b) => a + b, 0)).toBe(rejected);
      await rt.close(() => undefined);
    }
  });

  it('keeps big batches on their own records, in order with the small ones around them', async () => {
    const rt = await start(1);
    const big = Buffer.from(pack(Array.from({ length: 2000 }, (_, i) => cmd(i))));
    expect(big.length).toBeGreaterThan(COALESCE_MAX_BATCH);
    const small = Buffer.from(JSON.stringify(cmd(1)));
    const outcomes = await Promise.all([
      rt.ingest(small, FORMAT_JSON),
      rt.ingest(small, FORMAT_JSON),
      rt.ingest(big, FORMAT_MSGPACK),
      rt.ingest(small, FORMAT_JSON),
      rt.ingest(small, FORMAT_JSON),
    ]);
    expect(outcomes.map((o) => (o.status === 'ok' ? o.accepted : o.status))).toEqual([1, 1, 2000, 1, 1]);
    // the two small batches before the big one went out together, before it; the two after it in a group of their own
    expect(rt.stats().coalescedRecords).toBe(2);
    expect(rt.stats().coalescedBatches).toBe(4);
    expect(await rt.snapshot((s) => s.metrics[1]?.root.count)).toBe(2004);
  });

  it('refuses small batches visibly when no ring has room for them, and takes them again once there is', async () => {
    const rt = await start(1, 64 * 1024);
    const b = Buffer.from(pack(Array.from({ length: 120 }, (_, i) => cmd(i))));
    expect(b.length).toBeLessThanOrEqual(COALESCE_MAX_BATCH);
    const outcomes = await Promise.all(Array.from({ length: 200 }, () => rt.ingest(b, FORMAT_MSGPACK)));
    const busy = outcomes.filter((o) => o.status === 'busy').length;
    const ok = outcomes.filter((o) => o.status === 'ok').length;
    expect(busy).toBeGreaterThan(0);
    expect(ok + busy).toBe(200);
    expect(rt.stats().busyRefusals).toBe(busy);
    expect(await rt.snapshot((s) => s.counters.eventsAccepted)).toBe(ok * 120);
    // room again: taken
    const again = await rt.ingest(b, FORMAT_MSGPACK);
    expect(again).toMatchObject({ status: 'ok', accepted: 120 });
  });

  it('a shard killed while holding multi records: what was acknowledged is counted, the rest is answered lost and counted lost', async () => {
    const rt = await start(2, 16 << 20);
    // ~13 KB batches of 100 events: five to a multi record, plenty of work for the shards
    const events = 100;
    const b = Buffer.from(pack(Array.from({ length: events }, (_, i) => cmd(i))));
    expect(b.length).toBeLessThanOrEqual(COALESCE_MAX_BATCH);
    expect(countBatchEvents(b, FORMAT_MSGPACK)).toBe(events);
    const sends: Promise<IngestOutcome>[] = [];
    // kill shard 0's worker while it works through its multi records (again, with fresh batches,
    // should a kill land only after it had answered them all: each kill is checked below)
    let kills = 0;
    while (rt.stats().lostBatches === 0) {
      expect(kills, 'a kill landed while shard 0 held multi records').toBeLessThan(5);
      // the rings empty again before a new round
      if (kills > 0) await Promise.all(sends);
      const victim = await pickVictim(rt, 0);
      const records = rt.stats().coalescedRecords;
      for (let i = 0; i < 1200; i++) sends.push(rt.ingest(b, FORMAT_MSGPACK));
      // written at the end of this turn
      await new Promise((r) => setImmediate(r));
      expect(rt.stats().coalescedRecords - records).toBeGreaterThan(100);
      // no event-loop turn since they were written: no ack has been settled yet
      expect(rt.stats().shards[0]?.pending ?? 0).toBeGreaterThan(8);
      await killWhenTaken(rt, victim);
      kills++;
      // more small batches while it is replaced
      for (let i = 0; i < 40; i++) sends.push(rt.ingest(b, FORMAT_MSGPACK));
      await restarted(rt, victim);
    }
    const outcomes = await Promise.all(sends);
    expect(outcomes.every((o) => o.status === 'ok' || o.status === 'lost')).toBe(true);
    const lost = outcomes.filter((o) => o.status === 'lost').length;
    const acked = outcomes.reduce((n, o) => n + (o.status === 'ok' ? o.accepted : 0), 0);
    // a whole multi record (at least its unanswered batches) went with the worker
    expect(lost).toBeGreaterThanOrEqual(2);
    expect(acked + lost * events).toBe(sends.length * events);
    const snap = await rt.snapshot((s) => ({ count: s.metrics[1]?.root.count, accepted: s.counters.eventsAccepted, lostEvents: s.counters.eventsLost }));
    expect(snap.count).toBe(acked);
    expect(snap.accepted).toBe(acked);
    expect(snap.lostEvents).toBe(lost * events);
    expect(rt.stats().lostBatches).toBe(lost);
    expect(rt.stats().restarts).toBe(kills);
    // the restarted shard takes coalesced batches again
    const after = await Promise.all([rt.ingest(b, FORMAT_MSGPACK), rt.ingest(b, FORMAT_MSGPACK)]);
    expect(after).toEqual([
      { status: 'ok', accepted: events, rejected: 0, errors: [] },
      { status: 'ok', accepted: events, rejected: 0, errors: [] },
    ]);
  });
});

describe('engine failures', () => {
  it('only a FramingError is the client’s fault: anything else the engine throws is a 500 ERR_INTERNAL, never a 400', () => {
    const engine = new Engine(cfg);
    let framing: unknown;
    try {
      engine.ingestBytes(Buffer.from('[{"event":'), FORMAT_JSON, 1, true);
    } catch (e) {
      framing = e;
    }
    expect(isFramingError(framing)).toBe(true);
    expect(isFramingError(new TypeError('Cannot read properties of undefined'))).toBe(false);
    expect(isFramingError(new RangeError('Maximum call stack size exceeded'))).toBe(false);
    expect(isFramingError('a string')).toBe(false);
    expect(isFramingError(null)).toBe(false);

    const bad = outcomeResponse({ status: 'framing', message: 'invalid JSON' });
    expect(bad.status).toBe(400);
    const internal = outcomeResponse({ status: 'internal', message: 'TypeError: x is undefined' });
    expect(internal.status).toBe(500);
    expect(JSON.parse(String(internal.body))).toMatchObject({ error: 'ERR_INTERNAL' });
  });
});
