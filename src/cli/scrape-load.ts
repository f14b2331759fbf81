/**
 * `tallyd load --scrapers N`: N concurrent clients scrape `GET /metrics`
 * every interval (staggered over it, one keep-alive connection each, as N
 * Prometheus servers would) while the events go in, and the report gives
 * the scrape latency, the bytes and series per scrape and the failed
 * scrapes. Series are samples as a Prometheus server stores them: in text,
 * the sample lines; in protobuf (varint-delimited MetricFamily messages),
 * 1 per counter, gauge or untyped metric, quantiles + 2 per summary,
 * buckets (with +Inf) + 2 per histogram.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { parseIntervalMsecs } from '../filter/units.js';
import { CliError } from './common.js';
import { describeFailure, endpoint, request } from './http.js';

export type ScrapeFormat = 'text' | 'openmetrics' | 'protobuf';
export const SCRAPE_FORMATS: readonly ScrapeFormat[] = ['text', 'openmetrics', 'protobuf'];

export const SCRAPE_ACCEPT: Record<ScrapeFormat, string> = {
  text: 'text/plain; version=0.0.4',
  openmetrics: 'application/openmetrics-text; version=1.0.0',
  protobuf: 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited',
};

export interface ScrapePlan {
  base: URL;
  scrapers: number;
  intervalMs: number;
  format: ScrapeFormat;
  timeoutMs: number;
}

/** The `scrape` object of the load report. */
export interface ScrapeReport {
  scrapers: number;
  interval_s: number;
  format: ScrapeFormat;
  /** the Content-Type(s) the server answered with, distinct, in order seen */
  content_types: string[];
  scrapes: number;
  failed: number;
  latency_p50_ms: number;
  latency_p99_ms: number;
  latency_max_ms: number;
  bytes_avg: number;
  bytes_max: number;
  series_avg: number;
  series_max: number;
  first_error: string | null;
}

/** `--scrape-interval`: the config's interval syntax (`1s`, `500ms`, `2min`), or a number of seconds. */
export function parseScrapeInterval(text: string | undefined): number {
  if (text === undefined) return 1000;
  const t = text.trim();
  let ms: number;
  if (/^\d+(?:\.\d+)?$/.test(t)) ms = Number(t) * 1000;
  else {
    const v = parseIntervalMsecs(t);
    ms = v === null ? NaN : Number(v);
  }
  if (!(ms >= 10) || !Number.isFinite(ms)) throw new CliError(`--scrape-interval must be an interval of at least 10ms (1s, 500ms, 2min), not '${text}'`);
  return ms;
}

/** Samples in a text exposition: lines that are neither blank nor comments (`# EOF` included). */
export function countTextSeries(body: Buffer): number {
  let n = 0;
  let start = 0;
  while (start < body.length) {
    let end = body.indexOf(0x0a, start);
    if (end < 0) end = body.length;
    if (end > start && body[start] !== 0x23) n++;
    start = end + 1;
  }
  return n;
}

/** Protobuf wire reading, just enough for MetricFamily. */
class Wire {
  pos = 0;
  constructor(
    readonly b: Buffer,
    readonly end = b.length,
  ) {}
  varint(): number {
    let x = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new Error('truncated varint');
      const c = this.b[this.pos++] as number;
      x += (c & 0x7f) * mul;
      if (c < 0x80) return x;
      mul *= 128;
    }
    throw new Error('varint too long');
  }
  /** a length-delimited field's bounds */
  sub(): Wire {
    const len = this.varint();
    if (this.pos + len > this.end) throw new Error('truncated message');
    const w = new Wire(this.b, this.pos + len);
    w.pos = this.pos;
    this.pos += len;
    return w;
  }
  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.pos += 8;
    else if (wireType === 2) this.sub();
    else if (wireType === 5) this.pos += 4;
    else throw new Error(`unsupported wire type ${wireType}`);
    if (this.pos > this.end) throw new Error('truncated field');
  }
  /** each field of this message: calls `f(field, wireType)`, which reads it or returns false to skip it */
  fields(f: (field: number, wt: number) => boolean): void {
    while (this.pos < this.end) {
      const key = this.varint();
      if (!f(Math.floor(key / 8), key & 7)) this.skip(key & 7);
    }
  }
}

/** Samples of one Metric message (see the module comment). */
function metricSeries(m: Wire): number {
  let n = 1;
  m.fields((field, wt) => {
    if (wt !== 2) return false;
    if (field === 4) {
      // summary: quantile = 3
      const sm = m.sub();
      let q = 0;
      sm.fields((f, w) => {
        if (f !== 3 || w !== 2) return false;
        q++;
        sm.sub();
        return true;
      });
      n = q + 2;
      return true;
    }
    if (field === 7) {
      // histogram: bucket = 3 { cumulative_count = 1, upper_bound = 2 (double) }
      const h = m.sub();
      let buckets = 0;
      let inf = false;
      h.fields((f, w) => {
        if (f !== 3 || w !== 2) return false;
        buckets++;
        const bk = h.sub();
        bk.fields((bf, bw) => {
          if (bf === 2 && bw === 1) {
            if (bk.b.readDoubleLE(bk.pos) === Infinity) inf = true;
            bk.pos += 8;
            return true;
          }
          return false;
        });
        return true;
      });
      n = buckets + (inf ? 0 : 1) + 2;
      return true;
    }
    return false;
  });
  return n;
}

/** Series in a varint-delimited stream of MetricFamily messages; throws on malformed bytes. */
export function countProtobufSeries(body: Buffer): number {
  const w = new Wire(body);
  let n = 0;
  while (w.pos < w.end) {
    const fam = w.sub();
    fam.fields((field, wt) => {
      if (field !== 4 || wt !== 2) return false;
      n += metricSeries(fam.sub());
      return true;
    });
  }
  return n;
}

function isProtobuf(contentType: string): boolean {
  return contentType.toLowerCase().startsWith('application/vnd.google.protobuf');
}

const sleep = (ms: number, stop: Promise<void>): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    void stop.then(() => {
      clearTimeout(t);
      resolve();
    });
  });

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((sorted.length * p) / 100) - 1));
  return sorted[i] as number;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

export class ScrapeLoad {
  private stopped = false;
  private onStop!: () => void;
  private readonly stopSignal = new Promise<void>((r) => (this.onStop = r));
  private running: Promise<void>[] = [];
  private readonly latencies: number[] = [];
  private readonly contentTypes: string[] = [];
  private scrapes = 0;
  private failed = 0;
  private bytes = 0;
  private bytesMax = 0;
  private series = 0;
  private seriesMax = 0;
  private firstError: string | null = null;

  constructor(private readonly plan: ScrapePlan) {}

  start(): void {
    const { plan } = this;
    const t0 = performance.now();
    for (let i = 0; i < plan.scrapers; i++) this.running.push(this.scraper(t0 + (i * plan.intervalMs) / plan.scrapers));
  }

  /** Stops scraping and waits for the scrapes in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.onStop();
    await Promise.all(this.running);
  }

  private fail(why: string): void {
    this.failed++;
    this.firstError ??= why;
  }

  private async scraper(first: number): Promise<void> {
    const { plan } = this;
    const mod = plan.base.protocol === 'https:' ? https : http;
    const agent = new mod.Agent({ keepAlive: true, maxSockets: 1 });
    const url = endpoint(plan.base, '/metrics');
    const headers = { accept: SCRAPE_ACCEPT[plan.format] };
    try {
      for (let k = 0; ; k++) {
        const due = first + k * plan.intervalMs;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait, this.stopSignal);
        if (this.stopped) return;
        const t = performance.now();
        this.scrapes++;
        let a;
        try {
          a = await request(plan.base, url, { headers, agent, timeoutMs: plan.timeoutMs });
        } catch (e) {
          this.fail((e as Error).message);
          continue;
        }
        const lat = performance.now() - t;
        if (a.status !== 200) {
          this.fail(`HTTP ${a.status}: ${describeFailure(a)}`);
          continue;
        }
        const ct = String(a.headers['content-type'] ?? '');
        if (!this.contentTypes.includes(ct)) this.contentTypes.push(ct);
        let n: number;
        try {
          n = isProtobuf(ct) ? countProtobufSeries(a.body) : countTextSeries(a.body);
        } catch (e) {
          this.fail(`the protobuf answer does not decode: ${(e as Error).message}`);
          continue;
        }
        this.latencies.push(lat);
        this.bytes += a.body.length;
        this.bytesMax = Math.max(this.bytesMax, a.body.length);
        this.series += n;
        this.seriesMax = Math.max(this.seriesMax, n);
      }
    } finally {
      agent.destroy();
    }
  }

  report(): ScrapeReport {
    const ok = this.latencies.length;
    const lat = Float64Array.from(this.latencies).sort();
    return {
      scrapers: this.plan.scrapers,
      interval_s: this.plan.intervalMs / 1000,
      format: this.plan.format,
      content_types: this.contentTypes.slice(),
      scrapes: this.scrapes,
      failed: this.failed,
      latency_p50_ms: round3(percentile(lat, 50)),
      latency_p99_ms: round3(percentile(lat, 99)),
      latency_max_ms: round3(ok > 0 ? (lat[ok - 1] as number) : 0),
      bytes_avg: ok > 0 ? Math.round(this.bytes / ok) : 0,
      bytes_max: this.bytesMax,
      series_avg: ok > 0 ? Math.round(this.series / ok) : 0,
      series_max: this.seriesMax,
      first_error: this.firstError,
    };
  }
}

/** The report's scrape rows (text form). */
export function scrapeRows(s: ScrapeReport): [string, string][] {
  return [
    ['scrapers', `${s.scrapers} every ${s.interval_s} s (${s.format}; answered ${s.content_types.join(', ') || 'nothing'})`],
    ['scrapes / failed', `${s.scrapes} / ${s.failed}`],
    ['scrape latency (ms)', `p50 ${s.latency_p50_ms.toFixed(2)}  p99 ${s.latency_p99_ms.toFixed(2)}  max ${s.latency_max_ms.toFixed(2)}`],
    ['bytes per scrape', `avg ${s.bytes_avg}  max ${s.bytes_max}`],
    ['series per scrape', `avg ${s.series_avg}  max ${s.series_max}`],
    ...(s.first_error !== null ? ([['first scrape error', s.first_error]] as [string, string][]) : []),
  ];
}
