/**
 * End-to-end: the real server (`tallyd serve` as a child process, N shards,
 * 127.0.0.1) driven by `tallyd load` over HTTP and WebSocket with 1000-event
 * msgpack batches; scrapes of /metrics (OpenMetrics) at 10k and 100k
 * `series` sub-metrics while ingesting at half the sustained rate; resident
 * memory per sparse sub-metric; and, in the same run, single-threaded
 * references on the same events (naive loop, prom-client, tallyd's Engine).
 *
 *   npm run bench:e2e -- [--shards 2] [--rounds 3] [--seconds 8] [--scrape-seconds 15]
 *                        [--series 10000,100000] [--transports http,ws]
 *                        [--native-free] [--throughput-only] [--json] [--out FILE]
 *
 * --throughput-only: rounds of (naive loop, load runs) only, no scrapes or memory.
 *
 * Every process it starts is stopped by PID; every phase is time-bounded.
 */
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { syntheticSeries, templateLines } from './fixtures/template.js';
import { closeClient, sleep } from './e2e/client.js';
import { loadAvailable, runLoad, type LoadResult } from './e2e/load.js';
import { killAll } from './e2e/proc.js';
import { referenceInChild, type RefResult } from './e2e/reference.js';
import { TallydServer } from './e2e/server.js';
import { CPU, NODE, median, percentile, si } from './lib/report.js';

export interface Throughput {
  transport: 'http' | 'ws';
  load: LoadResult;
  /** server process CPU during the run, cores (2 = both cores busy) */
  serverCores: number;
  /** server CPU per accepted event, µs */
  serverCpuUsPerEvent: number;
}

export interface ScrapeRun {
  series: number;
  /** while ingesting at this rate (events/s), 0 = idle */
  ingestRate: number;
  scrapes: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  bytes: number;
  /** the load run that ingested meanwhile */
  load: LoadResult | null;
}

export interface E2eResult {
  date: string;
  node: string;
  cpu: string;
  shards: number;
  transport: string;
  rounds: number;
  references: (RefResult & { round: number })[];
  throughput: (Throughput & { round: number })[];
  memory: { series: number; rss: number }[];
  residentPerSubMetric: number | null;
  /** the same on another server, each RSS read after AT_REST_MS idle (V8's memory reducer has run) */
  memoryAtRest: { series: number; rss: number }[];
  residentPerSubMetricAtRest: number | null;
  scrapes: ScrapeRun[];
  /** template-string build of the same series lines, ms (median of 5) */
  template: { series: number; ms: number }[];
  /** median over rounds */
  ratios: Record<string, number>;
  roundRatios: Record<string, number[]>;
}

export interface E2eOptions {
  shards: number;
  /** rounds of (references, load runs) */
  rounds: number;
  seconds: number;
  scrapeSeconds: number;
  series: number[];
  transports: ('http' | 'ws')[];
  nativeFree: boolean;
  /** skip the scrape and memory phases (CI) */
  throughputOnly: boolean;
  log: (s: string) => void;
}

async function throughput(server: TallydServer, transport: 'http' | 'ws', seconds: number): Promise<Throughput> {
  const c0 = server.cpuSeconds();
  const t0 = performance.now();
  const load = await runLoad({ url: server.url, transport, seconds });
  const wall = (performance.now() - t0) / 1000;
  const cpu = server.cpuSeconds() - c0;
  if (load.errors > 0) throw new Error(`tallyd load ${transport}: ${load.errors} failed batches: ${String(load.raw.first_error)}`);
  return { transport, load, serverCores: cpu / wall, serverCpuUsPerEvent: (cpu * 1e6) / Math.max(1, load.accepted) };
}

/** scrapes back to back while `tallyd load` ingests at `rate` for `seconds` */
async function scrapeUnderLoad(server: TallydServer, rate: number, seconds: number): Promise<ScrapeRun> {
  const loading = rate > 0 ? runLoad({ url: server.url, transport: 'http', seconds, rate }) : null;
  if (loading !== null) await sleep(1000);
  const lat: number[] = [];
  let bytes = 0;
  const end = performance.now() + (loading !== null ? (seconds - 2) * 1000 : seconds * 1000);
  while (performance.now() < end || lat.length < 3) {
    const r = await server.scrape(true);
    if (r.status !== 200) throw new Error(`GET /metrics answered ${r.status}`);
    lat.push(r.ms);
    bytes = r.body.length;
    if (lat.length >= 3 && performance.now() >= end) break;
  }
  const load = loading === null ? null : await loading;
  return { series: server.series, ingestRate: rate, scrapes: lat.length, p50Ms: percentile(lat, 50), p99Ms: percentile(lat, 99), maxMs: Math.max(...lat), bytes, load };
}

function templateMs(series: number): number {
  const arrays = syntheticSeries(series);
  const times: number[] = [];
  for (let i = 0; i < 6; i++) {
    const t0 = performance.now();
    const s = templateLines(arrays);
    times.push(performance.now() - t0);
    if (s.length === 0) throw new Error('empty');
  }
  return median(times.slice(1));
}

/** idle time before an at-rest RSS: past V8's memory reducer (it starts 8 s after allocation slows) */
const AT_REST_MS = 12_000;

/**
 * Resident memory per sparse sub-metric, on a server of its own: RSS after
 * the same warm-up load as the throughput server, then after each prefill,
 * with nothing else in between (a scrape in between would add the heap it
 * grew to the figure), `settleMs` after it. The growth from the first
 * prefill to the last, divided by the series added.
 */
async function memoryRun(o: E2eOptions, settleMs: number, out: { series: number; rss: number }[]): Promise<number | null> {
  o.log(`tallyd serve --shards ${o.shards} (memory, RSS ${settleMs} ms after each step)`);
  const server = await TallydServer.start(o.shards, 10 * 60 * 1000, o.nativeFree);
  try {
    await runLoad({ url: server.url, transport: 'http', seconds: 2 });
    await sleep(settleMs);
    out.push({ series: 0, rss: server.rss() });
    for (const n of o.series) {
      o.log(`prefill: ${n} series (3 values each), then RSS`);
      await server.prefill(n);
      await sleep(settleMs);
      out.push({ series: n, rss: server.rss() });
    }
  } finally {
    await server.stop();
    closeClient();
  }
  const a = out[1];
  const b = out[out.length - 1];
  return a !== undefined && b !== undefined && b.series > a.series ? (b.rss - a.rss) / (b.series - a.series) : null;
}

/**
 * Two figures, each on a server of its own: RSS read 0.5 s after each step
 * (the headline: what a busy server holds, garbage not yet collected
 * included), and read at rest, AT_REST_MS after each step (what an idle
 * server settles to once V8 has shrunk its heaps).
 */
async function measureMemory(o: E2eOptions, result: E2eResult): Promise<void> {
  result.residentPerSubMetric = await memoryRun(o, 500, result.memory);
  result.residentPerSubMetricAtRest = await memoryRun(o, AT_REST_MS, result.memoryAtRest);
}

export async function runE2e(o: E2eOptions): Promise<E2eResult> {
  if (!loadAvailable()) throw new Error('`tallyd load` is not built (dist/src/cli/load.js): run npm run build once src/cli/load.ts is in');
  const refOpts = { users: 1000, seed: 1, pool: 64 };
  const result: E2eResult = {
    date: new Date().toISOString(),
    node: NODE,
    cpu: CPU,
    shards: o.shards,
    transport: o.nativeFree ? 'node:http + ws (native-free)' : 'uWebSockets.js',
    rounds: o.rounds,
    references: [],
    throughput: [],
    memory: [],
    residentPerSubMetric: null,
    memoryAtRest: [],
    residentPerSubMetricAtRest: null,
    scrapes: [],
    template: [],
    ratios: {},
    roundRatios: {},
  };
  const refSeconds = Math.max(2, Math.min(4, o.seconds / 2));
  const refKinds = o.throughputOnly ? (['naive'] as const) : (['naive', 'prom', 'engine'] as const);

  o.log(`tallyd serve --shards ${o.shards}`);
  const server = await TallydServer.start(o.shards, 30 * 60 * 1000, o.nativeFree);
  try {
    o.log('warm-up: tallyd load 2 s');
    await runLoad({ url: server.url, transport: 'http', seconds: 2 });
    // references and server runs alternate, so each ratio compares runs made under the same noise
    for (let round = 1; round <= o.rounds; round++) {
      for (const k of refKinds) {
        o.log(`round ${round}: reference ${k} (${refSeconds} s, one thread; the server idles)`);
        result.references.push({ ...(await referenceInChild(k, refSeconds, refOpts)), round });
      }
      for (const t of o.transports) {
        o.log(`round ${round}: tallyd load --transport ${t} --duration ${o.seconds}`);
        result.throughput.push({ ...(await throughput(server, t, o.seconds)), round });
      }
    }
    if (!o.throughputOnly) {
      const http = median(result.throughput.filter((x) => x.transport === 'http').map((x) => x.load.acceptedPerSec));
      const half = Math.round((Number.isFinite(http) ? http : 100_000) / 2);
      for (const n of o.series) {
        o.log(`prefill: ${n} series (3 values each)`);
        await server.prefill(n);
        o.log(`scrape /metrics at ${n} series while ingesting ${si(half)} events/s (${o.scrapeSeconds} s)`);
        result.scrapes.push(await scrapeUnderLoad(server, half, o.scrapeSeconds));
        result.template.push({ series: n, ms: templateMs(n) });
      }
      const last = o.series[o.series.length - 1];
      if (last !== undefined) {
        o.log(`scrape /metrics at ${last} series, idle (${Math.min(8, o.scrapeSeconds)} s)`);
        result.scrapes.push(await scrapeUnderLoad(server, 0, Math.min(8, o.scrapeSeconds)));
      }
    }
  } finally {
    o.log('stopping tallyd serve');
    await server.stop();
    closeClient();
  }
  if (!o.throughputOnly) await measureMemory(o, result);
  computeRatios(result);
  return result;
}

function refOf(r: E2eResult, kind: string, round: number): number {
  return r.references.find((x) => x.kind === kind && x.round === round)?.eventsPerSec ?? Number.NaN;
}

/** per-round ratios (runs of the same round, back to back) and their medians */
export function computeRatios(r: E2eResult): void {
  const add = (name: string, v: number): void => {
    if (!Number.isFinite(v)) return;
    (r.roundRatios[name] ??= []).push(v);
  };
  for (let round = 1; round <= r.rounds; round++) {
    const naive = refOf(r, 'naive', round);
    for (const t of r.throughput.filter((x) => x.round === round)) {
      add(`e2e ${t.transport} ${r.shards} shards / naive loop one thread (events/s)`, t.load.acceptedPerSec / naive);
    }
    add('prom-client observe ns/event / tallyd Engine ns/event (one thread each)', refOf(r, 'engine', round) / refOf(r, 'prom', round));
  }
  const idle = r.scrapes.find((s) => s.ingestRate === 0);
  const tpl = r.template.find((t) => t.series === idle?.series);
  if (idle !== undefined && tpl !== undefined) add(`idle OpenMetrics scrape p50 / template lines, ${idle.series} series`, idle.p50Ms / tpl.ms);
  if (r.residentPerSubMetric !== null) add('resident bytes per sparse sub-metric / 1024', r.residentPerSubMetric / 1024);
  for (const [k, v] of Object.entries(r.roundRatios)) r.ratios[k] = median(v);
}

export function formatE2e(r: E2eResult): string {
  const L: string[] = [];
  L.push(`node ${r.node}, ${r.cpu}, ${r.date}, ${r.shards} shards, ${r.transport}`, '');
  L.push('| measurement | value |', '| --- | ---: |');
  for (const t of r.throughput) {
    L.push(`| round ${t.round}, ${t.transport}: accepted events/s (tallyd load, ${t.load.elapsedS.toFixed(1)} s) | ${si(t.load.acceptedPerSec)} |`);
    L.push(`| round ${t.round}, ${t.transport}: ack latency p50 / p99 (ms) | ${t.load.ackP50Ms.toFixed(2)} / ${t.load.ackP99Ms.toFixed(2)} |`);
    L.push(`| round ${t.round}, ${t.transport}: busy refusals / server CPU, cores / µs per accepted event | ${t.load.busy} / ${t.serverCores.toFixed(2)} / ${t.serverCpuUsPerEvent.toFixed(2)} |`);
  }
  for (const s of r.scrapes) {
    const during = s.ingestRate > 0 ? `while ingesting ${si(s.ingestRate)} ev/s (got ${si(s.load?.acceptedPerSec ?? 0)}, ack p99 ${(s.load?.ackP99Ms ?? 0).toFixed(1)} ms)` : 'idle';
    L.push(`| scrape /metrics OpenMetrics, ${si(s.series)} series, ${during}: p50 / p99 ms (n=${s.scrapes}, ${(s.bytes / 1e6).toFixed(1)} MB) | ${s.p50Ms.toFixed(1)} / ${s.p99Ms.toFixed(1)} |`);
  }
  for (const t of r.template) L.push(`| template-string build of the same series lines, ${si(t.series)} series (ms) | ${t.ms.toFixed(1)} |`);
  for (const m of r.memory) L.push(`| server RSS after ${si(m.series)} series (MB) | ${(m.rss / 1e6).toFixed(1)} |`);
  if (r.residentPerSubMetric !== null) L.push(`| resident bytes per sparse sub-metric (RSS growth / series) | ${r.residentPerSubMetric.toFixed(0)} |`);
  for (const m of r.memoryAtRest) L.push(`| server RSS at rest (${AT_REST_MS / 1000} s idle) after ${si(m.series)} series (MB) | ${(m.rss / 1e6).toFixed(1)} |`);
  if (r.residentPerSubMetricAtRest !== null) L.push(`| resident bytes per sparse sub-metric at rest (RSS growth / series, another server) | ${r.residentPerSubMetricAtRest.toFixed(0)} |`);
  for (const x of r.references) L.push(`| round ${x.round}, reference ${x.kind}, one thread: events/s (ns/event) | ${si(x.eventsPerSec)} (${x.nsPerEvent.toFixed(0)}) |`);
  L.push('', '| ratio (same run; median of rounds) | median | rounds |', '| --- | ---: | --- |');
  for (const [k, v] of Object.entries(r.ratios)) L.push(`| ${k} | ${v.toFixed(2)} | ${(r.roundRatios[k] ?? []).map((x) => x.toFixed(2)).join(', ')} |`);
  return L.join('\n');
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      shards: { type: 'string', default: '2' },
      rounds: { type: 'string', default: '3' },
      seconds: { type: 'string', default: '8' },
      'scrape-seconds': { type: 'string', default: '15' },
      series: { type: 'string', default: '10000,100000' },
      transports: { type: 'string', default: 'http,ws' },
      'native-free': { type: 'boolean', default: false },
      'throughput-only': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write('usage: npm run bench:e2e -- [--shards 2] [--rounds 3] [--seconds 8] [--scrape-seconds 15] [--series 10000,100000] [--transports http,ws] [--native-free] [--throughput-only] [--json] [--out FILE]\n');
    return 0;
  }
  const transports = values.transports.split(',').map((t) => t.trim());
  for (const t of transports) if (t !== 'http' && t !== 'ws') throw new Error(`--transports: http or ws, not ${t}`);
  const series = values.series.split(',').map(Number).sort((a, b) => a - b);
  if (series.some((n) => !(n > 0))) throw new Error('--series: positive counts');
  const r = await runE2e({
    shards: Number(values.shards),
    rounds: Number(values.rounds),
    seconds: Number(values.seconds),
    scrapeSeconds: Number(values['scrape-seconds']),
    series,
    transports: transports as ('http' | 'ws')[],
    nativeFree: values['native-free'],
    throughputOnly: values['throughput-only'],
    log: (s) => process.stderr.write(`e2e: ${s}\n`),
  });
  process.stdout.write(values.json ? `${JSON.stringify(r)}\n` : `${formatE2e(r)}\n`);
  if (values.out !== undefined) writeFileSync(values.out, `${JSON.stringify(r, null, 2)}\n`);
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // a hard bound on the whole run
  const guard = setTimeout(() => {
    process.stderr.write('e2e: 30-minute limit reached; stopping\n');
    killAll();
    process.exit(1);
  }, 30 * 60 * 1000);
  guard.unref();
  process.on('SIGINT', () => {
    killAll();
    process.exit(130);
  });
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`e2e: ${(e as Error).stack ?? String(e)}\n`);
      killAll();
      process.exitCode = 1;
    },
  );
}
