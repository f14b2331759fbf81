import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/index.js';
import { Engine } from '../../src/engine/engine.js';
import { renderDump } from '../../src/export/index.js';
import { Accumulator } from '../../src/merge/accumulator.js';
import { mergeSnapshots } from '../../src/merge/merge.js';
import type { Metric } from '../../src/metrics/metric.js';
import type { EngineSnapshot, MetricSnapshot, NodeSnapshot } from '../../src/metrics/types.js';
import { eventArb, MIXED_CONFIG, splitAt } from '../helpers/events.js';

const cfg = parseConfigText(MIXED_CONFIG, 'mixed.conf');
const FIELDS = ['count', 'sum', 'min', 'max', 'avg', 'median', 'stddev', '%95', '%99.9', '%10'];
const dump = (s: EngineSnapshot): string => renderDump(s, FIELDS, { compat: '2.4' });

describe('merging shard states', () => {
  it('equals aggregating the whole stream, for any split into shards (percentiles included)', () => {
    fc.assert(
      fc.property(
        fc.array(eventArb, { maxLength: 300 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        fc.array(fc.nat({ max: 3 }), { maxLength: 300 }),
        (events, cuts, owners) => {
          const whole = new Engine(cfg);
          const batches = splitAt(events, cuts);
          const shards = [new Engine(cfg), new Engine(cfg), new Engine(cfg), new Engine(cfg)];
          batches.forEach((b, i) => {
            whole.ingest(b, i + 1);
            (shards[owners[i] ?? i % 4] as Engine).ingest(b, i + 1);
          });
          const merged = mergeSnapshots(shards.map((s) => s.snapshot('full')));
          expect(dump(merged)).toBe(dump(whole.snapshot('full')));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('is associative: any grouping of three shard snapshots gives the same dump', () => {
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 200 }), fc.array(fc.nat(), { maxLength: 6 }), (events, cuts) => {
        const shards = [new Engine(cfg), new Engine(cfg), new Engine(cfg)];
        splitAt(events, cuts).forEach((b, i) => (shards[i % 3] as Engine).ingest(b, i + 1));
        const [a, b, c] = shards.map((s) => s.snapshot('full')) as [EngineSnapshot, EngineSnapshot, EngineSnapshot];
        const left = mergeSnapshots([mergeSnapshots([a, b]), c]);
        const right = mergeSnapshots([a, mergeSnapshots([b, c])]);
        expect(dump(left)).toBe(dump(right));
      }),
      { numRuns: 100 },
    );
  });

  it('accumulating deltas in any interleaving equals the whole stream', () => {
    fc.assert(
      fc.property(
        fc.array(eventArb, { maxLength: 300 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.array(fc.boolean(), { maxLength: 40 }),
        (events, cuts, picks) => {
          const whole = new Engine(cfg);
          const shards = [new Engine(cfg), new Engine(cfg)];
          const acc = new Accumulator();
          cfg.metrics.forEach((def, i) => acc.addMetric(i + 1, def, cfg.settings.maxSubMetrics));
          const queues: ReturnType<Engine['takeDelta']>[][] = [[], []];
          splitAt(events, cuts).forEach((b, i) => {
            whole.ingest(b, i + 1);
            const k = i % 2;
            (shards[k] as Engine).ingest(b, i + 1);
            if (i % 3 === 0) queues[k]!.push((shards[k] as Engine).takeDelta());
          });
          shards.forEach((s, k) => queues[k]!.push(s.takeDelta()));
          // each shard's deltas arrive in order; the two shards interleave arbitrarily
          let p = 0;
          while (queues[0]!.length + queues[1]!.length > 0) {
            const k = queues[0]!.length === 0 ? 1 : queues[1]!.length === 0 ? 0 : picks[p++ % Math.max(1, picks.length)] ? 1 : 0;
            acc.apply(queues[k]!.shift()!, k + 1);
          }
          expect(acc.view().counters.eventsAccepted).toBe(events.length);
          expect(dump(acc.view())).toBe(dump(whole.snapshot('full')));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('accumulating many small deltas into dense main-thread distributions equals the whole stream (percentiles included)', () => {
    // leaves ship their few values raw, delta after delta, while the root and the first level go dense on the
    // main thread: the values' counts-array indices are computed once per delta and added at every level
    fc.assert(
      fc.property(fc.array(eventArb, { minLength: 1200, maxLength: 2500 }), fc.integer({ min: 20, max: 200 }), (events, every) => {
        const whole = new Engine(cfg);
        const shard = new Engine(cfg);
        const acc = new Accumulator();
        cfg.metrics.forEach((def, i) => acc.addMetric(i + 1, def, cfg.settings.maxSubMetrics));
        for (let i = 0; i < events.length; i += every) {
          const b = events.slice(i, i + every);
          whole.ingest(b, i + 1);
          shard.ingest(b, i + 1);
          acc.apply(shard.takeDelta(), 1);
        }
        expect(dump(acc.view())).toBe(dump(whole.snapshot('full')));
      }),
      { numRuns: 15 },
    );
  });

  it('recording an event only where it stops equals recording it at every node of its path (snapshots and deltas)', () => {
    /** the obvious way: every node inclusive from the start, recording every event that reaches it */
    const everyNode = (e: Engine): Engine => {
      for (const m of (e as unknown as { metrics: Metric[] }).metrics) m.root.inclusive = true;
      return e;
    };
    const addAll = (acc: Accumulator): Accumulator => {
      cfg.metrics.forEach((def, i) => acc.addMetric(i + 1, def, cfg.settings.maxSubMetrics));
      return acc;
    };
    const dumpAll = (s: EngineSnapshot): string => renderDump(s, [...FIELDS, 'min', '%50', '%75'], { compat: '2.4' });
    fc.assert(
      fc.property(
        fc.array(eventArb, { maxLength: 400 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.array(fc.boolean(), { maxLength: 20 }),
        (events, cuts, ships) => {
          const leaf = new Engine(cfg);
          const every = everyNode(new Engine(cfg));
          const leafD = new Engine(cfg);
          const everyD = everyNode(new Engine(cfg));
          const accLeaf = addAll(new Accumulator());
          const accEvery = addAll(new Accumulator());
          splitAt(events, cuts).forEach((b, i) => {
            for (const e of [leaf, every, leafD, everyD]) e.ingest(b, i + 1);
            if (ships[i % Math.max(1, ships.length)] === true) {
              accLeaf.apply(leafD.takeDelta(), 1);
              accEvery.apply(everyD.takeDelta(), 1);
            }
            // read mid-stream too: reading adds nothing up twice
            if (i % 4 === 1) expect(dumpAll(leaf.snapshot('full'))).toBe(dumpAll(every.snapshot('full')));
          });
          accLeaf.apply(leafD.takeDelta(), 1);
          accEvery.apply(everyD.takeDelta(), 1);
          expect(dumpAll(leaf.snapshot('full'))).toBe(dumpAll(every.snapshot('full')));
          expect(dumpAll(accLeaf.view())).toBe(dumpAll(accEvery.view()));
          expect(dumpAll(accLeaf.view())).toBe(dumpAll(leaf.snapshot('full')));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('reads between deltas and resets equal the stream so far, and change nothing after', () => {
    // the main thread works out each node's figures from its children's when read: a read in the
    // middle, repeated or not, must leave the next one right, and a reset must drop what was not read
    fc.assert(
      fc.property(
        fc.array(eventArb, { maxLength: 300 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.array(fc.constantFrom('none', 'read', 'twice', 'reset'), { maxLength: 40 }),
        (events, cuts, acts) => {
          let whole = new Engine(cfg);
          let wasReset = false;
          const shards = [new Engine(cfg), new Engine(cfg)];
          const acc = new Accumulator();
          cfg.metrics.forEach((def, i) => acc.addMetric(i + 1, def, cfg.settings.maxSubMetrics));
          // after a reset the sub-metrics stay (at zero) while a fresh engine has none: compare non-zero counts by path
          const counts = (s: EngineSnapshot): Map<string, number> => {
            const out = new Map<string, number>();
            const walk = (n: NodeSnapshot, path: string): void => {
              if (n.count > 0) out.set(path, n.count);
              for (const c of n.children) walk(c, `${path}/${c.name}`);
            };
            for (const m of s.metrics) walk(m.root, m.def.name);
            return out;
          };
          const check = (): void => {
            if (wasReset) expect(counts(acc.view())).toEqual(counts(whole.snapshot('full')));
            else expect(dump(acc.view())).toBe(dump(whole.snapshot('full')));
          };
          splitAt(events, cuts).forEach((b, i) => {
            whole.ingest(b, i + 1);
            const k = i % 2;
            (shards[k] as Engine).ingest(b, i + 1);
            acc.apply((shards[k] as Engine).takeDelta(), k + 1);
            const act = acts[i % Math.max(1, acts.length)] ?? 'none';
            if (act === 'read' || act === 'twice') check();
            if (act === 'twice') check();
            if (act === 'reset') {
              acc.reset();
              whole = new Engine(cfg);
              wasReset = true;
            }
          });
          check();
        },
      ),
      { numRuns: 150 },
    );
  });

  it('a restored tree, then deltas, read at any point, equal the whole stream', () => {
    // restored figures count at their own node only (a saved node's figures hold its children's)
    fc.assert(
      fc.property(
        fc.array(eventArb, { maxLength: 200 }),
        fc.array(eventArb, { maxLength: 200 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.boolean(),
        (before, after, cuts, readFirst) => {
          const whole = new Engine(cfg);
          const saved = new Engine(cfg);
          whole.ingest(before, 1);
          saved.ingest(before, 1);
          const acc = new Accumulator();
          cfg.metrics.forEach((def, i) => acc.addMetric(i + 1, def, cfg.settings.maxSubMetrics));
          saved.snapshot('full').metrics.forEach((m, i) => expect(acc.restore(i + 1, m.root, m.overflow)).toBe(true));
          if (readFirst) expect(dump(acc.view())).toBe(dump(whole.snapshot('full')));
          const shard = new Engine(cfg);
          splitAt(after, cuts).forEach((b, i) => {
            whole.ingest(b, i + 2);
            shard.ingest(b, i + 2);
            acc.apply(shard.takeDelta(), 1);
            if (i % 2 === 0) expect(dump(acc.view())).toBe(dump(whole.snapshot('full')));
          });
          expect(dump(acc.view())).toBe(dump(whole.snapshot('full')));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('keeps the sub-metric cap across shards: every event counted once, named or in __overflow__', () => {
    // cmd_tags: a cmd_name the cap folds into __overflow__ on the main thread, whose tags below fan one event out
    const capped = parseConfigText(
      `max_sub_metrics = 4\n${MIXED_CONFIG}\nmetric cmd_tags {\n  filter = tags=*\n  group_by = cmd_name tags\n}\n`,
      'capped.conf',
    );
    const rootOf = (s: EngineSnapshot, name: string): NodeSnapshot => (s.metrics.find((m) => m.def.name === name) as MetricSnapshot).root;
    const overflowCount = (n: NodeSnapshot): number => (n.key === null ? n.count : 0) + n.children.reduce((a, c) => a + overflowCount(c), 0);
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 300 }), fc.array(fc.nat(), { maxLength: 10 }), (events, cuts) => {
        const whole = new Engine(capped);
        const shards = [new Engine(capped), new Engine(capped)];
        const acc = new Accumulator();
        capped.metrics.forEach((def, i) => acc.addMetric(i + 1, def, capped.settings.maxSubMetrics));
        splitAt(events, cuts).forEach((b, i) => {
          whole.ingest(b, i + 1);
          (shards[i % 2] as Engine).ingest(b, i + 1);
          // shard 1 ships after every batch, shard 0 only at the end
          if (i % 2 === 1) acc.apply((shards[1] as Engine).takeDelta(), 2);
        });
        acc.apply((shards[0] as Engine).takeDelta(), 1);
        acc.apply((shards[1] as Engine).takeDelta(), 2);
        const got = acc.view();
        const want = whole.snapshot('basic');
        for (const m of got.metrics) {
          const root = m.root;
          expect(m.subMetrics).toBeLessThanOrEqual(4);
          expect(root.count).toBe(rootOf(want, m.def.name).count);
          expect(m.overflow).toBe(overflowCount(root));
        }
        // every imap command has a cmd_name: the first level's children hold every event of the root
        for (const name of ['imap_command', 'cmd_tags']) {
          const root = rootOf(got, name);
          expect(root.children.reduce((a, c) => a + c.count, 0)).toBe(root.count);
          expect(root.dists[0]?.sum).toBe(rootOf(want, name).dists[0]?.sum);
        }
      }),
      { numRuns: 100 },
    );
  });
});
