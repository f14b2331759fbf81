/**
 * Recording: Distribution.record (sparse and dense) against plain
 * hdr-histogram-js; Metric.record through group_by trees of several shapes;
 * the whole per-event pipeline of a shard (Engine: decode, validate, filter,
 * group, record) on the built-in config; and the two references on the same
 * events — the naive loop and prom-client's Histogram.observe.
 */
import { Int32Histogram } from 'hdr-histogram-js';
import { Distribution, HIST_MAX, INLINE_MAX, SIGNIFICANT_DIGITS } from '../../src/aggregate/index.js';
import { Engine } from '../../src/engine/engine.js';
import { FORMAT_MSGPACK } from '../../src/event/decode.js';
import { FieldSlots } from '../../src/event/plan.js';
import { fieldOf, type TallyEvent } from '../../src/event/types.js';
import { Metric } from '../../src/metrics/metric.js';
import { benchConfig, metricsConfig } from '../fixtures/config.js';
import { mailBatches, packBatch } from '../fixtures/mail.js';
import { NaiveLoop, PromReference, checkCounts, type Counts } from '../fixtures/reference.js';
import { durations } from '../lib/rng.js';
import { addTask, ratioRow, rowsOf, type AnyRow, type Row } from '../lib/report.js';
import { keep, newBench, type SuiteOptions } from './common.js';
import { loadedEvents } from './filter.js';

const BATCH = 4096;
const EVENTS = 1000;
/** distinct pre-encoded batches cycled through (so caches see several) */
const POOL = 16;

export const TREES: readonly { name: string; text: string }[] = [
  {
    name: 'cmd_name tagged_reply_state, 3 fields (built-in imap_command)',
    text: 'metric m {\n filter = event=imap_command_finished\n fields = net_in_bytes net_out_bytes\n group_by = cmd_name tagged_reply_state\n}',
  },
  {
    name: 'cmd_name duration:exponential:1:5:10',
    text: 'metric m {\n filter = event=imap_command_finished\n group_by = cmd_name duration:exponential:1:5:10\n}',
  },
  {
    name: 'user (1000 users, sparse leaves)',
    text: 'metric m {\n filter = event=imap_command_finished\n group_by = user\n}',
  },
  {
    name: 'user:discrete:%L{domain} cmd_name',
    text: 'metric m {\n filter = event=imap_command_finished\n group_by = user:discrete:%L{domain} cmd_name\n}',
  },
];

/** root counts per metric of an engine */
export function engineCounts(engine: Engine): Counts {
  const out: Counts = {};
  for (const m of engine.snapshot('basic').metrics) out[m.def.name] = m.root.count;
  return out;
}

export function pipelineTasks(
  add: (name: string, fn: () => unknown, items: number, unit: string) => void,
  batches: readonly Buffer[],
  decoded: readonly unknown[][],
): void {
  const config = benchConfig();
  const engine = new Engine(config);
  const naive = new NaiveLoop();
  const prom = new PromReference();
  // the references count what tallyd counts on the same events
  const checkEngine = new Engine(config);
  const checkNaive = new NaiveLoop();
  const checkProm = new PromReference();
  for (const b of batches) {
    checkEngine.ingestBytes(b, FORMAT_MSGPACK);
    checkNaive.ingest(b);
  }
  for (const d of decoded) for (const e of d) checkProm.event(e as never);
  checkCounts('naive loop', checkNaive.counts, engineCounts(checkEngine));
  checkCounts('prom-client', checkProm.counts, engineCounts(checkEngine));

  let i = 0;
  let j = 0;
  let k = 0;
  let l = 0;
  add(
    'tallyd Engine.ingestBytes, built-in config (decode, validate, filter, group, record)',
    () => engine.ingestBytes(batches[i++ % batches.length] as Buffer, FORMAT_MSGPACK),
    EVENTS,
    'events',
  );
  add(
    'tallyd Engine.ingest, decoded events (validate, filter, group, record)',
    () => engine.ingest(decoded[l++ % decoded.length] as unknown[]),
    EVENTS,
    'events',
  );
  add('reference: naive loop (msgpackr.unpack, Map by label string, hdr recordValue)', () => naive.ingest(batches[j++ % batches.length] as Buffer), EVENTS, 'events');
  add(
    'reference: prom-client Histogram.observe, same label sets (decoded events)',
    () => {
      const d = decoded[k++ % decoded.length] as unknown[];
      for (let x = 0; x < d.length; x++) prom.event(d[x] as never);
    },
    EVENTS,
    'events',
  );
}

export async function recordSuite(opts: SuiteOptions): Promise<AnyRow[]> {
  const rows: Row[] = [];

  // --- distributions
  const vals = durations(BATCH, 4);
  const plain = new Int32Histogram(1, HIST_MAX, SIGNIFICANT_DIGITS);
  const dense = new Distribution();
  for (let i = 0; i <= INLINE_MAX; i++) dense.record(vals[i] as number);
  const pool: Distribution[] = [];
  for (let i = 0; i < BATCH / 4; i++) pool.push(new Distribution());
  const dist = newBench(opts, 'record/distribution');
  addTask(dist, 'hdr-histogram-js Int32Histogram.recordValue (reference)', () => {
    for (let i = 0; i < BATCH; i++) plain.recordValue(vals[i] as number);
  }, BATCH, 'values');
  addTask(dist, 'Distribution.record, dense (HDR)', () => {
    for (let i = 0; i < BATCH; i++) dense.record(vals[i] as number);
  }, BATCH, 'values');
  addTask(dist, 'Distribution.record, sparse (inline; 1024 dists x 4 values, reset included)', () => {
    for (let j = 0; j < pool.length; j++) {
      const d = pool[j] as Distribution;
      d.reset();
      d.record(vals[4 * j] as number);
      d.record(vals[4 * j + 1] as number);
      d.record(vals[4 * j + 2] as number);
      d.record(vals[4 * j + 3] as number);
    }
  }, BATCH, 'values');
  await dist.run();
  rows.push(...rowsOf('record', dist));

  // --- Metric.record through group_by trees
  const imap = loadedEvents(4 * EVENTS).filter((e) => e.name === 'imap_command_finished');
  const trees = newBench(opts, 'record/metric');
  for (const t of TREES) {
    const def = metricsConfig(t.text).metrics[0];
    if (def === undefined) throw new Error('no metric');
    const slots = new FieldSlots();
    const metric = new Metric(def, 1, { compat: '2.4', maxSubMetrics: 1_000_000, slots });
    // the fields by slot, as an engine fills them
    for (const ev of imap) ev.vals = slots.keys.map((k) => fieldOf(ev, k) ?? null);
    let seq = 0;
    addTask(trees, `Metric.record, group_by ${t.name}`, () => {
      seq++;
      for (let i = 0; i < imap.length; i++) metric.record(imap[i] as TallyEvent, seq);
    }, imap.length, 'events');
  }
  await trees.run();
  rows.push(...rowsOf('record', trees));

  // --- the per-event pipeline and the references
  const raw = mailBatches(POOL, EVENTS, 7);
  const batches = raw.map(packBatch);
  const pipe = newBench(opts, 'record/pipeline');
  pipelineTasks((name, fn, items, unit) => addTask(pipe, name, fn, items, unit), batches, raw);
  await pipe.run();
  const piped = rowsOf('record', pipe);
  rows.push(...piped);
  keep(pool);
  return [
    ...rows,
    ratioRow('record', 'tallyd Engine.ingestBytes / prom-client observe, per event (target <= 1)', piped, 'tallyd Engine.ingestBytes', 'reference: prom-client'),
    ratioRow('record', 'tallyd Engine.ingestBytes / naive loop, per event (one thread each)', piped, 'tallyd Engine.ingestBytes', 'reference: naive'),
  ];
}
