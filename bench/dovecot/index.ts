/**
 * bench:dovecot: Dovecot 2.3's own stats process and `tallyd serve` on the
 * same three metrics and the same events, side by side in one run. Dovecot
 * is fed over its stats-writer socket (the protocol its imap processes
 * speak); tallyd twice: over HTTP msgpack batches (what Dovecot's event
 * exporter sends, batched), and over its own stats-writer socket by the
 * same client as Dovecot (tallyd in the stats process's place). Every dump
 * is checked against the client's own tallies, and the figure is events per
 * CPU-second of each server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEBIAN_PACKAGES, missingDovecot, startDovecot } from './dovecot.js';
import { metricBlocks } from './metrics.js';
import { sleep } from './proc.js';
import { compareDump, countOf, parseDump, type Tally } from './tally.js';
import { startTallyd } from './tallyd.js';
import { buildWorkload, type Workload } from './workload.js';
import { StatsWriterClient } from './writer-protocol.js';

export interface BenchOptions {
  events: number;
  runs: number;
  seed: number;
  /** stats-writer connections (one per imap process) */
  writers: number;
  /** HTTP connections to tallyd */
  httpConnections: number;
  batchSize: number;
  shards: number;
  /**
   * batches tallyd gets (and then resets) before the measured run, Infinity: the whole workload once.
   * Its JIT warms up as in a long-running server (one tenth of the events still left a tenth more CPU in the measured run).
   */
  warmupBatches: number;
  dovecot: boolean;
  tallyd: boolean;
  /** tallyd fed over its stats-writer socket */
  tallydWriter: boolean;
  log: (s: string) => void;
}

export const DEFAULTS: Omit<BenchOptions, 'log'> = {
  events: 500_000,
  runs: 3,
  seed: 1,
  writers: 4,
  httpConnections: 8,
  batchSize: 1000,
  shards: 2,
  warmupBatches: Infinity,
  dovecot: true,
  tallyd: true,
  tallydWriter: true,
};

export interface Side {
  events: number;
  wallSeconds: number;
  cpuSeconds: number;
  eventsPerSecond: number;
  eventsPerCpuSecond: number;
  /** tallyd: CPU seconds of its main thread, of its busiest other threads (the shards, busiest first), and of all the rest */
  threads?: { main: number; busiest: number[]; rest: number };
}

export interface RunResult {
  dovecot: Side | null;
  tallyd: Side | null;
  tallydWriter: Side | null;
  /** tallyd (HTTP msgpack) / Dovecot, events per CPU-second */
  ratio: number | null;
  /** tallyd (stats-writer socket) / Dovecot, events per CPU-second */
  ratioWriter: number | null;
}

export interface BenchResult {
  skipped?: string;
  options?: Omit<BenchOptions, 'log'>;
  runs: RunResult[];
  /** median of the runs' ratios, and their spread */
  ratio: number | null;
  ratioMin: number | null;
  ratioMax: number | null;
  /** the same for tallyd on its stats-writer socket */
  ratioWriter: number | null;
  ratioWriterMin: number | null;
  ratioWriterMax: number | null;
  msgpackBytesPerEvent?: number;
  writerBytesPerEvent?: number;
}

function side(events: number, wall: number, cpu: number): Side {
  return { events, wallSeconds: wall, cpuSeconds: cpu, eventsPerSecond: events / wall, eventsPerCpuSecond: events / cpu };
}

/** Where a tallyd run's CPU went, from two per-thread readings: main thread, the `n` busiest others, the rest. */
function threadSplit(pid: number, before: Map<number, number>, after: Map<number, number>, n: number): NonNullable<Side['threads']> {
  const spent = [...after].map(([tid, s]) => [tid, s - (before.get(tid) ?? 0)] as const);
  const main = spent.find(([tid]) => tid === pid)?.[1] ?? 0;
  const others = spent.filter(([tid]) => tid !== pid).map(([, s]) => s).sort((a, b) => b - a);
  const busiest = others.slice(0, n);
  return { main, busiest, rest: others.slice(n).reduce((a, b) => a + b, 0) };
}

function check(who: string, dumpText: string, tally: Tally): void {
  const problems = compareDump(parseDump(dumpText), tally);
  if (problems.length > 0) throw new Error(`${who}'s dump differs from the client's tallies:\n  ${problems.slice(0, 20).join('\n  ')}`);
}

async function runDovecot(w: Workload, dir: string, o: BenchOptions): Promise<Side> {
  const dv = await startDovecot(join(dir, 'dovecot'), metricBlocks());
  try {
    const clients = await Promise.all(Array.from({ length: o.writers }, () => StatsWriterClient.connect(dv.writerSocket)));
    const cpu0 = dv.cpu();
    const t0 = performance.now();
    await Promise.all(clients.map((c, i) => c.writeAll(w.writerChunks[i] ?? [])));
    await Promise.all(clients.map((c) => c.end()));
    // every event processed: the root's count is all of them
    let text = dv.dump();
    const deadline = Date.now() + 120_000;
    while (countOf(parseDump(text), 'imap_command') < w.events) {
      if (Date.now() > deadline) throw new Error(`Dovecot counted ${countOf(parseDump(text), 'imap_command')} of ${w.events} events`);
      await sleep(50);
      text = dv.dump();
    }
    const wall = (performance.now() - t0) / 1000;
    const cpu = dv.cpu() - cpu0;
    check('Dovecot', text, w.tally);
    return side(w.events, wall, cpu);
  } finally {
    await dv.stop();
  }
}

async function runTallyd(w: Workload, dir: string, o: BenchOptions): Promise<Side> {
  const td = await startTallyd(dir, metricBlocks(), o.shards);
  try {
    if (o.warmupBatches > 0) {
      await td.send(w.batches.slice(0, o.warmupBatches), o.httpConnections);
      await td.reset();
    }
    const cpu0 = td.cpu();
    const threads0 = td.threads();
    const t0 = performance.now();
    const accepted = await td.send(w.batches, o.httpConnections);
    const wall = (performance.now() - t0) / 1000;
    const cpu = td.cpu() - cpu0;
    const threads = threadSplit(td.pid, threads0, td.threads(), o.shards);
    if (accepted !== w.events) throw new Error(`tallyd accepted ${accepted} of ${w.events} events`);
    check('tallyd', await td.dump(), w.tally);
    return { ...side(w.events, wall, cpu), threads };
  } finally {
    await td.stop();
  }
}

async function runTallydWriter(w: Workload, dir: string, o: BenchOptions): Promise<Side> {
  const socket = join(dir, 'tallyd-writer');
  const td = await startTallyd(dir, metricBlocks(), o.shards, `dovecot_writer_socket = ${socket}`);
  try {
    if (o.warmupBatches > 0) {
      // the first chunks of every writer, counted and then reset: the JIT of the main thread and of
      // every shard (a connection stays on one) warms up, as in a long-running server
      const per = Math.ceil(o.warmupBatches / o.writers);
      const warm = await Promise.all(Array.from({ length: o.writers }, () => StatsWriterClient.connect(socket)));
      await Promise.all(warm.map((c, i) => c.writeAll((w.writerChunks[i] ?? []).slice(0, per))));
      await Promise.all(warm.map((c) => c.end()));
      await td.settle(0);
      await td.reset();
    }
    const clients = await Promise.all(Array.from({ length: o.writers }, () => StatsWriterClient.connect(socket)));
    const cpu0 = td.cpu();
    const threads0 = td.threads();
    const t0 = performance.now();
    await Promise.all(clients.map((c, i) => c.writeAll(w.writerChunks[i] ?? [])));
    await Promise.all(clients.map((c) => c.end()));
    const text = await td.settle(w.events);
    const wall = (performance.now() - t0) / 1000;
    const cpu = td.cpu() - cpu0;
    const threads = threadSplit(td.pid, threads0, td.threads(), o.shards);
    check('tallyd (stats-writer socket)', text, w.tally);
    return { ...side(w.events, wall, cpu), threads };
  } finally {
    await td.stop();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

export async function runDovecotBench(opts: Partial<BenchOptions> = {}): Promise<BenchResult> {
  const o: BenchOptions = { ...DEFAULTS, log: () => undefined, ...opts };
  const missing = missingDovecot();
  if (o.dovecot && missing.length > 0) {
    return {
      skipped: `Dovecot is not installed (${missing.join(', ')} not found): apt-get install ${DEBIAN_PACKAGES}`,
      runs: [],
      ratio: null,
      ratioMin: null,
      ratioMax: null,
      ratioWriter: null,
      ratioWriterMin: null,
      ratioWriterMax: null,
    };
  }
  o.log(`building ${o.events} events…`);
  const w = buildWorkload({ events: o.events, seed: o.seed, connections: o.writers, batchSize: o.batchSize, writer: o.dovecot || o.tallydWriter, http: o.tallyd });
  const runs: RunResult[] = [];
  for (let r = 0; r < o.runs; r++) {
    const dir = mkdtempSync(join(tmpdir(), 'tallyd-bench-dovecot-'));
    try {
      // alternate which side goes first: both see the same drift of the machine
      const order: ('dovecot' | 'tallyd' | 'tallydWriter')[] = r % 2 === 0 ? ['dovecot', 'tallyd', 'tallydWriter'] : ['tallydWriter', 'tallyd', 'dovecot'];
      const res: RunResult = { dovecot: null, tallyd: null, tallydWriter: null, ratio: null, ratioWriter: null };
      for (const who of order) {
        if (!o[who]) continue;
        o.log(`run ${r + 1}/${o.runs}: ${who}…`);
        res[who] = who === 'dovecot' ? await runDovecot(w, dir, o) : who === 'tallyd' ? await runTallyd(w, dir, o) : await runTallydWriter(w, dir, o);
      }
      if (res.dovecot !== null && res.tallyd !== null) res.ratio = res.tallyd.eventsPerCpuSecond / res.dovecot.eventsPerCpuSecond;
      if (res.dovecot !== null && res.tallydWriter !== null) res.ratioWriter = res.tallydWriter.eventsPerCpuSecond / res.dovecot.eventsPerCpuSecond;
      runs.push(res);
    } finally {
      // TALLYD_BENCH_KEEP=1 keeps the run's directory (configs, logs) for a look afterwards
      if (process.env['TALLYD_BENCH_KEEP'] === '1') o.log(`kept ${dir}`);
      else rmSync(dir, { recursive: true, force: true });
    }
  }
  const ratios = runs.map((x) => x.ratio).filter((x): x is number => x !== null);
  const wr = runs.map((x) => x.ratioWriter).filter((x): x is number => x !== null);
  return {
    options: { ...o, log: undefined } as Omit<BenchOptions, 'log'>,
    runs,
    ratio: ratios.length > 0 ? median(ratios) : null,
    ratioMin: ratios.length > 0 ? Math.min(...ratios) : null,
    ratioMax: ratios.length > 0 ? Math.max(...ratios) : null,
    ratioWriter: wr.length > 0 ? median(wr) : null,
    ratioWriterMin: wr.length > 0 ? Math.min(...wr) : null,
    ratioWriterMax: wr.length > 0 ? Math.max(...wr) : null,
    msgpackBytesPerEvent: w.msgpackBytes / w.events,
    writerBytesPerEvent: w.writerBytes / w.events,
  };
}
