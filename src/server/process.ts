/**
 * The process metrics Prometheus users expect from a Node.js service
 * (`process_cpu_seconds_total`, `process_resident_memory_bytes`,
 * `nodejs_eventloop_lag_seconds`, `nodejs_heap_size_used_bytes`, ...),
 * measured by prom-client's default collectors on a private registry and
 * handed to the exporters as self-metric families under their usual names.
 */
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { SelfFamily } from '../export/index.js';

/**
 * Left out: the start time (every export prints its own
 * `process_start_time_seconds`), histograms (the GC durations), and the
 * gauges named `..._total` (sums of their labelled twins, and a gauge named
 * like a counter's sample).
 */
function wanted(name: string, type: string): boolean {
  if (type !== 'counter' && type !== 'gauge') return false;
  if (name === 'process_start_time_seconds') return false;
  return type === 'counter' || !name.endsWith('_total');
}

let registry: Registry | null = null;

/** Starts the collectors (once per process; the event loop delay is sampled from then on). */
export function startProcessMetrics(): void {
  if (registry !== null) return;
  registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
}

/** The process families now; [] before `startProcessMetrics`. */
export async function processFamilies(): Promise<SelfFamily[]> {
  if (registry === null) return [];
  const out: SelfFamily[] = [];
  for (const m of await registry.getMetricsAsJSON()) {
    const type = String(m.type);
    if (!wanted(m.name, type)) continue;
    out.push({
      name: m.name,
      help: m.help.replace(/\.$/, ''),
      type: type as 'counter' | 'gauge',
      samples: (m.values ?? []).map((v) => ({
        labels: Object.fromEntries(Object.entries(v.labels ?? {}).map(([k, x]) => [k, String(x)])),
        value: v.value,
      })),
    });
  }
  return out;
}
