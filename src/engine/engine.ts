/**
 * The single-threaded aggregation engine: events in, snapshots out. Each
 * shard worker runs one; `tallyd aggregate` runs one over files.
 */
import type { SnapshotDepth } from '../aggregate/types.js';
import type { MetricDef, ResolvedConfig, Settings } from '../config/types.js';
import { ConfigError, TallydError } from '../errors.js';
import { LINE_EVENT, LINE_EVENT_VALS, LINE_OK, LINE_REJECT, MAX_LINE_BYTES, WriterConnection, type WriterResult } from '../dovecot/index.js';
import { isBeginLine, isEndLine, OpenScanner } from '../dovecot/writer-open.js';
import { SCAN_SLOW } from '../dovecot/writer-bytes.js';
import { isEventLine, WriterScanner } from '../dovecot/writer-scan.js';
import {
  BrokenLine,
  FORMAT_KUMOMTA_JSON,
  FORMAT_KUMOMTA_NDJSON,
  FORMAT_MSGPACK,
  FORMAT_STATS_WRITER,
  FramingError,
  frameBatch,
  STATS_WRITER_HEADER_BYTES,
  unpackOne,
  type BatchFormat,
} from '../event/decode.js';
import { kumoBatch, RejectedRecord } from '../event/kumomta.js';
import { Interner } from '../event/intern.js';
import { lastScanHadExtension, scanMsgpack } from '../event/msgpack.js';
import { FieldSlots, planOf, type IngestPlan } from '../event/plan.js';
import { EventRows } from '../event/rows.js';
import { arrayLen, EventScanner, lastHead, SCAN_BAD, SCAN_OK } from '../event/scan.js';
import { fieldOf, newEvent, type FieldValue, type TallyEvent } from '../event/types.js';
import { lastRejectDetail, loadEvent, REJECT_REASONS, R_INVALID_JSON, R_OK, R_WRITER_BAD_LINE } from '../event/validate.js';
import type { CompiledFilter } from '../filter/index.js';
import { DeltaWriter, type FlatDelta } from '../merge/delta.js';
import { Metric } from '../metrics/metric.js';
import type { EngineCounters, EngineSnapshot, NodeSnapshot } from '../metrics/types.js';

/** At most this many per-event errors are reported per batch (docs/contract.md §6). */
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
  /** the on-demand decoder for the current metric set (rebuilt when it changes) */
  private scanner!: EventScanner;
  private readonly interner: Interner;
  private readonly fieldSlots: FieldSlots;
  /** the distinct filters of the metrics, metric index → its filter, and each filter's answer for this event */
  private filters!: CompiledFilter[];
  private filterOf!: Int32Array;
  private hit!: Uint8Array;
  /** the current ingest plan: its keys and slots are what loadEvent's results are copied into */
  private plan!: IngestPlan;
  private writerScanner!: WriterScanner;
  /** BEGIN and END lines (they read no plan: one for the engine's life) */
  private readonly openScanner: OpenScanner;
  counters: EngineCounters;
  /** msgpack events the on-demand decoder left to msgpackr (off its common path) */
  generalDecodes: number;
  /** msgpack batches that needed scanMsgpack's check before they could be read (the rest: read in one pass) */
  checkedBatches = 0;
  /** stats-writer EVENT lines the fast path handed to the general parser (the rest: read in place) */
  writerGeneralLines = 0;
  writerEventLines = 0;
  /** BEGIN lines, and those of them that went the general way */
  writerBeginLines = 0;
  writerGeneralBegins = 0;
  private nextId: number;
  /** sequence of the last batch (orders first sight of sub-metrics) */
  private seq: number;
  /** stats-writer connections routed to this engine, by connection id */
  private readonly writers: Map<number, WriterConnection>;
  private readonly deltaWriter = new DeltaWriter();
  /** the events of the msgpack batch being ingested (ingestMsgpack) */
  private readonly rows = new EventRows();

  /**
   * `identified`, when given, replaces config.metrics: the runtime passes the
   * metrics with the ids it gave them.
   */
  constructor(
    config: Pick<ResolvedConfig, 'metrics'> & { settings: Pick<Settings, 'dovecotCompat' | 'maxSubMetrics'> },
    identified?: readonly IdentifiedMetric[],
  ) {
    this.settings = { dovecotCompat: config.settings.dovecotCompat, maxSubMetrics: config.settings.maxSubMetrics };
    this.fieldSlots = new FieldSlots();
    const list = identified ?? config.metrics.map((def, i) => ({ id: i + 1, def }));
    this.nextId = list.reduce((m, x) => Math.max(m, x.id), 0) + 1;
    this.metrics = list.map((x) => this.compile(x.def, x.id));
    this.ev = newEvent();
    this.interner = new Interner();
    this.openScanner = new OpenScanner(this.interner);
    this.replan();
    this.counters = newCounters();
    this.generalDecodes = 0;
    this.seq = 0;
    this.writers = new Map();
  }

  /** The metric set changed: a new plan, and the distinct filters. */
  private replan(): void {
    this.scanner = this.newScanner();
    const byText = new Map<string, number>();
    this.filters = [];
    this.filterOf = new Int32Array(this.metrics.length);
    this.metrics.forEach((m, i) => {
      const key = m.filter.source; // the same text is the same predicate
      let f = byText.get(key);
      if (f === undefined) {
        f = this.filters.length;
        this.filters.push(m.filter);
        byText.set(key, f);
      }
      this.filterOf[i] = f;
    });
    this.hit = new Uint8Array(this.filters.length);
  }

  private newScanner(): EventScanner {
    const plan = planOf(
      this.metrics.map((m) => m.def),
      this.fieldSlots,
    );
    this.plan = plan;
    this.writerScanner = new WriterScanner(plan, this.interner, this.ev.vals as (FieldValue | null)[]);
    const vals = this.ev.vals as (FieldValue | null)[];
    for (let i = 0; i < plan.width; i++) vals[i] = null;
    return new EventScanner(plan, this.interner);
  }

  /** After loadEvent: the plan's fields from the decoded object into ev.vals. */
  private fillVals(): void {
    const ev = this.ev;
    const vals = ev.vals as (FieldValue | null)[];
    this.scanner.touchedAll();
    const { keys, slots } = this.plan;
    for (let i = 0; i < keys.length; i++) {
      const v = fieldOf(ev, keys[i] as string);
      vals[slots[i] as number] = v === undefined ? null : v;
    }
  }

  private compile(def: MetricDef, id: number): Metric {
    return new Metric(def, id, { compat: this.settings.dovecotCompat, maxSubMetrics: this.settings.maxSubMetrics, slots: this.fieldSlots });
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
    this.counters.batches++;
    const out: IngestResult = { accepted: 0, rejected: 0, errors: [] };
    const ev = this.ev;
    for (let i = 0; i < events.length; i++) {
      const raw = events[i];
      if (raw instanceof BrokenLine) this.reject(out, i, R_INVALID_JSON, `invalid_json: ${raw.message}`);
      else if (raw instanceof RejectedRecord) this.reject(out, i, raw.code, raw.detail);
      else this.takeLoaded(out, i, loadEvent(raw, ev));
    }
    this.counters.eventsReceived += events.length;
    ev.fields = undefined;
    ev.categories = undefined;
    return out;
  }

  /** take() for an event from loadEvent (its fields still in the decoded object). */
  private takeLoaded(out: IngestResult, i: number, code: number): void {
    if (code === R_OK) this.fillVals();
    this.take(out, i, code);
  }

  /** Counts event `i` of a batch, loaded into this.ev (R_OK) or rejected with `code`. */
  private take(out: IngestResult, i: number, code: number): void {
    if (code !== R_OK) {
      this.reject(out, i, code, lastRejectDetail);
      return;
    }
    out.accepted++;
    const c = this.counters;
    c.eventsAccepted++;
    const ev = this.ev;
    if (ev.negative) c.negativeValues++;
    // each distinct filter once per event, however many metrics share it
    const filters = this.filters;
    const hit = this.hit;
    for (let f = 0; f < filters.length; f++) hit[f] = (filters[f] as CompiledFilter).match(ev) ? 1 : 0;
    const metrics = this.metrics;
    const filterOf = this.filterOf;
    for (let m = 0; m < metrics.length; m++) {
      if (hit[filterOf[m] as number] === 1) (metrics[m] as Metric).record(ev, this.seq);
    }
  }

  private reject(out: IngestResult, i: number, code: number, detail: string): void {
    out.rejected++;
    const c = this.counters;
    const reason = REJECT_REASONS[code] as string;
    c.eventsRejected[reason] = (c.eventsRejected[reason] ?? 0) + 1;
    if (out.errors.length < MAX_REPORTED_ERRORS) out.errors.push({ index: i, reason: detail });
  }

  /**
   * Ingests a msgpack batch by on-demand decoding (scan.ts): each event's map
   * is read straight from `bytes`, only the keys the metrics read become
   * values, and an event off the common path is decoded by msgpackr alone.
   * Throws FramingError when the batch is not complete plain msgpack
   * (nothing of it is counted then), unless `plain` is false: then such a
   * batch goes to msgpackr whole. The same counts as
   * `ingest(frameBatch(bytes, FORMAT_MSGPACK, { plain }))`.
   *
   * The batch is read into rows first and counted after (all or nothing):
   * unchecked, verifying every length as it goes; only when that meets
   * something it does not verify itself is the batch checked by scanMsgpack
   * and read again, checked, with its odd events left to msgpackr.
   */
  ingestMsgpack(bytes: Uint8Array, seq?: number, plain = true): IngestResult {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (!this.readRows(bytes, dv, false)) {
      this.checkedBatches++;
      try {
        scanMsgpack(bytes);
      } catch (e) {
        // not plain msgpack: from a file (plain = false), msgpackr decides what it means
        if (!plain) return this.ingest(frameBatch(bytes, FORMAT_MSGPACK), seq);
        throw new FramingError(`invalid msgpack: ${(e as Error).message}`);
      }
      if (lastScanHadExtension) return this.ingest(frameBatch(bytes, FORMAT_MSGPACK), seq);
      this.readRows(bytes, dv, true);
    }
    this.seq = seq ?? this.seq + 1;
    this.counters.batches++;
    const out: IngestResult = { accepted: 0, rejected: 0, errors: [] };
    const rows = this.rows;
    const plan = this.plan;
    const ev = this.ev;
    const n = rows.n;
    for (let i = 0; i < n; i++) {
      if (rows.isGeneral(i)) {
        this.generalDecodes++;
        this.takeLoaded(out, i, loadEvent(unpackOne(bytes.subarray(rows.generalStart(i), rows.generalEnd(i))), ev));
      } else {
        rows.load(i, ev, plan);
        this.take(out, i, R_OK);
      }
    }
    // the rows wrote every plan slot: the scanner clears them all next time
    this.scanner.touchedAll();
    this.counters.eventsReceived += n;
    ev.fields = undefined;
    ev.categories = undefined;
    return out;
  }

  /**
   * Reads every event of the batch into this.rows. Unchecked: false as soon
   * as anything needs the batch checked first (nothing is counted either way).
   */
  private readRows(bytes: Uint8Array, dv: DataView, checked: boolean): boolean {
    const sc = this.scanner;
    const rows = this.rows;
    const plan = this.plan;
    const ev = this.ev;
    const end = bytes.length;
    rows.clear(plan);
    sc.begin(end, checked);
    let pos = 0;
    while (pos < end) {
      // a top-level array is a list of events; anything else is one event
      let n = arrayLen(bytes, pos, bytes[pos] as number);
      if (n < 0) n = 1;
      else {
        pos += lastHead();
        if (!(pos + n <= end)) return false;
      }
      for (let k = 0; k < n; k++) {
        const r = sc.load(bytes, dv, pos, ev);
        if (r === SCAN_OK) rows.push(ev, plan);
        else if (r === SCAN_BAD) return false;
        else rows.pushGeneral(pos, sc.end);
        pos = sc.end;
      }
    }
    return true;
  }

  /**
   * Frames and ingests raw bytes; throws FramingError when they cannot be
   * framed (nothing of the batch is counted then). `plain`: bytes from the
   * network, plain msgpack only (see FrameOptions). FORMAT_STATS_WRITER: the
   * u32 LE connection id, then that connection's lines (ingestWriter; its
   * `fatal` comes back here).
   */
  ingestBytes(bytes: Uint8Array, format: BatchFormat, seq?: number, plain = false): WriterResult {
    if (format === FORMAT_STATS_WRITER) {
      if (bytes.length < STATS_WRITER_HEADER_BYTES) throw new FramingError('stats-writer payload without its connection id');
      const conn = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
      const r = this.ingestWriter(conn, bytes.subarray(STATS_WRITER_HEADER_BYTES), seq);
      this.counters.bytes += bytes.length;
      return r;
    }
    if (format === FORMAT_MSGPACK) {
      const r = this.ingestMsgpack(bytes, seq, plain);
      this.counters.bytes += bytes.length;
      return r;
    }
    const events =
      format === FORMAT_KUMOMTA_JSON || format === FORMAT_KUMOMTA_NDJSON
        ? kumoBatch(bytes, format === FORMAT_KUMOMTA_NDJSON, { plain })
        : frameBatch(bytes, format, { plain });
    this.counters.bytes += bytes.length;
    return this.ingest(events, seq);
  }

  /**
   * Lines of one stats-writer connection, after its handshake: complete
   * lines, each ending in LF (src/dovecot/, docs/dovecot-sockets.md). Never
   * throws. `accepted` counts the BEGIN and EVENT events aggregated;
   * `rejected` every line refused (protocol lines too, each under its
   * `writer_*` reason, so received = accepted + rejected); `fatal` says why
   * the connection must be closed (nothing after that line is processed,
   * and nothing more of this connection until closeWriter).
   */
  ingestWriter(conn: number, bytes: Uint8Array, seq?: number): WriterResult {
    this.seq = seq ?? this.seq + 1;
    this.counters.batches++;
    const out: WriterResult = { accepted: 0, rejected: 0, errors: [] };
    let st = this.writers.get(conn);
    if (st === undefined) {
      st = new WriterConnection();
      this.writers.set(conn, st);
    }
    if (st.failed !== null) {
      out.fatal = st.failed;
      return out;
    }
    st.plan = this.plan;
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const ev = this.ev;
    const len = buf.length;
    let pos = 0;
    let index = 0;
    while (pos < len) {
      let nl = buf.indexOf(0x0a, pos);
      if (nl === -1) nl = len;
      let r: number;
      try {
        // the common EVENT line straight from its bytes; anything else, or anything off its path, the general way
        if (isEventLine(buf, pos, nl)) {
          this.writerEventLines++;
          if (nl - pos <= MAX_LINE_BYTES && this.writerScanner.scan(buf, pos, nl, st, ev) === 0) r = LINE_EVENT_VALS;
          else {
            this.writerGeneralLines++;
            r = st.line(buf, pos, nl, ev);
          }
        } else if (isBeginLine(buf, pos, nl)) {
          this.writerBeginLines++;
          r = nl - pos <= MAX_LINE_BYTES ? this.openScanner.begin(buf, pos, nl, st, ev) : SCAN_SLOW;
          if (r === SCAN_SLOW) {
            this.writerGeneralBegins++;
            r = st.line(buf, pos, nl, ev);
          }
        } else if (isEndLine(buf, pos, nl) && this.openScanner.end(buf, pos, nl, st)) r = LINE_OK;
        else r = st.line(buf, pos, nl, ev);
      } catch (e) {
        // a bug of ours, not the client's: refuse the line, keep the connection
        st.code = R_WRITER_BAD_LINE;
        st.fatal = false;
        st.detail = `internal error: ${e instanceof Error ? e.message : String(e)}`;
        r = LINE_REJECT;
      }
      if (r === LINE_EVENT_VALS) {
        this.scanner.touchedAll();
        this.take(out, index, R_OK);
      } else if (r === LINE_EVENT) this.takeLoaded(out, index, R_OK);
      else if (r === LINE_REJECT) {
        this.reject(out, index, st.code, `${REJECT_REASONS[st.code]}: ${st.detail}`);
        if (st.fatal) {
          out.fatal = st.detail;
          st.open.clear();
          st.dropped.clear();
          st.categories.clear();
          index++;
          break;
        }
      }
      index++;
      pos = nl + 1;
    }
    this.counters.eventsReceived += out.accepted + out.rejected;
    ev.fields = undefined;
    ev.categories = undefined;
    return out;
  }

  /** The stats-writer connection closed: forget its categories and open events. */
  closeWriter(conn: number): void {
    this.writers.delete(conn);
  }

  /** Stats-writer connections with state here (open, or failed and not yet closed). */
  get writerConnections(): number {
    return this.writers.size;
  }

  snapshot(depth: SnapshotDepth): EngineSnapshot {
    const c = this.counters;
    return {
      metrics: this.metrics.map((m) => m.snapshot(depth)),
      counters: { ...c, eventsRejected: { ...c.eventsRejected } },
    };
  }

  /** Zeroes every figure; sub-metrics are kept (docs/contract.md §5.2). */
  reset(): void {
    for (const m of this.metrics) m.reset();
  }

  /** Zeroes every figure and returns what was recorded since the last delta (src/merge/delta.ts). */
  takeDelta(): FlatDelta {
    const w = this.deltaWriter;
    for (const m of this.metrics) m.writeDelta(w);
    const counters = this.counters;
    this.counters = newCounters();
    return w.take(counters);
  }

  addMetric(def: MetricDef, id?: number): void {
    if (this.metrics.some((m) => m.def.name === def.name)) {
      throw new ConfigError('ERR_CONFIG_DUPLICATE', { file: '<request>', line: 1, col: 1 }, 'Metric already exists');
    }
    const mid = id ?? this.nextId;
    this.nextId = Math.max(this.nextId, mid + 1);
    this.metrics.push(this.compile(def, mid));
    this.replan();
  }

  /** Removes the metric with that id, if there is one. */
  removeMetricId(id: number): void {
    this.metrics = this.metrics.filter((m) => m.id !== id);
    this.replan();
  }

  removeMetric(name: string): void {
    const i = this.metrics.findIndex((m) => m.def.name === name);
    if (i === -1) throw new TallydError('ERR_METRIC_NOT_FOUND', `metrics '${name}' not found`);
    this.metrics.splice(i, 1);
    this.replan();
  }
}
