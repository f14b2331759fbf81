/**
 * One single-threaded reference run on the events `tallyd load` sends, in its
 * own process (fresh JIT, nothing else on the thread):
 *
 *   node dist/bench/e2e/reference.js naive|prom|engine [--seconds S] [--users U] [--seed N] [--pool P]
 *
 * naive   msgpackr.unpack + Map keyed by label string + hdr-histogram-js recordValue
 * prom    prom-client Histogram.observe with the same label sets (decoded events)
 * engine  tallyd's Engine on one thread: decode, validate, filter, group, record
 *
 * Prints one JSON object: kind, eventsPerSec, nsPerEvent, events, seconds, source.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Engine } from '../../src/engine/engine.js';
import { FORMAT_MSGPACK } from '../../src/event/decode.js';
import { benchConfig } from '../fixtures/config.js';
import { NaiveLoop, PromReference, checkCounts } from '../fixtures/reference.js';
import { engineCounts } from '../suites/record.js';
import { loadPool, type EventPool } from './events.js';
import { startNode } from './proc.js';

export type RefKind = 'naive' | 'prom' | 'engine';

export interface RefResult {
  kind: RefKind;
  eventsPerSec: number;
  nsPerEvent: number;
  events: number;
  seconds: number;
  source: string;
}

function stepper(kind: RefKind, pool: EventPool): () => number {
  const { encoded, decoded } = pool;
  let i = 0;
  if (kind === 'naive') {
    const naive = new NaiveLoop();
    return () => naive.ingest(encoded[i++ % encoded.length] as Buffer);
  }
  if (kind === 'prom') {
    const prom = new PromReference();
    return () => {
      const d = decoded[i++ % decoded.length] as unknown[];
      for (let k = 0; k < d.length; k++) prom.event(d[k] as never);
      return d.length;
    };
  }
  const engine = new Engine(benchConfig());
  return () => engine.ingestBytes(encoded[i++ % encoded.length] as Buffer, FORMAT_MSGPACK).accepted;
}

function check(pool: EventPool): void {
  const engine = new Engine(benchConfig());
  const naive = new NaiveLoop();
  const prom = new PromReference();
  for (const b of pool.encoded) {
    engine.ingestBytes(b, FORMAT_MSGPACK);
    naive.ingest(b);
  }
  for (const d of pool.decoded) for (const e of d) prom.event(e as never);
  const counts = engineCounts(engine);
  checkCounts('naive loop', naive.counts, counts);
  checkCounts('prom-client', prom.counts, counts);
}

export async function runReference(kind: RefKind, seconds: number, opts: { users: number; seed: number; pool: number }): Promise<RefResult> {
  const pool = await loadPool({ ...opts, batch: 1000 });
  check(pool);
  const step = stepper(kind, pool);
  const warmEnd = performance.now() + 1000;
  while (performance.now() < warmEnd) step();
  let events = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  while (performance.now() < end) events += step();
  const s = (performance.now() - t0) / 1000;
  return { kind, eventsPerSec: events / s, nsPerEvent: (s * 1e9) / events, events, seconds: s, source: pool.source };
}

/** runs a reference in a child process */
export async function referenceInChild(kind: RefKind, seconds: number, opts: { users: number; seed: number; pool: number }): Promise<RefResult> {
  const script = new URL(import.meta.url);
  const args = [
    script.pathname, kind, '--seconds', String(seconds), '--users', String(opts.users), '--seed', String(opts.seed), '--pool', String(opts.pool),
  ];
  const f = await startNode(args, (seconds + 60) * 1000).done;
  if (f.code !== 0) throw new Error(`reference ${kind} exited ${f.code ?? f.signal}:\n${f.stderr.slice(-2000)}`);
  return JSON.parse(f.stdout.trim().split('\n').pop() ?? '') as RefResult;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      seconds: { type: 'string', default: '3' },
      users: { type: 'string', default: '1000' },
      seed: { type: 'string', default: '1' },
      pool: { type: 'string', default: '64' },
    },
  });
  const kind = positionals[0] as RefKind;
  if (kind !== 'naive' && kind !== 'prom' && kind !== 'engine') {
    process.stderr.write('usage: reference.js naive|prom|engine [--seconds S] [--users U] [--seed N] [--pool P]\n');
    process.exitCode = 2;
  } else {
    const r = await runReference(kind, Number(values.seconds), { users: Number(values.users), seed: Number(values.seed), pool: Number(values.pool) });
    process.stdout.write(`${JSON.stringify(r)}\n`);
  }
}
