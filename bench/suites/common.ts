/** What every micro suite gets from the runner. */
import { Bench } from 'tinybench';

export interface SuiteOptions {
  /** time budget per task, ms */
  time: number;
  /** fewer sizes and shorter runs (CI) */
  quick: boolean;
}

export function newBench(
  opts: SuiteOptions,
  name: string,
  over: { time?: number; iterations?: number; warmupIterations?: number } = {},
): Bench {
  return new Bench({
    name,
    time: over.time ?? opts.time,
    warmupTime: Math.min(500, (over.time ?? opts.time) / 2),
    iterations: over.iterations ?? 16,
    warmupIterations: over.warmupIterations ?? Math.min(16, over.iterations ?? 16),
    throws: true,
  });
}

/** keeps results alive so the JIT cannot drop the work */
export let sink: unknown = null;
export function keep(v: unknown): void {
  sink = v;
}
