/**
 * `tallyd load` (docs/contract.md §9): a bounded load generator. Batches of realistic mail
 * events, generated from a seed and encoded once, go to a server over HTTP
 * (`POST /v1/events`) or WebSocket (`/v1/events/stream?ack=1`); a progress
 * line on a terminal, then a report (text or JSON) of what was sent,
 * accepted, refused busy and failed, the rate and the ack latencies.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { parseArgs } from 'node:util';
import { Packr } from 'msgpackr';
import WebSocket from 'ws';
import { CliError, durationOption, type Command } from './common.js';
import {
  authHeaders,
  DEFAULT_URL,
  describeFailure,
  displayUrl,
  endpoint,
  errorOf,
  intOption,
  numberOption,
  RemoteError,
  request,
  serverUrl,
  unreachable,
  type Answer,
} from './http.js';
import { MailEventGenerator } from './mailevents.js';
import { parseScrapeInterval, SCRAPE_FORMATS, ScrapeLoad, scrapeRows, type ScrapeFormat, type ScrapeReport } from './scrape-load.js';

type Transport = 'http' | 'ws';
type Format = 'msgpack' | 'json';

export interface LoadPlan {
  base: URL;
  transport: Transport;
  format: Format;
  /** total events to send, Infinity when only the duration bounds the run */
  events: number;
  /** ms, Infinity when only the event count bounds the run */
  durationMs: number;
  batch: number;
  /** events/s, 0 = as fast as possible */
  rate: number;
  connections: number;
  /** WebSocket messages in flight per connection */
  window: number;
  seed: number;
  /** distinct pre-encoded batches cycled through */
  pool: number;
  users: number;
  headers: Record<string, string>;
  /** the run stops after this many failed batches */
  maxErrors: number;
  /** a batch refused busy for this long is given up as an error, ms */
  busyGiveUpMs: number;
  timeoutMs: number;
  progress: boolean;
}

/** The report: `--json` prints exactly this object. */
export interface LoadReport {
  transport: Transport;
  format: Format;
  url: string;
  connections: number;
  window: number | null;
  batch: number;
  rate: number;
  seed: number;
  /** events of batches sent at least once */
  events_sent: number;
  /** events the server acknowledged as accepted */
  events_accepted: number;
  /** events the server acknowledged as rejected */
  events_rejected: number;
  /** events of batches that failed with an error (no ack) */
  events_failed: number;
  batches_sent: number;
  batches_acked: number;
  /** busy answers (HTTP 503, WebSocket `busy`); those batches were sent again */
  busy_refusals: number;
  /** batches that failed with an error (not busy) */
  errors: number;
  bytes_sent: number;
  elapsed_s: number;
  accepted_per_s: number;
  latency_p50_ms: number;
  latency_p99_ms: number;
  latency_max_ms: number;
  /** why sending stopped: events, duration, errors, interrupted */
  stopped_by: 'events' | 'duration' | 'errors' | 'interrupted';
  first_error: string | null;
  /** with --scrapers: the scrape-path figures */
  scrape?: ScrapeReport;
}

interface Batch {
  data: Buffer;
  events: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Encodes `pool` distinct batches of `size` events (and a shorter tail batch if needed). */
function buildPool(plan: LoadPlan): { pool: Buffer[]; tail: Buffer | null } {
  const gen = new MailEventGenerator({ seed: plan.seed, users: plan.users });
  // plain msgpack maps, no record extension: what any producer sends (docs/contract.md §2.3)
  const packr = new Packr({ useRecords: false });
  const encode = (events: unknown[]): Buffer =>
    plan.format === 'msgpack' ? packr.pack(events) : Buffer.from(JSON.stringify(events));
  const total = plan.events;
  const full = Number.isFinite(total) ? Math.floor(total / plan.batch) : Infinity;
  const n = Math.max(0, Math.min(plan.pool, full));
  const pool: Buffer[] = [];
  for (let i = 0; i < n; i++) pool.push(encode(gen.batch(plan.batch)));
  const rest = Number.isFinite(total) ? total % plan.batch : 0;
  return { pool, tail: rest > 0 ? encode(gen.batch(rest)) : null };
}

/** Hands out batches: bounded by count and time, paced by the rate. */
class Dispatcher {
  private issued = 0;
  private index = 0;
  private t0 = 0;
  private deadline = Infinity;
  stopped: LoadReport['stopped_by'] | null = null;

  constructor(
    private readonly plan: LoadPlan,
    private readonly pool: Buffer[],
    private readonly tail: Buffer | null,
  ) {}

  start(t0: number): void {
    this.t0 = t0;
    this.deadline = t0 + this.plan.durationMs;
  }

  stop(why: LoadReport['stopped_by']): void {
    this.stopped ??= why;
  }

  private exhausted(now: number): boolean {
    if (this.stopped !== null) return true;
    if (this.issued >= this.plan.events) {
      this.stop('events');
      return true;
    }
    if (now >= this.deadline) {
      this.stop('duration');
      return true;
    }
    return false;
  }

  async next(): Promise<Batch | null> {
    if (this.exhausted(performance.now())) return null;
    const left = this.plan.events - this.issued;
    let batch: Batch;
    if (left >= this.plan.batch && this.pool.length > 0) {
      batch = { data: this.pool[this.index % this.pool.length] as Buffer, events: this.plan.batch };
      this.index++;
    } else {
      batch = { data: this.tail as Buffer, events: left };
    }
    if (this.plan.rate > 0) {
      const due = this.t0 + (this.issued * 1000) / this.plan.rate;
      if (due >= this.deadline) {
        // its time comes after the end of the run
        this.stop('duration');
        return null;
      }
      this.issued += batch.events;
      const wait = due - performance.now();
      if (wait > 0) {
        await sleep(wait);
        // (a stop for the duration, seen by a later batch, leaves this one due)
        if (this.stopped === 'errors' || this.stopped === 'interrupted') return null;
      }
      return batch;
    }
    this.issued += batch.events;
    return batch;
  }
}

class Tally {
  eventsSent = 0;
  accepted = 0;
  rejected = 0;
  eventsFailed = 0;
  batchesSent = 0;
  batchesAcked = 0;
  busy = 0;
  errors = 0;
  bytes = 0;
  latencies: number[] = [];
  firstError: string | null = null;
  reasonsShown = 0;
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((sorted.length * p) / 100) - 1));
  return sorted[i] as number;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

class LoadRun {
  readonly tally = new Tally();
  private readonly dispatcher: Dispatcher;
  /** ms since the run started at which a batch was last acked */
  private lastAck = 0;
  private t0 = 0;
  private readonly shownErrors = new Set<string>();

  constructor(
    private readonly plan: LoadPlan,
    pool: { pool: Buffer[]; tail: Buffer | null },
  ) {
    this.dispatcher = new Dispatcher(plan, pool.pool, pool.tail);
  }

  interrupt(): void {
    this.dispatcher.stop('interrupted');
  }

  private sent(b: Batch): void {
    this.tally.eventsSent += b.events;
    this.tally.batchesSent++;
  }

  private acked(b: Batch, latencyMs: number, accepted: number, rejected: number, firstReason?: string): void {
    const t = this.tally;
    t.batchesAcked++;
    t.accepted += accepted;
    t.rejected += rejected;
    t.latencies.push(latencyMs);
    this.lastAck = performance.now();
    if (accepted + rejected !== b.events) {
      this.failed(b, `the ack counts ${accepted + rejected} events for a batch of ${b.events}`, false, false);
    }
    if (rejected > 0 && firstReason !== undefined && t.reasonsShown < 5) {
      t.reasonsShown++;
      this.note(`${rejected} event(s) of a batch rejected: ${firstReason}`);
    }
  }

  /** A batch failed with an error. `fatal` stops the run (the same would happen to every batch). */
  failed(b: Batch | null, why: string, fatal: boolean, countEvents = true): void {
    const t = this.tally;
    t.errors++;
    if (b !== null && countEvents) t.eventsFailed += b.events;
    t.firstError ??= why;
    // each distinct message once, at most 5
    if (!this.shownErrors.has(why)) {
      if (this.shownErrors.size < 5) this.note(`${b === null ? 'connection' : 'batch'} failed: ${why}`);
      else if (this.shownErrors.size === 5) this.note('(further errors are only counted)');
      this.shownErrors.add(why);
    }
    if (fatal || t.errors >= this.plan.maxErrors) this.dispatcher.stop('errors');
  }

  private busy(): void {
    this.tally.busy++;
  }

  private note(line: string): void {
    if (this.plan.progress) process.stderr.write('\r\x1b[K');
    process.stderr.write(`tallyd load: ${line}\n`);
  }

  // ---- HTTP ------------------------------------------------------------

  private async httpWorker(agent: http.Agent, url: URL, headers: Record<string, string>): Promise<void> {
    for (;;) {
      const b = await this.dispatcher.next();
      if (b === null) return;
      this.sent(b);
      let backoff = 5;
      const firstTry = performance.now();
      for (;;) {
        this.tally.bytes += b.data.length;
        const t = performance.now();
        let a: Answer;
        try {
          a = await request(this.plan.base, url, { method: 'POST', headers, body: b.data, agent, timeoutMs: this.plan.timeoutMs });
        } catch (e) {
          this.failed(b, (e as Error).message, false);
          break;
        }
        const lat = performance.now() - t;
        if (a.status === 200) {
          let o: { accepted?: unknown; rejected?: unknown; errors?: { reason?: string }[] };
          try {
            o = JSON.parse(a.body.toString('utf8')) as typeof o;
          } catch {
            this.failed(b, 'the answer to a batch is not JSON', false);
            break;
          }
          if (typeof o.accepted !== 'number' || typeof o.rejected !== 'number') {
            this.failed(b, 'the answer to a batch has no accepted/rejected counts', false);
            break;
          }
          this.acked(b, lat, o.accepted, o.rejected, o.errors?.[0]?.reason);
          break;
        }
        if (a.status === 503) {
          this.busy();
          if (performance.now() - firstTry > this.plan.busyGiveUpMs) {
            this.failed(b, `the server stayed busy for ${Math.round(this.plan.busyGiveUpMs / 1000)} s: ${describeFailure(a)}`, false);
            break;
          }
          await sleep(backoff);
          backoff = Math.min(backoff * 2, 500);
          continue;
        }
        // 4xx answers repeat for every batch: stop the run; 5xx may pass
        this.failed(b, `HTTP ${a.status} ${errorOf(a)?.error ?? ''} ${describeFailure(a)}`.replace(/ +/g, ' '), a.status < 500);
        break;
      }
    }
  }

  private async runHttp(): Promise<void> {
    const { plan } = this;
    const mod = plan.base.protocol === 'https:' ? https : http;
    const agent = new mod.Agent({ keepAlive: true, maxSockets: plan.connections, maxFreeSockets: plan.connections });
    const url = endpoint(plan.base, '/v1/events');
    const headers = {
      ...plan.headers,
      'content-type': plan.format === 'msgpack' ? 'application/msgpack' : 'application/json',
    };
    try {
      await Promise.all(Array.from({ length: plan.connections }, () => this.httpWorker(agent, url, headers)));
    } finally {
      agent.destroy();
    }
  }

  // ---- WebSocket -------------------------------------------------------

  private wsUrl(): URL {
    const u = endpoint(this.plan.base, '/v1/events/stream', { ack: '1' });
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    return u;
  }

  /** Opens one connection; rejects with a readable error. */
  private openWs(url: URL): Promise<WebSocket> {
    const { plan } = this;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, {
        headers: plan.headers,
        perMessageDeflate: false,
        handshakeTimeout: plan.timeoutMs,
        maxPayload: 64 * 1024 * 1024,
      });
      ws.once('open', () => resolve(ws));
      ws.once('unexpected-response', (_req, res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const a: Answer = { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) };
          reject(new RemoteError(`WebSocket upgrade refused: HTTP ${a.status}: ${describeFailure(a)}`, a.status));
          ws.terminate();
        });
      });
      ws.once('error', (e) => reject(unreachable(plan.base, e)));
    });
  }

  private async wsConnection(url: URL): Promise<void> {
    const { plan } = this;
    const retry: { b: Batch; firstTry: number; backoff: number }[] = [];
    let waitingRetries = 0;
    let exhausted = false;
    let reconnects = 0;
    while (this.dispatcher.stopped !== 'errors') {
      let ws: WebSocket;
      try {
        ws = await this.openWs(url);
      } catch (e) {
        const status = e instanceof RemoteError ? e.status : 0;
        // a refused upgrade (401, 404) repeats for every connection
        this.failed(null, (e as Error).message, status >= 400 && status < 500 && status !== 429);
        if (reconnects++ > 10) this.dispatcher.stop('errors');
        await sleep(200);
        continue;
      }
      const pending = new Map<number, { b: Batch; t: number; firstTry: number; backoff: number }>();
      let seq = 0;
      let closed = false;
      let wake: (() => void) | null = null;
      const signal = (): void => {
        const w = wake;
        wake = null;
        w?.();
      };
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        if (isBinary) return;
        let m: { seq?: number; accepted?: number; rejected?: number; busy?: boolean; error?: string; message?: string; errors?: { reason?: string }[] };
        try {
          m = JSON.parse(data.toString('utf8')) as typeof m;
        } catch {
          return;
        }
        const p = typeof m.seq === 'number' ? pending.get(m.seq) : undefined;
        if (p === undefined) return;
        pending.delete(m.seq as number);
        const lat = performance.now() - p.t;
        if (m.busy === true) {
          this.busy();
          if (performance.now() - p.firstTry > plan.busyGiveUpMs) {
            this.failed(p.b, `the server stayed busy for ${Math.round(plan.busyGiveUpMs / 1000)} s: ${m.message ?? 'busy'}`, false);
          } else {
            waitingRetries++;
            setTimeout(() => {
              waitingRetries--;
              retry.push({ b: p.b, firstTry: p.firstTry, backoff: Math.min(p.backoff * 2, 500) });
              signal();
            }, p.backoff);
          }
        } else if (typeof m.error === 'string') {
          this.failed(p.b, `${m.error} ${m.message ?? ''}`.trim(), m.error === 'ERR_INGEST_FRAMING');
        } else if (typeof m.accepted === 'number' && typeof m.rejected === 'number') {
          this.acked(p.b, lat, m.accepted, m.rejected, m.errors?.[0]?.reason);
        } else {
          this.failed(p.b, `an ack without counts: ${data.toString('utf8').slice(0, 200)}`, false);
        }
        signal();
      });
      // a message whose ack does not come in time: give up on the connection
      let timedOut = false;
      const watchdog = setInterval(() => {
        const oldest = pending.values().next();
        if (!oldest.done && performance.now() - oldest.value.t > plan.timeoutMs) {
          timedOut = true;
          ws.terminate();
        }
      }, Math.min(1000, plan.timeoutMs));
      ws.on('close', (code: number, reason: Buffer) => {
        closed = true;
        clearInterval(watchdog);
        if (pending.size > 0) {
          const why = timedOut
            ? `no ack within ${plan.timeoutMs / 1000} s: closed the WebSocket with ${pending.size} message(s) unacknowledged`
            : `the WebSocket closed (${code}${reason.length > 0 ? ` ${reason.toString()}` : ''}) with ${pending.size} message(s) unacknowledged`;
          for (const p of pending.values()) this.failed(p.b, why, false);
          pending.clear();
        }
        signal();
      });
      ws.on('error', () => undefined);
      const send = (b: Batch, firstTry: number, backoff: number): void => {
        const s = ++seq;
        const t = performance.now();
        pending.set(s, { b, t, firstTry, backoff });
        this.tally.bytes += b.data.length;
        ws.send(b.data, { binary: plan.format === 'msgpack' });
      };
      while (!closed) {
        if (pending.size < plan.window && retry.length > 0) {
          const r = retry.shift() as (typeof retry)[number];
          send(r.b, r.firstTry, r.backoff);
          continue;
        }
        if (pending.size < plan.window && !exhausted) {
          const b = await this.dispatcher.next();
          if (b === null) exhausted = true;
          else if (closed) {
            this.sent(b);
            this.failed(b, 'the WebSocket closed', false);
          } else {
            this.sent(b);
            send(b, performance.now(), 5);
          }
          continue;
        }
        if (exhausted && pending.size === 0 && retry.length === 0 && waitingRetries === 0) break;
        await new Promise<void>((r) => {
          wake = r;
        });
      }
      if (!closed) {
        await new Promise<void>((r) => {
          ws.once('close', () => r());
          ws.close(1000, 'done');
          setTimeout(() => {
            ws.terminate();
            r();
          }, 2000).unref();
        });
        return;
      }
      // closed under us: batches waiting for a retry go out on a new connection
      if (exhausted && retry.length === 0 && waitingRetries === 0) return;
      if (reconnects++ > 10) {
        this.dispatcher.stop('errors');
        for (const r of retry.splice(0)) this.failed(r.b, 'the WebSocket closed', false);
        return;
      }
      await sleep(100);
    }
    for (const r of retry.splice(0)) this.failed(r.b, 'the run stopped after errors', false, true);
  }

  private async runWs(): Promise<void> {
    const url = this.wsUrl();
    await Promise.all(Array.from({ length: this.plan.connections }, () => this.wsConnection(url)));
  }

  // ---- the run ---------------------------------------------------------

  private progressLine(prev: { t: number; acked: number }): string {
    const t = this.tally;
    const now = performance.now();
    const acked = t.accepted + t.rejected;
    const eps = ((acked - prev.acked) * 1000) / Math.max(1, now - prev.t);
    prev.t = now;
    prev.acked = acked;
    const secs = ((now - this.t0) / 1000).toFixed(0);
    return `${secs}s  sent ${t.eventsSent}  acked ${acked}  ${formatRate(eps)} events/s  busy ${t.busy}  errors ${t.errors}`;
  }

  async run(): Promise<LoadReport> {
    const { plan } = this;
    this.t0 = performance.now();
    this.dispatcher.start(this.t0);
    let timer: NodeJS.Timeout | null = null;
    if (plan.progress) {
      const prev = { t: this.t0, acked: 0 };
      timer = setInterval(() => process.stderr.write(`\r\x1b[K${this.progressLine(prev)}`), 1000);
    }
    try {
      if (plan.transport === 'http') await this.runHttp();
      else await this.runWs();
    } finally {
      if (timer !== null) {
        clearInterval(timer);
        process.stderr.write('\r\x1b[K');
      }
    }
    let end = this.lastAck > 0 ? this.lastAck : performance.now();
    // a paced run bounded by time lasted the time asked, even if its last ack came sooner
    if (this.dispatcher.stopped === 'duration') end = Math.max(end, this.t0 + plan.durationMs);
    const elapsed = Math.max(1e-3, (end - this.t0) / 1000);
    const t = this.tally;
    const lat = Float64Array.from(t.latencies).sort();
    return {
      transport: plan.transport,
      format: plan.format,
      url: displayUrl(plan.base),
      connections: plan.connections,
      window: plan.transport === 'ws' ? plan.window : null,
      batch: plan.batch,
      rate: plan.rate,
      seed: plan.seed,
      events_sent: t.eventsSent,
      events_accepted: t.accepted,
      events_rejected: t.rejected,
      events_failed: t.eventsFailed,
      batches_sent: t.batchesSent,
      batches_acked: t.batchesAcked,
      busy_refusals: t.busy,
      errors: t.errors,
      bytes_sent: t.bytes,
      elapsed_s: round3(elapsed),
      accepted_per_s: Math.round(t.accepted / elapsed),
      latency_p50_ms: round3(percentile(lat, 50)),
      latency_p99_ms: round3(percentile(lat, 99)),
      latency_max_ms: round3(lat.length > 0 ? (lat[lat.length - 1] as number) : 0),
      stopped_by: this.dispatcher.stopped ?? 'events',
      first_error: t.firstError,
    };
  }
}

function formatRate(x: number): string {
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (x >= 1e4) return `${(x / 1e3).toFixed(1)}k`;
  return x.toFixed(0);
}

export function formatReport(r: LoadReport): string {
  const rows: [string, string][] = [
    ['target', `${r.url} (${r.transport}, ${r.format}, ${r.connections} connection(s)${r.window !== null ? `, window ${r.window}` : ''})`],
    ['batch / rate / seed', `${r.batch} / ${r.rate === 0 ? 'unlimited' : `${r.rate} events/s`} / ${r.seed}`],
    ['events sent', String(r.events_sent)],
    ['accepted', String(r.events_accepted)],
    ['rejected', String(r.events_rejected)],
    ['failed', String(r.events_failed)],
    ['batches sent / acked', `${r.batches_sent} / ${r.batches_acked}`],
    ['busy refusals', String(r.busy_refusals)],
    ['errors', String(r.errors)],
    ['bytes sent', String(r.bytes_sent)],
    ['elapsed', `${r.elapsed_s.toFixed(3)} s (stopped by ${r.stopped_by})`],
    ['accepted events/s', String(r.accepted_per_s)],
    ['ack latency (ms)', `p50 ${r.latency_p50_ms.toFixed(2)}  p99 ${r.latency_p99_ms.toFixed(2)}  max ${r.latency_max_ms.toFixed(2)}`],
  ];
  if (r.first_error !== null) rows.push(['first error', r.first_error]);
  if (r.scrape !== undefined) rows.push(...scrapeRows(r.scrape));
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n') + '\n';
}

export const loadCommand: Command = {
  help: [
    'Usage: tallyd load --url URL (--events N | --duration D) [options]',
    '',
    'Sends batches of realistic mail events (imap_command_finished,',
    'auth_request_finished, mail_delivery_finished; log-normal durations),',
    'generated from a seed and encoded once, to POST /v1/events (http) or',
    'WS /v1/events/stream?ack=1 (ws). Stops after N events or S seconds,',
    'whichever comes first; it does not run without a bound. Busy answers',
    '(503, WebSocket busy) are counted and the batch is sent again after a',
    'short backoff. A progress line goes to stderr when it is a terminal; the',
    'report goes to stdout. Exits 1 if any batch failed with an error.',
    '',
    'Options:',
    `  --url URL            the server (default: $TALLYD_URL, else ${DEFAULT_URL})`,
    '  --transport T        http (default) or ws',
    '  --format F           msgpack (default) or json',
    '  -n, --events N       events to send (k and M suffixes: 10M)',
    '  -d, --duration D     how long to send for (10s, 500ms, 2m; a bare number is seconds)',
    '  --batch B            events per batch (default 1000)',
    '  --rate R             events/s, 0 = as fast as possible (default 0)',
    '  -c, --connections C  concurrent requests (http) or connections (ws)',
    '                       (default 4)',
    '  --window W           ws: messages in flight per connection (default 8)',
    '  --seed S             seed of the event generator (default 1)',
    '  --pool P             distinct batches encoded and cycled (default 64)',
    '  --users U            distinct users in the events (default 1000)',
    '  --token T            ingest token (default: $TALLYD_INGEST_TOKEN)',
    '  --max-errors M       stop after M failed batches (default 100)',
    '  --timeout D          how long to wait for one answer (default 30s)',
    '  --json               print the report as one JSON object',
    '  -q, --quiet          no progress line',
    '  --scrapers N         also scrape GET /metrics from N concurrent clients',
    '                       while sending (with --events 0 and --duration: only',
    '                       scrape); the report adds scrape latency, bytes and',
    '                       series per scrape and failed scrapes',
    '  --scrape-interval I  each scraper\'s interval (default 1s; 500ms, 2s)',
    '  --scrape-format F    text (default), openmetrics or protobuf (the Accept',
    '                       header sent; the report names the type answered)',
    '',
    'JSON report keys: transport format url connections window batch rate seed',
    'events_sent events_accepted events_rejected events_failed batches_sent',
    'batches_acked busy_refusals errors bytes_sent elapsed_s accepted_per_s',
    'latency_p50_ms latency_p99_ms latency_max_ms stopped_by first_error',
    '(latency: from sending a batch to its ack, per acknowledged batch).',
  ].join('\n'),
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        url: { type: 'string' },
        transport: { type: 'string', default: 'http' },
        format: { type: 'string', default: 'msgpack' },
        events: { type: 'string', short: 'n' },
        duration: { type: 'string', short: 'd' },
        batch: { type: 'string' },
        rate: { type: 'string' },
        connections: { type: 'string', short: 'c' },
        window: { type: 'string' },
        seed: { type: 'string' },
        pool: { type: 'string' },
        users: { type: 'string' },
        token: { type: 'string' },
        'max-errors': { type: 'string' },
        timeout: { type: 'string' },
        json: { type: 'boolean', default: false },
        quiet: { type: 'boolean', short: 'q', default: false },
        scrapers: { type: 'string' },
        'scrape-interval': { type: 'string' },
        'scrape-format': { type: 'string' },
      },
    });
    const scrapers = intOption('--scrapers', values.scrapers, 0, 0);
    const scrapeFormat = (values['scrape-format'] ?? 'text') as ScrapeFormat;
    if (!SCRAPE_FORMATS.includes(scrapeFormat)) throw new CliError(`--scrape-format must be one of ${SCRAPE_FORMATS.join(', ')}, not '${values['scrape-format']}'`);
    const scrapeIntervalMs = parseScrapeInterval(values['scrape-interval']);
    if (scrapers > 1024) throw new CliError('--scrapers is at most 1024');
    if (positionals.length > 0) throw new CliError(`unexpected parameter '${positionals[0]}'`);
    const transport = values.transport as Transport;
    if (transport !== 'http' && transport !== 'ws') throw new CliError(`--transport must be http or ws, not '${values.transport}'`);
    const format = values.format as Format;
    if (format !== 'msgpack' && format !== 'json') throw new CliError(`--format must be msgpack or json, not '${values.format}'`);
    if (values.events === undefined && values.duration === undefined) {
      throw new CliError('refusing to run unbounded: give --events N, --duration S, or both');
    }
    const events = values.events === undefined ? Infinity : intOption('--events', values.events, 1, scrapers > 0 ? 0 : 1);
    if (events === 0 && values.duration === undefined) throw new CliError('--events 0 (scrape only) needs --duration');
    const duration = values.duration === undefined ? Infinity : durationOption('--duration', values.duration, 0) / 1000;
    if (values.duration !== undefined && !(duration > 0)) throw new CliError('--duration must be more than 0 seconds');
    const seedText = values.seed ?? '1';
    if (!/^\d+$/.test(seedText) || Number(seedText) > 0xffffffff) throw new CliError(`--seed must be an integer from 0 to 4294967295, not '${seedText}'`);
    const timeout = durationOption('--timeout', values.timeout, 30_000) / 1000;
    const plan: LoadPlan = {
      base: serverUrl(values.url),
      transport,
      format,
      events,
      durationMs: duration * 1000,
      batch: intOption('--batch', values.batch, 1000),
      rate: numberOption('--rate', values.rate, 0),
      connections: intOption('--connections', values.connections, 4),
      window: intOption('--window', values.window, 8),
      seed: Number(seedText),
      pool: intOption('--pool', values.pool, 64),
      users: intOption('--users', values.users, 1000),
      headers: authHeaders(values.token),
      maxErrors: intOption('--max-errors', values['max-errors'], 100),
      busyGiveUpMs: 30_000,
      timeoutMs: timeout * 1000,
      progress: !values.quiet && process.stderr.isTTY === true,
    };
    if (plan.connections > 1024) throw new CliError('--connections is at most 1024');
    if (plan.window > 1024) throw new CliError('--window is at most 1024');

    // is anything there? (a dead port fails here, once, instead of once per batch)
    let live: Answer;
    try {
      live = await request(plan.base, endpoint(plan.base, '/livez'), { agent: false, timeoutMs: plan.timeoutMs });
    } catch (e) {
      throw e instanceof RemoteError ? e : unreachable(plan.base, e);
    }
    if (live.status !== 200) {
      process.stderr.write(`tallyd load: warning: GET ${displayUrl(plan.base)}/livez answered ${live.status}; is this tallyd?\n`);
    }

    const pool = buildPool(plan);
    const run = new LoadRun(plan, pool);
    let signals = 0;
    const onSigint = (): void => {
      if (++signals > 1) process.exit(130);
      run.interrupt();
    };
    process.on('SIGINT', onSigint);
    const scrape = scrapers > 0 ? new ScrapeLoad({ base: plan.base, scrapers, intervalMs: scrapeIntervalMs, format: scrapeFormat, timeoutMs: plan.timeoutMs }) : null;
    let report: LoadReport;
    try {
      scrape?.start();
      const t0 = performance.now();
      report = await run.run();
      if (events === 0) {
        // scrape only: for the duration (or until interrupted)
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, plan.durationMs);
          const onInt = (): void => {
            clearTimeout(timer);
            resolve();
          };
          process.once('SIGINT', onInt);
        });
        report.elapsed_s = Math.round(performance.now() - t0) / 1000;
        report.stopped_by = 'duration';
      }
    } finally {
      process.off('SIGINT', onSigint);
      await scrape?.stop();
    }
    if (scrape !== null) report.scrape = scrape.report();
    process.stdout.write(values.json ? JSON.stringify(report) + '\n' : formatReport(report));
    return report.errors > 0 || (report.scrape?.failed ?? 0) > 0 ? 1 : 0;
  },
};
