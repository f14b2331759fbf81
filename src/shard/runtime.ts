/**
 * The sharded runtime (docs/contract.md §6): N shard workers run by piscina, each fed by
 * its own SharedArrayBuffer ring; the main thread frames batches into rings,
 * merges the shards' deltas into one Accumulator, and answers each batch once
 * its effects are merged (what is acknowledged is counted).
 *
 * The smallest batches (at most `inline_batch_bytes`: one event per HTTP
 * request, as Dovecot's exporter sends them) are aggregated on the main
 * thread, at once, by an Engine of its own whose figures are folded into the
 * Accumulator when a snapshot is taken (docs/hot-path.md): a ring record, a
 * worker wake-up, an ack message and a merge cost more than the event.
 *
 * Other small batches are coalesced: those handed over in one event-loop turn go into a
 * shard's ring as one multi record at the end of the turn (setImmediate: the
 * check phase, after every readable socket of the turn was read), so many
 * requests cost one record, one worker wake-up, one delta and one merge.
 */
import { MessageChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { Packr } from 'msgpackr';
import { Piscina } from 'piscina';
import type { MetricDef, ResolvedConfig } from '../config/types.js';
import { Engine, type IdentifiedMetric } from '../engine/engine.js';
import { countBatchEvents, FORMAT_STATS_WRITER, type BatchFormat } from '../event/decode.js';
import { Accumulator } from '../merge/accumulator.js';
import { mergeCounters } from '../merge/merge.js';
import type { EngineCounters, EngineSnapshot, NodeSnapshot } from '../metrics/types.js';
import { createRing, recordBytes } from '../ring/index.js';
import { NOT_WRITTEN, ShardHandle, type BatchOutcome, type PendingBatch } from './handle.js';
import { workerFile } from './paths.js';
import { isFramingError } from './worker.js';
import {
  MULTI_HEADER_BYTES,
  MULTI_SUB_HEADER_BYTES,
  RECORD_BATCH,
  RECORD_CONTROL,
  RECORD_MULTI,
  type ControlMessage,
  type ShardMessage,
  type ShardTask,
} from './protocol.js';

export interface RuntimeOptions {
  config: ResolvedConfig;
  /** default: config.settings.shards */
  shards?: number;
  /** default: config.settings.ringBytes */
  ringBytes?: number;
  /** V8 heap limit of a shard worker, MiB (piscina resourceLimits) */
  maxShardHeapMb?: number;
  /** default: config.settings.inlineBatchBytes (0: every batch goes to a shard) */
  inlineBatchBytes?: number;
  /** told when a shard worker dies (it is restarted) */
  onShardExit?: (shard: number, err: unknown) => void;
}

export type IngestOutcome =
  | { status: 'ok'; accepted: number; rejected: number; errors: { index: number; reason: string }[]; fatal?: string }
  | { status: 'framing'; message: string }
  /** the engine failed on the batch (tallyd's fault, not the client's): 500 */
  | { status: 'internal'; message: string }
  /** no ring has room now: refuse visibly (503 / WebSocket busy) */
  | { status: 'busy' }
  /** the shard died while holding the batch */
  | { status: 'lost' }
  | { status: 'closed' };

export interface RuntimeStats {
  /** accepted: events the shard accepted (acknowledged batches) */
  shards: { index: number; ringUsed: number; ringCapacity: number; restarts: number; pending: number; taken: number; accepted: number }[];
  busyRefusals: number;
  restarts: number;
  lostBatches: number;
  /** batches on which the engine threw something other than a framing error */
  internalErrors: number;
  /** multi records written, and the small batches they carried */
  coalescedRecords: number;
  coalescedBatches: number;
  /** batches aggregated on the main thread, and their accepted events */
  inlineBatches: number;
  inlineAccepted: number;
}

type DeltaMessage = ShardMessage & { t: 'delta' };

const packr = new Packr({ useRecords: false });
/** the Accumulator's source id of the main thread's own engine */
const INLINE_SOURCE = 0;
const EMPTY = new Uint8Array(0);
/**
 * The share of a ring that must be free before a stream waiting on it
 * (waitForShardSpace: a stats-writer connection) resumes. Waiting for one
 * record's room cost a futex wake-up in the shard, a wake-up of the main
 * thread and a pause and resume of the socket per record.
 */
const STREAM_HEADROOM = 1 / 4;

/**
 * Batches of at most this many bytes are coalesced: those handed over in one
 * event-loop turn (one request from each of many connections, a keep-alive
 * connection's next request, WebSocket messages) share one multi record, so
 * one worker wake-up, one delta and one merge for all of them.
 */
export const COALESCE_MAX_BATCH = 16 * 1024;
/** A group is written at once when its payload reaches this size (and then a new one opens). */
export const GROUP_FLUSH_BYTES = 64 * 1024;
function outcomeOf(o: BatchOutcome): IngestOutcome {
  if (o.kind === 'lost') return { status: 'lost' };
  if (o.kind === 'busy') return { status: 'busy' };
  const ack = o.ack;
  if (ack.internal !== undefined) return { status: 'internal', message: ack.internal };
  if (ack.framing !== undefined) return { status: 'framing', message: ack.framing };
  if (ack.fatal !== undefined) return { status: 'ok', accepted: ack.accepted, rejected: ack.rejected, errors: ack.errors, fatal: ack.fatal };
  return { status: 'ok', accepted: ack.accepted, rejected: ack.rejected, errors: ack.errors };
}

export class Runtime {
  private readonly pool: Piscina;
  private readonly handles: ShardHandle[];
  private readonly acc: Accumulator;
  private readonly config: ResolvedConfig;
  private readonly onShardExit: ((shard: number, err: unknown) => void) | undefined;
  private metrics: IdentifiedMetric[];
  private nextMetricId: number;
  private seq: number;
  private closing: boolean;
  private closed: boolean;
  /** settles when the first close() has stopped the workers; a later close() renders the same final state */
  private closeDone: Promise<void> | undefined;
  /** serializes flush-based operations (scrape, reset, add/remove, close) */
  private chain: Promise<unknown>;
  /** deltas held back while a reset waits for every shard's marker */
  private held: { h: ShardHandle; msg: DeltaMessage; source: number }[] | null;
  /** the Accumulator's source id of the next shard worker started (0 is the inline engine) */
  private nextSource = 1;
  /** sources of dead workers whose held deltas a pending reset has yet to apply */
  private forgetAfterReset: number[] = [];
  private tasks: Promise<void>[];
  busyRefusals: number;
  lostBatches: number;
  lostEvents: number;
  internalErrors: number;
  coalescedRecords: number;
  coalescedBatches: number;
  /** shards with an open coalescing group, written at the end of this event-loop turn */
  private readonly openGroups: ShardHandle[];
  private groupFlushScheduled: boolean;
  /** where a multi record is assembled before it is written */
  private groupScratch: Buffer;
  /** largest multi record payload: the ring's record limit, at most a full group plus one more batch */
  private readonly groupMaxBytes: number;
  /** rotates the choice among equally loaded shards when a group opens */
  private nextGroupShard: number;
  private readonly metricsChanged: (() => void)[] = [];
  /** the main thread's own engine for the smallest batches; null when inline_batch_bytes is 0 */
  private readonly inline: Engine | null;
  private readonly inlineMax: number;
  /** whether the inline engine recorded something since it was last folded */
  private inlineDirty = false;
  inlineBatches = 0;
  inlineAccepted = 0;

  private constructor(opts: RuntimeOptions) {
    this.config = opts.config;
    this.onShardExit = opts.onShardExit;
    const n = Math.max(1, opts.shards ?? opts.config.settings.shards);
    const ringBytes = opts.ringBytes ?? opts.config.settings.ringBytes;
    this.pool = new Piscina({
      filename: workerFile(),
      minThreads: n,
      maxThreads: n,
      concurrentTasksPerWorker: 1,
      idleTimeout: Number.POSITIVE_INFINITY,
      atomics: 'disabled',
      ...(opts.maxShardHeapMb !== undefined ? { resourceLimits: { maxOldGenerationSizeMb: opts.maxShardHeapMb } } : {}),
    });
    this.handles = [];
    // room for the record header too, so that a batch of ring_bytes (= max_body_bytes by default) fits
    for (let i = 0; i < n; i++) this.handles.push(new ShardHandle(i, createRing(ringBytes + recordBytes(0))));
    this.acc = new Accumulator();
    this.metrics = opts.config.metrics.map((def, i) => ({ id: i + 1, def }));
    this.nextMetricId = this.metrics.length + 1;
    for (const m of this.metrics) this.acc.addMetric(m.id, m.def, opts.config.settings.maxSubMetrics);
    this.seq = 0;
    this.closing = false;
    this.closed = false;
    this.closeDone = undefined;
    this.chain = Promise.resolve();
    this.held = null;
    this.tasks = [];
    this.busyRefusals = 0;
    this.lostBatches = 0;
    this.lostEvents = 0;
    this.internalErrors = 0;
    this.coalescedRecords = 0;
    this.coalescedBatches = 0;
    this.openGroups = [];
    this.groupFlushScheduled = false;
    this.groupScratch = Buffer.alloc(0);
    this.groupMaxBytes = Math.min(
      (this.handles[0] as ShardHandle).producer.maxRecordBytes,
      GROUP_FLUSH_BYTES + MULTI_SUB_HEADER_BYTES + COALESCE_MAX_BATCH,
    );
    this.nextGroupShard = 0;
    this.inlineMax = opts.inlineBatchBytes ?? opts.config.settings.inlineBatchBytes;
    this.inline =
      this.inlineMax > 0
        ? new Engine({ metrics: [], settings: { dovecotCompat: opts.config.settings.dovecotCompat, maxSubMetrics: opts.config.settings.maxSubMetrics } }, this.metrics)
        : null;
  }

  /** Starts the shards and resolves once every one of them is running. */
  static async start(opts: RuntimeOptions): Promise<Runtime> {
    const rt = new Runtime(opts);
    await Promise.all(rt.handles.map((h) => rt.launch(h)));
    return rt;
  }

  get shardCount(): number {
    return this.handles.length;
  }

  /** thread ids of the live shard workers, by shard index */
  get threadIds(): number[] {
    return this.handles.map((h) => h.threadId);
  }

  get piscina(): Piscina {
    return this.pool;
  }

  private launch(h: ShardHandle): Promise<void> {
    const { port1, port2 } = new MessageChannel();
    const task: ShardTask = {
      shard: h.index,
      sab: h.sab,
      port: port2,
      settings: { dovecotCompat: this.config.settings.dovecotCompat, maxSubMetrics: this.config.settings.maxSubMetrics },
      metrics: this.metrics,
    };
    let ready!: () => void;
    const started = new Promise<void>((r) => (ready = r));
    // this worker's deltas name their nodes by uids of its own engine
    const source = this.nextSource++;
    const onMessage = (msg: ShardMessage): void => {
      if (msg.t === 'ready') {
        h.threadId = msg.threadId;
        h.alive = true;
        ready();
      } else this.onDelta(h, msg, source);
    };
    port1.on('message', onMessage);
    // The task's end comes on piscina's channel, which does not keep order
    // with ours: take what the worker posted before it ended, then close.
    const drain = (port: MessagePort): void => {
      for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) {
        onMessage(m.message as ShardMessage);
      }
      port.close();
    };
    const done = this.pool.run(task, { transferList: [port2] }).then(
      () => {
        drain(port1);
        h.alive = false;
      },
      (err: unknown) => {
        drain(port1);
        h.alive = false;
        ready();
        // its deltas are all in (or held for a pending reset): its node table can go
        if (this.held === null) this.acc.forgetSource(source);
        else this.forgetAfterReset.push(source);
        this.onCrash(h, err);
      },
    );
    this.tasks[h.index] = done;
    return started;
  }

  private onDelta(h: ShardHandle, msg: DeltaMessage, source: number): void {
    if (this.held !== null && h.passedMarker) {
      this.held.push({ h, msg, source });
      return;
    }
    this.acc.apply(msg.delta, source);
    this.settle(h, msg);
  }

  private settle(h: ShardHandle, msg: DeltaMessage): void {
    for (const ack of msg.acks) {
      const p = h.batches.get(ack.id);
      if (p === undefined) continue;
      h.batches.delete(ack.id);
      h.accepted += ack.accepted;
      if (ack.internal !== undefined) this.internalErrors++;
      p.resolve({ kind: 'ack', ack });
    }
    if (msg.flushed !== null) {
      const f = h.flushes.get(msg.flushed);
      if (f !== undefined) {
        h.flushes.delete(msg.flushed);
        f.resolve();
      }
    }
  }

  private onCrash(h: ShardHandle, err: unknown): void {
    this.onShardExit?.(h.index, err);
    // Records the dead worker took out of the ring are lost (each batch of a
    // multi record it took, unless its ack was merged); the rest wait in the
    // ring, or in the shard's coalescing group, for the new worker.
    const read = h.readCount();
    let lost = 0;
    for (const [id, p] of h.batches) {
      if (p.record < read) {
        h.batches.delete(id);
        this.lostBatches++;
        // counted without decoding: the batch may be what killed the shard
        lost += p.events >= 0 ? p.events : countBatchEvents(p.bytes, p.format);
        p.resolve({ kind: 'lost' });
      }
    }
    for (const [id, f] of h.flushes) {
      if (f.record < read) {
        h.flushes.delete(id);
        f.resolve();
      }
    }
    this.lostEvents += lost;
    this.acc.counters.eventsLost += lost;
    if (this.closed) return;
    h.restarts++;
    void this.launch(h);
  }

  private pickShard(bytes: number): ShardHandle | null {
    let best: ShardHandle | null = null;
    let bestUsed = Infinity;
    for (const h of this.handles) {
      if (!h.producer.fits(bytes)) continue;
      const used = h.producer.usedBytes();
      if (used < bestUsed) {
        best = h;
        bestUsed = used;
      }
    }
    return best;
  }

  /** Largest batch a ring can ever take. */
  get maxBatchBytes(): number {
    return (this.handles[0] as ShardHandle).producer.maxRecordBytes;
  }

  /**
   * Hands a batch to a shard and resolves with its counts once they are
   * merged. Never waits for ring space: when no ring has room, `busy`. A small
   * batch joins a coalescing group, written into the ring as one multi record
   * at the end of this event-loop turn; it keeps its own answer.
   */
  ingest(bytes: Uint8Array, format: BatchFormat): Promise<IngestOutcome> {
    if (this.closing) return Promise.resolve({ status: 'closed' });
    if (bytes.length <= this.inlineMax && this.inline !== null && format !== FORMAT_STATS_WRITER) return Promise.resolve(this.ingestInline(this.inline, bytes, format));
    if (bytes.length <= COALESCE_MAX_BATCH && MULTI_HEADER_BYTES + MULTI_SUB_HEADER_BYTES + bytes.length <= this.groupMaxBytes) {
      return this.ingestSmall(bytes, format);
    }
    // nothing is written into a ring ahead of its open group (the group's room stays reserved, order is kept)
    this.flushGroups();
    const h = this.pickShard(bytes.length);
    if (h === null) {
      this.busyRefusals++;
      return Promise.resolve({ status: 'busy' });
    }
    const id = ++this.seq;
    h.producer.tryWrite(RECORD_BATCH, id, format, bytes);
    const record = h.written++;
    return new Promise<IngestOutcome>((resolve) =>
      h.batches.set(id, { id, record, bytes, format, events: -1, resolve: (o) => resolve(outcomeOf(o)) }),
    );
  }

  /**
   * Hands a batch to shard `shard` (a stream whose batches must stay in one
   * shard and in order, like a stats-writer connection's lines). Returns
   * null, writing nothing, when that ring has no room now: the caller keeps
   * the batch and tries again (`waitForShardSpace`), so order is kept.
   * `keep` false: `bytes` is the caller's scratch, reused once this returns
   * (the ring has its copy); its events are counted now instead, for the
   * case its shard dies holding it.
   */
  ingestTo(shard: number, bytes: Uint8Array, format: BatchFormat, keep = true): Promise<IngestOutcome> | null {
    if (this.closing) return Promise.resolve({ status: 'closed' });
    const h = this.handles[shard % this.handles.length] as ShardHandle;
    // an open group's reserved room is not taken from under it
    if (h.group !== null) {
      this.writeGroup(h);
      this.openGroups.splice(this.openGroups.indexOf(h), 1);
    }
    const id = this.seq + 1;
    if (!h.producer.tryWrite(RECORD_BATCH, id, format, bytes)) return null;
    this.seq = id;
    const record = h.written++;
    const events = keep ? -1 : countBatchEvents(bytes, format);
    const kept = keep ? bytes : EMPTY;
    return new Promise<IngestOutcome>((resolve) =>
      h.batches.set(id, { id, record, bytes: kept, format, events, resolve: (o) => resolve(outcomeOf(o)) }),
    );
  }

  /** Resolves once shard `shard`'s ring can take `bytes` with STREAM_HEADROOM to spare (false on timeout, or when it never can). */
  waitForShardSpace(shard: number, bytes: number, timeoutMs: number): Promise<boolean> {
    if (bytes > this.maxBatchBytes) return Promise.resolve(false);
    const p = (this.handles[shard % this.handles.length] as ShardHandle).producer;
    // a stream resumed for one record pauses again at the next: a run of records per wake-up instead
    return p.waitForSpace(bytes, timeoutMs, p.capacity * STREAM_HEADROOM);
  }

  /** Tells shard `shard` that stats-writer connection `conn` closed (after every batch it was handed). */
  async writerClosed(shard: number, conn: number): Promise<void> {
    if (this.closed) return;
    await this.writeControl(this.handles[shard % this.handles.length] as ShardHandle, { op: 'writer-close', conn });
  }

  /** `fn` is called after every metric added or removed (e.g. to send writers a new event filter). */
  onMetricsChanged(fn: () => void): void {
    this.metricsChanged.push(fn);
  }

  /**
   * Aggregates one small batch on the main thread, now: counted when this
   * returns (the figures reach the Accumulator at the next snapshot, reset or
   * close, which fold the inline engine first).
   */
  private ingestInline(engine: Engine, bytes: Uint8Array, format: BatchFormat): IngestOutcome {
    const id = ++this.seq;
    this.inlineBatches++;
    this.inlineDirty = true;
    try {
      const r = engine.ingestBytes(bytes, format, id, true);
      this.inlineAccepted += r.accepted;
      if (r.fatal !== undefined) return { status: 'ok', accepted: r.accepted, rejected: r.rejected, errors: r.errors, fatal: r.fatal };
      return { status: 'ok', accepted: r.accepted, rejected: r.rejected, errors: r.errors };
    } catch (e) {
      if (isFramingError(e)) return { status: 'framing', message: e.message };
      this.internalErrors++;
      return { status: 'internal', message: e instanceof Error ? e.message : String(e) };
    }
  }

  /** The inline engine's figures into the Accumulator (synchronously: one point of its stream). */
  private foldInline(): void {
    if (this.inline === null || !this.inlineDirty) return;
    this.inlineDirty = false;
    this.acc.apply(this.inline.takeDelta(), INLINE_SOURCE);
  }

  private ingestSmall(bytes: Uint8Array, format: BatchFormat): Promise<IngestOutcome> {
    const sub = MULTI_SUB_HEADER_BYTES + bytes.length;
    let h: ShardHandle | null = null;
    // an open group with room for it (in its ring and under the record limit)
    for (let i = 0; i < this.openGroups.length; i++) {
      const c = this.openGroups[i] as ShardHandle;
      const g = c.group;
      if (g === null) continue;
      const need = g.payloadBytes + sub;
      if (need <= this.groupMaxBytes && c.producer.fits(need)) {
        h = c;
        break;
      }
      // full: it goes into its ring now (it fits: its room was checked batch by batch), a new group opens
      this.writeGroup(c);
      this.openGroups.splice(i--, 1);
    }
    if (h === null) {
      h = this.pickGroupShard(MULTI_HEADER_BYTES + sub);
      if (h === null) {
        this.busyRefusals++;
        return Promise.resolve({ status: 'busy' });
      }
      h.group = { batches: [], payloadBytes: MULTI_HEADER_BYTES };
      this.openGroups.push(h);
      if (!this.groupFlushScheduled) {
        this.groupFlushScheduled = true;
        // the check phase, after every socket that was readable in this turn was read
        setImmediate(this.onTurnEnd);
      }
    }
    const g = h.group as NonNullable<ShardHandle['group']>;
    const id = ++this.seq;
    const shard = h;
    const p = new Promise<IngestOutcome>((resolve) => {
      const pending: PendingBatch = { id, record: NOT_WRITTEN, bytes, format, events: -1, resolve: (o) => resolve(outcomeOf(o)) };
      shard.batches.set(id, pending);
      g.batches.push(pending);
    });
    g.payloadBytes += sub;
    if (g.payloadBytes >= GROUP_FLUSH_BYTES) {
      this.writeGroup(h);
      this.openGroups.splice(this.openGroups.indexOf(h), 1);
    }
    return p;
  }

  /**
   * The shard for a new group: one whose ring has room for `payload`, the
   * least loaded (ring bytes waiting, plus unanswered batches as the work
   * still ahead of the worker), equally loaded shards in turn.
   */
  private pickGroupShard(payload: number): ShardHandle | null {
    const n = this.handles.length;
    let best: ShardHandle | null = null;
    let bestScore = Infinity;
    for (let k = 0; k < n; k++) {
      const c = this.handles[(this.nextGroupShard + k) % n] as ShardHandle;
      if (c.group !== null || !c.producer.fits(payload)) continue;
      const score = c.producer.usedBytes() + c.batches.size * 1024;
      if (score < bestScore) {
        best = c;
        bestScore = score;
      }
    }
    if (best !== null) this.nextGroupShard = (best.index + 1) % n;
    return best;
  }

  private readonly onTurnEnd = (): void => {
    this.groupFlushScheduled = false;
    this.flushGroups();
  };

  /** Writes every open group into its ring. */
  private flushGroups(): void {
    const open = this.openGroups;
    if (open.length === 0) return;
    for (let i = 0; i < open.length; i++) this.writeGroup(open[i] as ShardHandle);
    open.length = 0;
  }

  /** Writes the shard's open group as one multi record (a group of one as a plain batch record). */
  private writeGroup(h: ShardHandle): void {
    const g = h.group;
    if (g === null) return;
    h.group = null;
    const n = g.batches.length;
    let ok: boolean;
    let id: number;
    if (n === 1) {
      // one batch: its own record, no sub-batch framing to write and read
      const b = g.batches[0] as PendingBatch;
      id = b.id;
      ok = h.producer.tryWrite(RECORD_BATCH, b.id, b.format, b.bytes);
    } else {
      if (this.groupScratch.length < g.payloadBytes) this.groupScratch = Buffer.allocUnsafeSlow(Math.max(g.payloadBytes, this.groupMaxBytes));
      const buf = this.groupScratch;
      buf.writeUInt32LE(n, 0);
      let off = MULTI_HEADER_BYTES;
      for (let i = 0; i < n; i++) {
        const b = g.batches[i] as PendingBatch;
        buf.writeUInt32LE(b.id >>> 0, off);
        buf.writeUInt32LE(Math.floor(b.id / 2 ** 32), off + 4);
        buf.writeUInt32LE(b.format, off + 8);
        buf.writeUInt32LE(b.bytes.length, off + 12);
        buf.set(b.bytes, off + MULTI_SUB_HEADER_BYTES);
        off += MULTI_SUB_HEADER_BYTES + b.bytes.length;
      }
      id = (g.batches[0] as PendingBatch).id;
      ok = h.producer.tryWrite(RECORD_MULTI, id, 0, buf.subarray(0, off));
    }
    if (!ok) {
      for (const b of g.batches) {
        h.batches.delete(b.id);
        this.busyRefusals++;
        b.resolve({ kind: 'busy' });
      }
      return;
    }
    const record = h.written++;
    for (let i = 0; i < n; i++) (g.batches[i] as PendingBatch).record = record;
    if (n > 1) {
      this.coalescedRecords++;
      this.coalescedBatches += n;
    }
  }

  /** Resolves once some ring can take a batch of `bytes` (false on timeout). */
  async waitForSpace(bytes: number, timeoutMs: number): Promise<boolean> {
    if (bytes > this.maxBatchBytes) return false;
    if (this.pickShard(bytes) !== null) return true;
    const results = await Promise.race(this.handles.map((h) => h.producer.waitForSpace(bytes, timeoutMs)));
    return results;
  }

  /** Writes a control record into one ring, waiting for space (controls are never refused). */
  private async writeControl(h: ShardHandle, msg: ControlMessage): Promise<{ id: number; record: number }> {
    const payload = packr.pack(msg);
    const id = ++this.seq;
    for (;;) {
      // batches handed over before the control come before it in the ring,
      // and an open group's reserved room is not taken from under it
      this.flushGroups();
      if (h.producer.tryWrite(RECORD_CONTROL, id, 0, payload)) break;
      await h.producer.waitForSpace(payload.length, 1000);
    }
    return { id, record: h.written++ };
  }

  private async flushShard(h: ShardHandle, op: 'flush' | 'stop'): Promise<void> {
    const { id, record } = await this.writeControl(h, { op });
    await new Promise<void>((resolve) => h.flushes.set(id, { record, resolve }));
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /**
   * Brings every shard's figures into the main state and calls `render` on it
   * (synchronously, before anything else changes it).
   */
  snapshot<T>(render: (snap: EngineSnapshot) => T): Promise<T> {
    return this.serial(async () => {
      await Promise.all(this.handles.map((h) => this.flushShard(h, 'flush')));
      this.foldInline();
      return render(this.acc.view());
    });
  }

  /**
   * Like snapshot, then zeroes every figure in the same step: every event is
   * in exactly one dump (the one whose marker its shard read after it).
   */
  snapshotAndReset<T>(render: (snap: EngineSnapshot) => T): Promise<T> {
    return this.serial(async () => {
      this.held = [];
      for (const h of this.handles) h.passedMarker = false;
      await Promise.all(
        this.handles.map(async (h) => {
          await this.flushShard(h, 'flush');
          h.passedMarker = true;
        }),
      );
      // the inline batches so far are in this dump, every later one in the next
      this.foldInline();
      const out = render(this.acc.view());
      this.acc.reset();
      const held = this.held;
      this.held = null;
      for (const x of held) {
        this.acc.apply(x.msg.delta, x.source);
        this.settle(x.h, x.msg);
      }
      for (const source of this.forgetAfterReset.splice(0)) this.acc.forgetSource(source);
      return out;
    });
  }

  /** The sequence of the last batch handed over (sub-metrics' first-seen order follows it). */
  get batchSeq(): number {
    return this.seq;
  }

  /**
   * Merges saved state into the running metrics, before any batch is handed
   * over: `trees` by metric name (a name not running is skipped), the engine
   * counters added, the batch sequence continued after `seq` so that a
   * sub-metric seen from now on comes after every restored one.
   */
  restore(trees: { name: string; root: NodeSnapshot; overflow: number }[], counters: EngineCounters, seq: number): string[] {
    const restored: string[] = [];
    for (const t of trees) {
      const m = this.metrics.find((x) => x.def.name === t.name);
      if (m !== undefined && this.acc.restore(m.id, t.root, t.overflow)) restored.push(t.name);
    }
    this.acc.counters = mergeCounters(this.acc.counters, counters);
    if (seq > this.seq) this.seq = seq;
    return restored;
  }

  /**
   * Removes the metrics named in `remove`, then adds `add`, in one step: in
   * every shard's stream the removals and additions sit next to each other
   * (unless a ring is full and a control waits for room), so no batch sees
   * the metric set half changed; metrics not named are not touched.
   */
  reconfigure(remove: readonly string[], add: readonly MetricDef[]): Promise<void> {
    return this.serial(async () => {
      const gone = this.metrics.filter((x) => remove.includes(x.def.name));
      const added = add.map((def) => ({ id: this.nextMetricId++, def }));
      this.metrics = [...this.metrics.filter((x) => !gone.includes(x)), ...added];
      for (const m of gone) this.acc.removeMetric(m.id);
      for (const m of added) this.acc.addMetric(m.id, m.def, this.config.settings.maxSubMetrics);
      // the inline engine changes at this one point of its stream (the rings each at their control)
      for (const m of gone) this.inline?.removeMetricId(m.id);
      for (const m of added) this.inline?.addMetric(m.def, m.id);
      const controls: ControlMessage[] = [
        ...gone.map((m): ControlMessage => ({ op: 'remove', id: m.id })),
        ...added.map((m): ControlMessage => ({ op: 'add', id: m.id, def: m.def })),
      ];
      await Promise.all(
        this.handles.map(async (h) => {
          for (const c of controls) await this.writeControl(h, c);
        }),
      );
      for (const fn of this.metricsChanged) fn();
    });
  }

  /** Metrics in order: config, then run-time additions. */
  metricDefs(): MetricDef[] {
    return this.metrics.map((m) => m.def);
  }

  /** Adds a metric; it sees only batches accepted after this resolves. */
  addMetric(def: MetricDef): Promise<void> {
    return this.serial(async () => {
      const id = this.nextMetricId++;
      this.metrics = [...this.metrics, { id, def }];
      this.acc.addMetric(id, def, this.config.settings.maxSubMetrics);
      this.inline?.addMetric(def, id);
      await Promise.all(this.handles.map((h) => this.writeControl(h, { op: 'add', id, def })));
      for (const fn of this.metricsChanged) fn();
    });
  }

  /** Removes a metric by name; resolves false when there is none. */
  removeMetric(name: string): Promise<boolean> {
    return this.serial(async () => {
      const m = this.metrics.find((x) => x.def.name === name);
      if (m === undefined) return false;
      this.metrics = this.metrics.filter((x) => x !== m);
      this.acc.removeMetric(m.id);
      this.inline?.removeMetricId(m.id);
      await Promise.all(this.handles.map((h) => this.writeControl(h, { op: 'remove', id: m.id })));
      for (const fn of this.metricsChanged) fn();
      return true;
    });
  }

  stats(): RuntimeStats {
    return {
      shards: this.handles.map((h) => ({
        index: h.index,
        ringUsed: h.producer.usedBytes(),
        ringCapacity: h.producer.capacity,
        restarts: h.restarts,
        pending: h.batches.size,
        taken: h.readCount(),
        accepted: h.accepted,
      })),
      busyRefusals: this.busyRefusals,
      restarts: this.handles.reduce((s, h) => s + h.restarts, 0),
      lostBatches: this.lostBatches,
      internalErrors: this.internalErrors,
      coalescedRecords: this.coalescedRecords,
      coalescedBatches: this.coalescedBatches,
      inlineBatches: this.inlineBatches,
      inlineAccepted: this.inlineAccepted,
    };
  }

  /**
   * Orderly shutdown: refuses new batches, lets every shard drain its ring,
   * takes the final merge, renders it and stops the workers.
   */
  close<T>(render: (snap: EngineSnapshot) => T): Promise<T> {
    if (this.closeDone !== undefined) return this.closeDone.then(() => render(this.acc.view()));
    this.closing = true;
    const out = this.serial(async () => {
      await Promise.all(this.handles.map((h) => this.flushShard(h, 'stop')));
      this.closed = true;
      await Promise.all(this.tasks);
      for (const h of this.handles) h.producer.close();
      this.foldInline();
      const rendered = render(this.acc.view());
      await this.pool.destroy();
      return rendered;
    });
    this.closeDone = out.then(
      () => undefined,
      () => undefined,
    );
    return out;
  }
}
