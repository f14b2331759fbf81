/**
 * Stats-writer batches handed over from a reused scratch buffer (the ring
 * keeps the only copy): when the shard's worker dies holding some of them,
 * their events are still counted as lost (counted when written), and every
 * acknowledged event is in the merged figures.
 */
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/index.js';
import { FORMAT_STATS_WRITER } from '../../src/event/decode.js';
import type { IngestOutcome } from '../../src/shard/runtime.js';
import { killWhenTaken, pickVictim, restarted, runtimeStarter } from '../helpers/shards.js';

const cfg = parseConfigText('metric cmds {\n  filter = event=imap_command_finished\n  group_by = cmd_name\n}\n', 'writer-lost.conf');
const start = runtimeStarter(cfg);

const EVENTS = 50;
/** One connection's batch: its own session, EVENTS commands, END (so every batch stands alone). */
function batch(conn: number, sid: number): string {
  let s = `BEGIN\t${sid}\t0\t0\t1600000000\t0\tSuser\tu${conn}\n`;
  for (let i = 0; i < EVENTS; i++) s += `EVENT\t0\t${sid}\t0\t1600000000\t0\tl1600000000\t${i}\tnimap_command_finished\tScmd_name\tC${i % 3}\n`;
  return `${s}END\t${sid}\n`;
}

describe('stats-writer batches and a dying shard', () => {
  it('counts the events of the batches it held as lost, and every acknowledged one', async () => {
    const rt = await start(1, 4 << 20);
    const scratch = Buffer.alloc(64 * 1024);
    const sends: Promise<IngestOutcome>[] = [];
    let sid = 0;
    const hand = (): void => {
      const text = batch(7, ++sid);
      scratch.writeUInt32LE(7, 0);
      const n = 4 + scratch.write(text, 4);
      const p = rt.ingestTo(0, scratch.subarray(0, n), FORMAT_STATS_WRITER, false);
      expect(p).not.toBeNull();
      sends.push(p as Promise<IngestOutcome>);
      // the scratch is reused at once: the runtime must not need it again
      scratch.fill(0x58, 4, n);
    };
    let kills = 0;
    while (rt.stats().lostBatches === 0) {
      expect(kills, 'a kill landed while the shard held writer batches').toBeLessThan(5);
      if (kills > 0) await Promise.all(sends);
      const victim = await pickVictim(rt, 0);
      for (let i = 0; i < 400; i++) hand();
      await killWhenTaken(rt, victim);
      kills++;
      await restarted(rt, victim);
    }
    for (let i = 0; i < 10; i++) hand();
    const outcomes = await Promise.all(sends);
    expect(outcomes.every((o) => o.status === 'ok' || o.status === 'lost')).toBe(true);
    const lost = outcomes.filter((o) => o.status === 'lost').length;
    expect(lost).toBeGreaterThan(0);
    // the session's BEGIN is an event too (it matches no metric here)
    const acked = outcomes.reduce((n, o) => n + (o.status === 'ok' ? o.accepted : 0), 0);
    expect(acked).toBe((sends.length - lost) * (EVENTS + 1));
    const snap = await rt.snapshot((s) => ({ count: s.metrics[0]?.root.count, lostEvents: s.counters.eventsLost }));
    expect(snap.count).toBe((sends.length - lost) * EVENTS);
    expect(snap.lostEvents).toBe(lost * (EVENTS + 1));
  }, 120_000);
});
