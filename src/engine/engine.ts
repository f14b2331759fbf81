/**
 * The single-threaded aggregation engine: events in, snapshots out. Each
 * shard worker runs one; `tallyd aggregate` runs one over files.
 */
import type { SnapshotDepth } from '../aggregate/types.js';
import type { MetricDef, ResolvedConfig, Settings } from '../config/types.js';
import { ConfigError, TallydError } from '../errors.js';
import { BrokenLine, frameBatch, type BatchFormat } from '../event/decode.js';
import { newEvent, type TallyEvent } from '../event/types.js';
import { lastRejectDetail, loadEvent, REJECT_REASONS, R_INVALID_JSON, R_OK } from '../event/validate.js';
import { Metric } from '../metrics/metric.js';
import type { EngineCounters, EngineSnapshot, NodeSnapshot } from '../metrics/types.js';

/** At most this many per-event errors are reported per batch (SPEC 6). */
export const MAX_REPORTED_ERRORS = 10;

export interface EventError {
  index: number;
  reason: string;
}

export interface IngestResult {
  accepted: number;
  rejected: number;
  errors: EventError[];
}

/** What a shard recorded since its last delta (SPEC 6): shipped to the main thread. */
export interface MetricDelta {
  id: number;
  root: NodeSnapshot | null;
  /** events routed to overflow children since the last delta */
  overflow: number;
}

export interface EngineDelta {
  metrics: MetricDelta[];
  counters: EngineCounters;
}

/** A metric definition with the id the runtime gave it (ids tell a re-added name apart). */
export interface IdentifiedMetric {
  id: number;
  def: MetricDef;
}

export function newCounters(): EngineCounters {
  return {
    eventsReceived: 0,
    eventsAccepted: 0,
    eventsRejected: {},
    eventsLost: 0,
    batches: 0,
    bytes: 0,
    negativeValues: 0,
  };
}

export class Engine {
  private readonly settings: Pick<Settings, 'dovecotCompat' | 'maxSubMetrics'>;
  private metrics: Metric[];
  private readonly ev: TallyEvent;
  counters: EngineCounters;
  private nextId: number;
  /** sequence of the last batch (orders first sight of sub-metrics) */
  private seq: number;

  /**
   * `identified`, when given, replaces config.metrics: the runtime passes the
   * metrics with the ids it gave them.
   */
  constructor(
    config: Pick<ResolvedConfig, 'metrics'> & { settings: Pick<Settings, 'dovecotCompat' | 'maxSubMetrics'> },
    identified?: readonly IdentifiedMetric[],
  ) {
    this.settings = { dovecotCompat: config.settings.dovecotCompat, maxSubMetrics: config.settings.maxSubMetrics };
    const list = identified ?? config.metrics.map((def, i) => ({ id: i + 1, def }));
    this.nextId = list.reduce((m, x) => Math.max(m, x.id), 0) + 1;
    this.metrics = list.map((x) => this.compile(x.def, x.id));
    this.ev = newEvent();
    this.counters = newCounters();
    this.seq = 0;
  }

  private compile(def: MetricDef, id: number): Metric {
    return new Metric(def, id, { compat: this.settings.dovecotCompat, maxSubMetrics: this.settings.maxSubMetrics });
  }

  hasMetricId(id: number): boolean {
    return this.metrics.some((m) => m.id === id);
  }

  get metricNames(): string[] {
    return this.metrics.map((m) => m.def.name);
  }

  /**
   * Ingests one framed batch. `seq` (optional) is the batch's global accept
   * order; by default the engine counts batches itself.
   */
  ingest(events: readonly unknown[], seq?: number): IngestResult {
    this.seq = seq ?? this.seq + 1;
    const c = this.counters;
    c.batches++;
    const errors: EventError[] = [];
    let accepted = 0;
    let rejected = 0;
    const ev = this.ev;
    const metrics = this.metrics;
    for (let i = 0; i < events.length; i++) {
      const raw = events[i];
      const code = raw instanceof BrokenLine ? R_INVALID_JSON : loadEvent(raw, ev);
      if (code !== R_OK) {
        rejected++;
        const reason = REJECT_REASONS[code] as string;
        c.eventsRejected[reason] = (c.eventsRejected[reason] ?? 0) + 1;
        if (errors.length < MAX_REPORTED_ERRORS) {
          errors.push({
            index: i,
            reason: raw instanceof BrokenLine ? `invalid_json: ${raw.message}` : lastRejectDetail,
          });
        }
        continue;
      }
      accepted++;
      if (ev.negative) c.negativeValues++;
      for (let m = 0; m < metrics.length; m++) {
        const metric = metrics[m] as Metric;
        if (metric.filter.match(ev)) metric.record(ev, this.seq);
      }
    }
    c.eventsReceived += events.length;
    c.eventsAccepted += accepted;
    ev.fields = undefined;
    ev.categories = undefined;
    return { accepted, rejected, errors };
  }

  /** Frames and ingests raw bytes; throws FramingError when they cannot be framed. */
  ingestBytes(bytes: Uint8Array, format: BatchFormat, seq?: number): IngestResult {
    const events = frameBatch(bytes, format);
    this.counters.bytes += bytes.length;
    return this.ingest(events, seq);
  }

  snapshot(depth: SnapshotDepth): EngineSnapshot {
    const c = this.counters;
    return {
      metrics: this.metrics.map((m) => m.snapshot(depth)),
      counters: { ...c, eventsRejected: { ...c.eventsRejected } },
    };
  }

  /** Zeroes every figure; sub-metrics are kept (SPEC 5.2). */
  reset(): void {
    for (const m of this.metrics) m.reset();
  }

  /** Zeroes every figure and returns, per metric, what was recorded since the last delta. */
  takeDelta(): EngineDelta {
    const metrics: MetricDelta[] = [];
    for (const m of this.metrics) {
      const root = m.takeDelta();
      const overflow = m.takeOverflow();
      if (root !== null || overflow !== 0) metrics.push({ id: m.id, root, overflow });
    }
    const counters = this.counters;
    this.counters = newCounters();
    return { metrics, counters };
  }

  addMetric(def: MetricDef, id?: number): void {
    if (this.metrics.some((m) => m.def.name === def.name)) {
      throw new ConfigError('ERR_CONFIG_DUPLICATE', { file: '<request>', line: 1, col: 1 }, 'Metric already exists');
    }
    const mid = id ?? this.nextId;
    this.nextId = Math.max(this.nextId, mid + 1);
    this.metrics.push(this.compile(def, mid));
  }

  /** Removes the metric with that id, if there is one. */
  removeMetricId(id: number): void {
    this.metrics = this.metrics.filter((m) => m.id !== id);
  }

  removeMetric(name: string): void {
    const i = this.metrics.findIndex((m) => m.def.name === name);
    if (i === -1) throw new TallydError('ERR_METRIC_NOT_FOUND', `metrics '${name}' not found`);
    this.metrics.splice(i, 1);
  }
}
