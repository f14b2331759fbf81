/**
 * `GET /v1/live`: server-sent events for the live page. The sampler runs
 * only while at least one client is connected (an idle server pays
 * nothing); each client gets an `init` event (what the page shows around
 * the charts, the recent errors and up to a minute of points), then a
 * `point` event every second. A client that does not keep up is skipped
 * until its connection drains, then sent a fresh `init`.
 */
import type { Runtime } from '../../shard/runtime.js';
import { fail } from '../respond.js';
import type { Begin, HttpResponse, StreamOut } from '../types.js';
import type { RecentLog } from './recent.js';
import { Sampler, SAMPLE_INTERVAL_MS, TOP_SUB_METRICS, WINDOW_SECONDS, type LivePoint } from './sampler.js';

/** Live clients at once; more are answered 503. */
export const MAX_LIVE_CLIENTS = 32;
/** A client that has not drained for this long is disconnected. */
const STALLED_MS = 30_000;

/** What the page shows around the charts. */
export interface LiveInfo {
  version: string;
  transport: string;
  listen: string;
  configFile: string | null;
  readiness: string;
  /** Unix time, s */
  startTime: number;
  shards: number;
  metrics: number;
}

interface Client {
  out: StreamOut;
  /** since when it has not drained (ms), or 0 */
  stalledSince: number;
  needInit: boolean;
  recentSeq: number;
}

export interface LiveHubOptions {
  runtime: Runtime;
  recent: RecentLog;
  info: () => LiveInfo;
  /** false once the server drains: the streams end */
  open: () => boolean;
}

export class LiveHub {
  private readonly opts: LiveHubOptions;
  private readonly sampler: Sampler;
  private readonly clients = new Set<Client>();
  private points: LivePoint[] = [];
  private timer: NodeJS.Timeout | null = null;
  private sampling = false;

  constructor(opts: LiveHubOptions) {
    this.opts = opts;
    this.sampler = new Sampler(opts.runtime);
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** The route's answer: an event stream. */
  stream(): Begin | HttpResponse {
    if (!this.opts.open()) return fail(503, 'ERR_HTTP_BUSY', 'tallyd is shutting down', { 'retry-after': '5' });
    if (this.clients.size >= MAX_LIVE_CLIENTS) {
      return fail(503, 'ERR_HTTP_BUSY', `${MAX_LIVE_CLIENTS} live pages are open; retry later`, { 'retry-after': '5' });
    }
    return {
      kind: 'stream',
      headers: {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-accel-buffering': 'no',
      },
      open: (out) => this.attach(out),
    };
  }

  private attach(out: StreamOut): void {
    const c: Client = { out, stalledSince: 0, needInit: true, recentSeq: -1 };
    this.clients.add(c);
    out.onClose(() => {
      this.clients.delete(c);
      if (this.clients.size === 0) this.stop();
    });
    out.onDrain(() => {
      if (c.stalledSince !== 0) {
        c.stalledSince = 0;
        c.needInit = true;
      }
    });
    this.write(c, `: tallyd live\nretry: 2000\n\n`);
    if (this.points.length > 0) this.send(c);
    if (this.timer === null) {
      this.timer = setInterval(() => void this.tick(), SAMPLE_INTERVAL_MS);
      this.timer.unref();
      void this.tick();
    }
  }

  private write(c: Client, chunk: string): void {
    if (!c.out.write(chunk) && c.stalledSince === 0) c.stalledSince = Date.now();
  }

  private send(c: Client): void {
    if (c.stalledSince !== 0) {
      if (Date.now() - c.stalledSince > STALLED_MS) c.out.end();
      return;
    }
    const recent = this.opts.recent;
    const newRecent = c.recentSeq !== recent.seq;
    c.recentSeq = recent.seq;
    if (c.needInit) {
      c.needInit = false;
      const init = {
        info: this.opts.info(),
        windowSeconds: WINDOW_SECONDS,
        topSubMetrics: TOP_SUB_METRICS,
        recent: recent.list(),
        points: this.points,
      };
      this.write(c, `event: init\ndata: ${JSON.stringify(init)}\n\n`);
      return;
    }
    const p = this.points[this.points.length - 1];
    const msg = newRecent ? { point: p, recent: recent.list() } : { point: p };
    this.write(c, `event: point\ndata: ${JSON.stringify(msg)}\n\n`);
  }

  private async tick(): Promise<void> {
    if (this.sampling) return;
    if (!this.opts.open()) {
      this.close();
      return;
    }
    this.sampling = true;
    try {
      const p = await this.sampler.sample();
      if (this.timer === null) return; // every client left meanwhile
      this.points.push(p);
      if (this.points.length > WINDOW_SECONDS) this.points.shift();
      for (const c of this.clients) this.send(c);
    } catch {
      // the runtime is closing: the next tick ends the streams
    } finally {
      this.sampling = false;
    }
  }

  private stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.points = [];
    this.sampler.clear();
  }

  /** Ends every stream (shutdown). */
  close(): void {
    for (const c of [...this.clients]) c.out.end();
    this.clients.clear();
    this.stop();
  }
}
