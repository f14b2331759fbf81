/**
 * What the server logs, in one place: the lines an operator reads (metric
 * add/remove, resets, rejected batches, backpressure, shard restarts) and
 * the debug line of every other 4xx answer. The noisy ones — rejected
 * batches, backpressure, shard restarts — go through a LogLimiter: at most
 * one line per key and window, carrying the count of lines left out since
 * the previous one (`suppressed`).
 */
import type { Logger } from 'pino';
import { LogLimiter } from './limit.js';

/** Where a request came from: the HTTP API, a WebSocket, one of the Dovecot sockets. */
export type Via = 'http' | 'websocket' | 'stats-reader' | 'stats-writer';

export class ServerLog {
  private readonly limiter: LogLimiter;

  constructor(
    readonly logger: Logger | undefined,
    limiter?: LogLimiter,
  ) {
    this.limiter = limiter ?? new LogLimiter();
  }

  /** the window of the rate-limited lines, seconds */
  private get windowS(): number {
    return this.limiter.windowMs / 1000;
  }

  private limited(level: 'warn' | 'info', key: string, fields: Record<string, unknown>, msg: string): void {
    const log = this.logger;
    if (log === undefined || !log.isLevelEnabled(level)) return;
    const suppressed = this.limiter.take(key);
    if (suppressed === null) return;
    log[level]({ ...fields, ...(suppressed > 0 ? { suppressed, window_s: this.windowS } : {}) }, msg);
  }

  metricAdded(name: string, via: Via, peer: string | null, def: { filter: string; fields: readonly string[]; groupBy: string }): void {
    this.logger?.info({ metric: name, via, ...(peer !== null ? { peer } : {}), filter: def.filter, fields: def.fields.join(' '), group_by: def.groupBy }, 'metric added');
  }

  metricRemoved(name: string, via: Via, peer: string | null): void {
    this.logger?.info({ metric: name, via, ...(peer !== null ? { peer } : {}) }, 'metric removed');
  }

  reset(via: Via, peer: string | null): void {
    this.logger?.info({ via, ...(peer !== null ? { peer } : {}) }, 'statistics reset (dump and zero)');
  }

  /**
   * A batch refused whole (`status` 4xx) or with rejected events in it
   * (`status` 200; `reason` is the first rejected event's reason): one
   * line per peer and reason per window.
   */
  rejected(peer: string, via: Via, reason: string, detail: string, counts: { status: number; events?: number; rejected?: number }): void {
    const msg = counts.status === 200 ? 'events rejected' : 'batch rejected';
    this.limited('warn', `rejected\0${peer}\0${reason}`, { peer, via, reason, detail, ...counts }, msg);
  }

  /** Every shard ring full: a batch answered busy (HTTP 503, WebSocket busy) or a stats-writer connection paused. */
  backpressure(via: Via, peer: string | null, what: string): void {
    this.limited('warn', `busy\0${via}`, { via, ...(peer !== null ? { peer } : {}) }, what);
  }

  shardRestart(shard: number, err: unknown): void {
    const e = err as Error | undefined;
    this.limited('warn', `shard\0${shard}`, { shard, err: e?.message ?? String(err) }, 'shard worker died; restarting it');
  }

  /** Any other 4xx answer, at debug. */
  clientError(peer: string, method: string, path: string, status: number, code: string, message: string): void {
    const log = this.logger;
    if (log === undefined || !log.isLevelEnabled('debug')) return;
    log.debug({ peer, method, path, status, error: code, detail: message }, 'request refused');
  }
}

/** The reason code of an `errors[].reason` text (`missing_name: ...` → `missing_name`). */
export function reasonCode(detail: string): string {
  const i = detail.indexOf(':');
  return i < 0 ? detail : detail.slice(0, i);
}
