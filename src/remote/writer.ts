/**
 * One `remote_write` block at run time (docs/scaling.md): every `interval`
 * the merged state becomes a WriteRequest (src/remote/series.ts) queued for
 * the URL. The queue is bounded; requests go out in order, one at a time.
 *
 * - 2xx: sent.
 * - 5xx, 429, a network error or the timeout: failed, retried after a
 *   backoff (doubling from 250 ms up to 30 s; a 429's Retry-After is
 *   honoured up to that cap).
 * - any other answer (4xx): the receiver will never take it; dropped and
 *   counted, not retried.
 * - a full queue drops its oldest request (counted).
 *
 * Every push carries the whole cumulative state (counters and native
 * histograms since start), so a dropped push loses a point in time, never a
 * count: the next one that lands carries it.
 */
import type { Logger } from 'pino';
import type { RemoteWriteDef } from '../config/types.js';
import { encodeWriteRequest } from './encode.js';
import { sampleCount, type TimeSeries } from './series.js';

/** Requests a writer keeps queued while its receiver does not take them. */
export const QUEUE_MAX = 8;
export const BACKOFF_MIN_MS = 250;
export const BACKOFF_MAX_MS = 30_000;
/** How often a writer whose receiver keeps failing logs it again. */
const LOG_EVERY_MS = 60_000;

export type DropReason = 'rejected' | 'queue_full';
export const DROP_REASONS: readonly DropReason[] = ['rejected', 'queue_full'];

interface Pending {
  body: Buffer;
  samples: number;
  attempts: number;
}

type Attempt = { kind: 'sent' } | { kind: 'retry'; why: string; afterMs: number | null } | { kind: 'rejected'; status: number; why: string };

export interface WriterOptions {
  /** the version sent as User-Agent */
  version: string;
  logger?: Logger;
}

export class RemoteWriter {
  readonly def: RemoteWriteDef;
  private readonly opts: WriterOptions;
  private readonly queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private pumping: Promise<void> | null = null;
  private backoffMs = BACKOFF_MIN_MS;
  /** cuts a backoff wait short (stop) */
  private wake: (() => void) | null = null;
  private inflight: AbortController | null = null;
  private closed = false;
  private failingSince = 0;
  private lastLog = 0;
  /** samples (a histogram counts as one) the receiver took */
  samplesSent = 0;
  /** samples of attempts that failed and were queued again */
  samplesFailed = 0;
  /** samples sent again after a failed attempt */
  samplesRetried = 0;
  readonly samplesDropped: Record<DropReason, number> = { rejected: 0, queue_full: 0 };
  requests = 0;
  lastSuccessSeconds = 0;

  constructor(def: RemoteWriteDef, opts: WriterOptions) {
    this.def = def;
    this.opts = opts;
  }

  get queueLength(): number {
    return this.queue.length;
  }

  /** Calls `collect` every interval and pushes what it returns. */
  start(collect: () => Promise<TimeSeries[]>): void {
    if (this.closed) return;
    this.timer = setInterval(() => {
      collect().then(
        (series) => this.push(series),
        (e: unknown) => this.opts.logger?.error({ remoteWrite: this.def.name, err: (e as Error).message }, 'remote_write: the series could not be collected'),
      );
    }, this.def.intervalMs);
    this.timer.unref();
  }

  /** Queues one WriteRequest and sends it when those before it are gone. */
  push(series: TimeSeries[]): void {
    if (this.closed || series.length === 0) return;
    if (this.queue.length >= QUEUE_MAX) {
      // the oldest waiting one, never the one on the wire
      const i = this.pumping !== null ? 1 : 0;
      const [old] = this.queue.splice(i, 1);
      if (old !== undefined) this.samplesDropped.queue_full += old.samples;
    }
    this.queue.push({ body: encodeWriteRequest(series), samples: sampleCount(series), attempts: 0 });
    this.pumping ??= this.pump().finally(() => {
      this.pumping = null;
    });
  }

  private async pump(): Promise<void> {
    while (this.queue.length > 0) {
      const item = this.queue[0] as Pending;
      if (item.attempts > 0) this.samplesRetried += item.samples;
      const r = await this.attempt(item);
      if (r.kind === 'sent') {
        this.queue.shift();
        this.samplesSent += item.samples;
        this.lastSuccessSeconds = Date.now() / 1000;
        this.backoffMs = BACKOFF_MIN_MS;
        if (this.failingSince !== 0) {
          this.opts.logger?.info({ remoteWrite: this.def.name, url: this.def.url, failedForSeconds: Math.round((Date.now() - this.failingSince) / 1000) }, 'remote_write: the receiver takes writes again');
          this.failingSince = 0;
        }
        continue;
      }
      if (r.kind === 'rejected') {
        this.queue.shift();
        this.samplesDropped.rejected += item.samples;
        this.note('warn', { status: r.status, answer: r.why }, `remote_write: the receiver refused a write (HTTP ${r.status}); it is dropped, not retried`);
        continue;
      }
      this.samplesFailed += item.samples;
      item.attempts++;
      if (this.failingSince === 0) this.failingSince = Date.now();
      this.note('warn', { why: r.why, queued: this.queue.length }, 'remote_write: a write failed; retrying with backoff');
      if (this.closed) return;
      const wait = Math.min(BACKOFF_MAX_MS, Math.max(this.backoffMs, r.afterMs ?? 0));
      this.backoffMs = Math.min(BACKOFF_MAX_MS, this.backoffMs * 2);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, wait);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  private async attempt(item: Pending): Promise<Attempt> {
    const headers: Record<string, string> = {
      'content-encoding': 'snappy',
      'content-type': 'application/x-protobuf',
      'x-prometheus-remote-write-version': '0.1.0',
      'user-agent': `tallyd/${this.opts.version}`,
    };
    if (this.def.bearerToken !== null) headers.authorization = `Bearer ${this.def.bearerToken}`;
    const ac = new AbortController();
    this.inflight = ac;
    const timer = setTimeout(() => ac.abort(new Error(`no answer in ${this.def.timeoutMs} ms`)), this.def.timeoutMs);
    this.requests++;
    try {
      const res = await fetch(this.def.url, { method: 'POST', headers, body: item.body, signal: ac.signal });
      const answer = res.ok ? '' : (await res.text().catch(() => '')).slice(0, 300).trim();
      if (res.ok) return { kind: 'sent' };
      if (res.status === 429 || res.status >= 500) return { kind: 'retry', why: `HTTP ${res.status} ${answer}`.trim(), afterMs: retryAfterMs(res.headers.get('retry-after')) };
      return { kind: 'rejected', status: res.status, why: answer };
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      const why = ac.signal.aborted ? String((ac.signal.reason as Error)?.message ?? 'aborted') : (err.cause?.code ?? err.cause?.message ?? err.message);
      return { kind: 'retry', why, afterMs: null };
    } finally {
      clearTimeout(timer);
      this.inflight = null;
    }
  }

  /** Logs at most once a minute per writer (a receiver that is down must not flood the log). */
  private note(level: 'warn', fields: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    if (now - this.lastLog < LOG_EVERY_MS) return;
    this.lastLog = now;
    this.opts.logger?.[level]({ remoteWrite: this.def.name, url: this.def.url, ...fields }, msg);
  }

  /**
   * Stops the timer; with `final`, pushes it after what is queued, waiting
   * at most `deadlineMs` for the queue to empty. Then whatever is left is
   * abandoned (counted as dropped, queue_full).
   */
  async stop(final: TimeSeries[] | null, deadlineMs: number): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (final !== null) this.push(final);
    this.closed = true;
    // a backoff wait ends now: the request that waited is tried once more, within the deadline
    this.wake?.();
    const running = this.pumping;
    if (running !== null) {
      let t: NodeJS.Timeout | undefined;
      await Promise.race([running, new Promise<void>((r) => (t = setTimeout(r, deadlineMs)))]);
      clearTimeout(t);
    }
    this.inflight?.abort(new Error('tallyd is stopping'));
    for (const p of this.queue.splice(0)) this.samplesDropped.queue_full += p.samples;
  }
}

/** Retry-After as seconds or an HTTP date, in ms; null when absent or unreadable. */
export function retryAfterMs(v: string | null): number | null {
  if (v === null || v.trim() === '') return null;
  const s = Number(v);
  if (Number.isFinite(s)) return s >= 0 ? s * 1000 : null;
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : Math.max(0, t - Date.now());
}
