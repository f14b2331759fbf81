/**
 * The remote_write blocks of the running config: one RemoteWriter each, their
 * self-metrics, a reload that keeps unchanged blocks and replaces changed
 * ones, and the final push after the drain.
 */
import type { Logger } from 'pino';
import type { RemoteWriteDef, ResolvedConfig } from '../config/types.js';
import type { MetricsOptions, SelfFamily } from '../export/types.js';
import type { EngineSnapshot } from '../metrics/types.js';
import { loadSnappy } from './encode.js';
import { seriesOf, type TimeSeries } from './series.js';
import { DROP_REASONS, RemoteWriter } from './writer.js';

export interface RemoteSources {
  /** a merged snapshot rendered by `f` (Runtime.snapshot) */
  snapshot<T>(f: (snap: EngineSnapshot) => T): Promise<T>;
  /** the export options with every self-metric family */
  options(): Promise<MetricsOptions>;
  version: string;
  logger?: Logger;
}

type External = readonly (readonly [string, string])[];

function sameDef(a: RemoteWriteDef, b: RemoteWriteDef): boolean {
  return a.url === b.url && a.intervalMs === b.intervalMs && a.timeoutMs === b.timeoutMs && a.bearerToken === b.bearerToken;
}

export class RemoteWriters {
  private writers: RemoteWriter[] = [];
  /** writers replaced by a reload: their counters stay in the self-metrics */
  private readonly retired: RemoteWriter[] = [];
  private external: External = [];
  private readonly src: RemoteSources;

  constructor(src: RemoteSources) {
    this.src = src;
  }

  /** Starts, keeps or replaces writers to match `config` (start and every reload). */
  apply(config: ResolvedConfig): void {
    const defs = config.remoteWrite ?? [];
    if (defs.length > 0) loadSnappy();
    this.external = config.externalLabels ?? [];
    const next: RemoteWriter[] = [];
    for (const d of defs) {
      const cur = this.writers.find((w) => w.def.name === d.name);
      if (cur !== undefined && sameDef(cur.def, d)) {
        next.push(cur);
        continue;
      }
      const w = new RemoteWriter(d, { version: this.src.version, ...(this.src.logger !== undefined ? { logger: this.src.logger } : {}) });
      w.start(() => this.collect());
      next.push(w);
      this.src.logger?.info({ remoteWrite: d.name, url: d.url, intervalMs: d.intervalMs }, 'remote_write started');
    }
    for (const w of this.writers) {
      if (next.includes(w)) continue;
      this.retired.push(w);
      void w.stop(null, 0);
    }
    this.writers = next;
  }

  get size(): number {
    return this.writers.length;
  }

  private async collect(): Promise<TimeSeries[]> {
    const opts = await this.src.options();
    const external = this.external;
    return this.src.snapshot((snap) => seriesOf(snap, opts, external, Date.now()));
  }

  /**
   * The final push: `options` are taken before the drain, the series from
   * the drained snapshot (`prepare`, called inside the final render), then
   * `finish` sends them, each writer waiting at most its `timeout`.
   */
  async options(): Promise<MetricsOptions | null> {
    return this.writers.length === 0 ? null : this.src.options();
  }

  finalSeries(snap: EngineSnapshot, opts: MetricsOptions | null): TimeSeries[] | null {
    return opts === null ? null : seriesOf(snap, opts, this.external, Date.now());
  }

  async finish(final: TimeSeries[] | null): Promise<void> {
    await Promise.all(this.writers.map((w) => w.stop(final, w.def.timeoutMs)));
  }

  families(): SelfFamily[] {
    const all = [...this.writers, ...this.retired];
    if (all.length === 0) return [];
    const by = (f: (w: RemoteWriter) => number) => {
      const sums = new Map<string, number>();
      for (const w of all) sums.set(w.def.name, (sums.get(w.def.name) ?? 0) + f(w));
      return [...sums].map(([name, value]) => ({ labels: { remote: name }, value }));
    };
    return [
      { name: 'tallyd_remote_write_samples_sent_total', help: 'Samples the remote_write receiver took (a native histogram counts as one)', type: 'counter', samples: by((w) => w.samplesSent) },
      { name: 'tallyd_remote_write_samples_failed_total', help: 'Samples in remote writes that failed (5xx, 429, network, timeout) and were queued again', type: 'counter', samples: by((w) => w.samplesFailed) },
      { name: 'tallyd_remote_write_samples_retried_total', help: 'Samples sent again after a failed remote write', type: 'counter', samples: by((w) => w.samplesRetried) },
      {
        name: 'tallyd_remote_write_samples_dropped_total',
        help: 'Samples given up: rejected (a 4xx answer) or queue_full (the oldest queued write, or what was left at shutdown)',
        type: 'counter',
        samples: DROP_REASONS.flatMap((reason) => by((w) => w.samplesDropped[reason]).map((s) => ({ labels: { ...s.labels, reason }, value: s.value }))),
      },
      { name: 'tallyd_remote_write_requests_total', help: 'Remote-write HTTP requests made, retries included', type: 'counter', samples: by((w) => w.requests) },
      { name: 'tallyd_remote_write_queue_length', help: 'Remote writes waiting to be sent', type: 'gauge', samples: this.writers.map((w) => ({ labels: { remote: w.def.name }, value: w.queueLength })) },
      {
        name: 'tallyd_remote_write_last_success_timestamp_seconds',
        help: 'When the receiver last took a write, 0 never',
        type: 'gauge',
        samples: this.writers.map((w) => ({ labels: { remote: w.def.name }, value: w.lastSuccessSeconds })),
      },
    ];
  }
}
