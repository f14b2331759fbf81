/**
 * Results of the micro suites: one row per tinybench task (or per custom
 * measurement), printed as a table or as JSON lines.
 */
import { cpus } from 'node:os';
import type { Bench, Task } from 'tinybench';

export interface Row {
  suite: string;
  name: string;
  /** tinybench throughput.mean: task calls per second */
  opsPerSec: number;
  /** items (events, batches, series…) one call handles */
  itemsPerOp: number;
  /** unit of the items */
  unit: string;
  /** opsPerSec × itemsPerOp */
  itemsPerSec: number;
  /** latency of one call, ms */
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** relative margin of error of the latency mean, % */
  rme: number;
  samples: number;
  node: string;
  cpu: string;
}

/** A measured figure that is not a timing (memory, a ratio). */
export interface ValueRow {
  suite: string;
  name: string;
  value: number;
  unit: string;
  node: string;
  cpu: string;
}

export type AnyRow = Row | ValueRow;

export function isValueRow(r: AnyRow): r is ValueRow {
  return 'value' in r;
}

export function valueRow(suite: string, name: string, value: number, unit: string): ValueRow {
  return { suite, name, value, unit, node: NODE, cpu: CPU };
}

/**
 * A ratio of two tasks of the same run: time per item of the task named
 * `slow…` ÷ time per item of `fast…` (from the latency medians).
 */
export function ratioRow(suite: string, name: string, rows: readonly Row[], slow: string, fast: string): ValueRow {
  const a = rows.find((r) => r.name.startsWith(slow));
  const b = rows.find((r) => r.name.startsWith(fast));
  if (a === undefined || b === undefined) throw new Error(`ratio ${name}: no task ${a === undefined ? slow : fast}`);
  return valueRow(suite, name, a.latencyP50Ms / a.itemsPerOp / (b.latencyP50Ms / b.itemsPerOp), 'x (p50 time per item)');
}

export const NODE = process.version;
export const CPU = cpus()[0]?.model.trim() ?? 'unknown';

/** items handled per call, by task name (tasks not listed handle 1 `op`) */
export interface TaskMeta {
  itemsPerOp: number;
  unit: string;
}

const meta = new WeakMap<Task, TaskMeta>();

/** Adds a task that handles `itemsPerOp` items of `unit` per call. */
export function addTask(bench: Bench, name: string, fn: () => unknown, itemsPerOp = 1, unit = 'op'): void {
  bench.add(name, fn);
  const t = bench.getTask(name);
  if (t !== undefined) meta.set(t, { itemsPerOp, unit });
}

export function rowsOf(suite: string, bench: Bench): Row[] {
  const rows: Row[] = [];
  for (const t of bench.tasks) {
    const r = t.result;
    const m = meta.get(t) ?? { itemsPerOp: 1, unit: 'op' };
    if (r.state === 'errored') throw new Error(`${suite} / ${t.name}: ${r.error.stack ?? r.error.message}`);
    if (r.state !== 'completed' && r.state !== 'aborted-with-statistics') {
      throw new Error(`${suite} / ${t.name}: ${r.state}`);
    }
    rows.push({
      suite,
      name: t.name,
      opsPerSec: r.throughput.mean,
      itemsPerOp: m.itemsPerOp,
      unit: m.unit,
      itemsPerSec: r.throughput.mean * m.itemsPerOp,
      latencyP50Ms: r.latency.p50,
      latencyP99Ms: r.latency.p99,
      rme: r.latency.rme,
      samples: r.latency.samplesCount,
      node: NODE,
      cpu: CPU,
    });
  }
  return rows;
}

export function si(n: number): string {
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (a >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (a >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  if (a >= 10) return n.toFixed(0);
  return n.toPrecision(3);
}

export function ms(x: number): string {
  if (x >= 100) return x.toFixed(0);
  if (x >= 1) return x.toFixed(2);
  if (x >= 0.001) return `${(x * 1000).toFixed(1)}µ`;
  return `${(x * 1e6).toFixed(0)}n`;
}

/** A markdown table of rows. */
export function formatTable(all: readonly AnyRow[]): string {
  const rows = all.filter((r): r is Row => !isValueRow(r));
  const values = all.filter(isValueRow);
  const lines = [
    '| suite | task | ops/s | items/s | latency p50 (ms) | p99 (ms) | rme | samples |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  if (rows.length === 0) lines.length = 0;
  for (const r of rows) {
    const items = r.itemsPerOp === 1 && r.unit === 'op' ? '' : `${si(r.itemsPerSec)} ${r.unit}/s`;
    lines.push(
      `| ${r.suite} | ${r.name} | ${si(r.opsPerSec)} | ${items} | ${ms(r.latencyP50Ms)} | ${ms(r.latencyP99Ms)} | ±${r.rme.toFixed(1)}% | ${r.samples} |`,
    );
  }
  if (values.length > 0) {
    if (lines.length > 0) lines.push('');
    lines.push('| suite | measurement | value | unit |', '| --- | --- | ---: | --- |');
    for (const v of values) lines.push(`| ${v.suite} | ${v.name} | ${fig(v.value)} | ${v.unit} |`);
  }
  return lines.join('\n');
}

function fig(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (Math.abs(x) >= 1e4) return si(x);
  if (Math.abs(x) >= 100) return x.toFixed(0);
  return x.toFixed(2);
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** nearest-rank percentile of unsorted values */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] as number;
}
