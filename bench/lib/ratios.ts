/**
 * The ratio benchmarks the CI guard runs: each pits tallyd against its
 * reference side by side in one process, in alternating rounds, so both
 * sides see the same noise; the verdict is the median of the per-round
 * ratios. Every ratio is "higher is better".
 */
import { Bench } from 'tinybench';
import { parseConfigText } from '../../src/config/index.js';
import { Engine } from '../../src/engine/engine.js';
import { FORMAT_MSGPACK, frameBatch } from '../../src/event/decode.js';
import { renderExport } from '../../src/export/index.js';
import { metricBlocks } from '../dovecot/metrics.js';
import { buildWorkload } from '../dovecot/workload.js';
import { mailBatches, packBatch } from '../fixtures/mail.js';
import { seriesArraysOf, templateLines } from '../fixtures/template.js';
import { pipelineTasks } from '../suites/record.js';
import { RENDER_OPTS, seriesState } from '../suites/render.js';
import { subMetricMemory } from '../suites/memory.js';
import { median } from './report.js';

export interface RatioResult {
  /** median of the rounds */
  value: number;
  rounds: number[];
  /** what the two sides measured (medians), for the report */
  detail: string;
}

function p50(bench: Bench, name: string): number {
  const r = bench.getTask(name)?.result;
  if (r === undefined || (r.state !== 'completed' && r.state !== 'aborted-with-statistics')) throw new Error(`${name}: ${r?.state ?? 'missing'}`);
  return r.latency.p50;
}

/** prom-client observe time per event ÷ tallyd Engine.ingestBytes time per event (≥ 1: tallyd costs no more) */
export async function promOverTallyd(rounds: number, timeMs: number): Promise<RatioResult> {
  const raw = mailBatches(16, 1000, 7);
  const batches = raw.map(packBatch);
  const fns = new Map<string, () => unknown>();
  pipelineTasks((name, fn) => fns.set(name, fn), batches, raw);
  const tallyd = [...fns.keys()].find((k) => k.startsWith('tallyd Engine.ingestBytes')) as string;
  const prom = [...fns.keys()].find((k) => k.startsWith('reference: prom-client')) as string;
  const out: number[] = [];
  const t: number[] = [];
  const p: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const bench = new Bench({ time: timeMs, warmupTime: 100, iterations: 8, throws: true });
    // alternate which side goes first
    const order = r % 2 === 0 ? [tallyd, prom] : [prom, tallyd];
    for (const name of order) bench.add(name, fns.get(name) as () => unknown);
    await bench.run();
    t.push(p50(bench, tallyd) * 1000);
    p.push(p50(bench, prom) * 1000);
    out.push(p50(bench, prom) / p50(bench, tallyd));
  }
  return {
    value: median(out),
    rounds: out,
    detail: `tallyd ${median(t).toFixed(0)} ns/event (decode+validate+filter+group+record), prom-client ${median(p).toFixed(0)} ns/event (observe only)`,
  };
}

/** template-string build ÷ renderExport('openmetrics') of the same series (≥ 1/3: rendering takes ≤ 3× the floor) */
export function templateOverOpenMetrics(series: number, rounds: number): RatioResult {
  const view = seriesState(series).view();
  const arrays = seriesArraysOf(view);
  const time = (fn: () => string): number => {
    const t0 = performance.now();
    const s = fn();
    const ms = performance.now() - t0;
    if (s.length === 0) throw new Error('empty');
    return ms;
  };
  const tpl = (): string => templateLines(arrays);
  const om = (): string => renderExport('openmetrics', view, RENDER_OPTS);
  time(tpl);
  time(om);
  const [a, b] = alternating(rounds, () => time(tpl), () => time(om));
  const out = a.map((x, i) => x / (b[i] as number));
  return {
    value: median(out),
    rounds: out,
    detail: `${series} series: template ${median(a).toFixed(1)} ms, openmetrics ${median(b).toFixed(1)} ms (${(median(b) / median(a)).toFixed(2)}x)`,
  };
}

/** 1 KiB ÷ heap bytes per sparse sub-metric, shard tree + main accumulator (≥ 1: within budget) */
export function budgetOverSubMetricBytes(series: number, rounds: number): RatioResult {
  const out: number[] = [];
  const bytes: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const m = subMetricMemory(series);
    bytes.push(m.shard + m.main);
    out.push(1024 / (m.shard + m.main));
  }
  return { value: median(out), rounds: out, detail: `${median(bytes).toFixed(0)} B per sparse sub-metric (heap, shard + main, ${series} sub-metrics)` };
}

/** `rounds` measurements of each side, the first going first in even rounds and second in odd ones */
function alternating(rounds: number, first: () => number, second: () => number): [number[], number[]] {
  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) {
      a.push(first());
      b.push(second());
    } else {
      b.push(second());
      a.push(first());
    }
  }
  return [a, b];
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * Engine over Dovecot exporter-shaped msgpack batches (bench/dovecot's
 * events, the three metrics of bench:dovecot): the msgpackr path
 * (frameBatch + loadEvent + object fields) CPU per event ÷ the on-demand
 * decoder's (≥ 1: the scanner is that many times cheaper), alternating rounds.
 */
export function scanOverMsgpackr(rounds: number, events: number): RatioResult {
  const w = buildWorkload({ events, seed: 3, connections: 1, batchSize: 1000, writer: false, http: true });
  const config = parseConfigText(metricBlocks(), '<bench:dovecot metrics>');
  const scan = (): number => {
    const e = new Engine(config);
    const t0 = cpuMs();
    for (const b of w.batches) e.ingestMsgpack(b);
    return ((cpuMs() - t0) * 1e6) / w.events;
  };
  const unpack = (): number => {
    const e = new Engine(config);
    const t0 = cpuMs();
    for (const b of w.batches) e.ingest(frameBatch(b, FORMAT_MSGPACK, { plain: true }));
    return ((cpuMs() - t0) * 1e6) / w.events;
  };
  scan();
  unpack();
  const [a, b] = alternating(rounds, scan, unpack);
  const out = b.map((y, i) => y / (a[i] as number));
  const perSec = (ns: number): string => `${Math.round(1e9 / ns / 1000)}k`;
  return {
    value: median(out),
    rounds: out,
    detail: `on-demand ${median(a).toFixed(0)} ns/event (${perSec(median(a))} events/CPU-s), msgpackr path ${median(b).toFixed(0)} ns/event (${perSec(median(b))}), one thread`,
  };
}
