/**
 * The HTTP API (docs/contract.md §7) as one route table, independent of the transport:
 * the uWebSockets.js server and the native-free node:http server both call it.
 */
import { timingSafeEqual } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { buildMetricDef, formatGroupBy } from '../config/index.js';
import type { ResolvedConfig } from '../config/types.js';
import { ConfigError } from '../errors.js';
import { formatOfContentType } from '../event/decode.js';
import {
  contentTypeFor,
  DEFAULT_DUMP_FIELDS,
  parseDumpFields,
  renderExport,
  type ExportFormat,
  type SelfFamily,
} from '../export/index.js';
import type { MetricsOptions } from '../export/types.js';
import { reasonCode, ServerLog } from '../log/events.js';
import type { EngineSnapshot } from '../metrics/types.js';
import type { IngestOutcome, Runtime } from '../shard/runtime.js';
import { displayPeer, NetworkList } from './access.js';
import { outcomeResponse, StreamSession } from './ingest.js';
import { asset } from './live/assets.js';
import { LiveHub } from './live/hub.js';
import { renderIndex } from './live/page.js';
import { RecentLog } from './live/recent.js';
import { kumomtaIngest } from './kumomta.js';
import { negotiateExposition, wantsGzip } from './negotiate.js';
import { CONTENT_TYPE_PROTOBUF, renderProtobuf } from '../export/protobuf.js';
import { processFamilies } from './process.js';
import { fail, json, text } from './respond.js';
import { jsonFamilies, newServerCounters, serverFamilies, type ServerCounters } from './self.js';
import type { ReloadOutcome } from './reload.js';
import type { Begin, ConnectionLimits, HttpResponse, RequestHead, Upgrade } from './types.js';

export type Readiness = 'starting' | 'ready' | 'draining';

type Access = 'public' | 'trusted' | 'ingest';

interface Route {
  access: Access;
  methods: Record<string, (req: RequestHead, params: string[]) => Begin | Promise<HttpResponse> | HttpResponse>;
}

export interface AppOptions {
  config: ResolvedConfig;
  runtime: Runtime;
  version: string;
  /** which server runs the app, shown on `/` */
  transport: string;
  /** the config file, shown on `/` (null: built-in defaults) */
  configFile?: string | null;
  /** recent warnings and errors shown on `/` (shard deaths are noted by whoever sees them) */
  recent?: RecentLog;
  /** build revision for `tallyd_build_info` (default "unknown") */
  revision?: string;
  /** where metric add/remove, resets, rejected batches and refusals are logged */
  log?: ServerLog;
}

/** Self-metric families of other parts of the process (the Dovecot sockets), added to every scrape. */
export type FamilySource = () => SelfFamily[];

export class App {
  private cfg: ResolvedConfig;
  private readonly rt: Runtime;
  private readonly version: string;
  private readonly revision: string | undefined;
  private readonly transport: string;
  private trusted: NetworkList;
  private ingestNets: NetworkList;
  private token: Buffer | null;
  private readonly routes: [RegExp, Route][];
  readonly counters: ServerCounters;
  readonly log: ServerLog;
  /** further self-metric families, rendered after the server's own (OpenMetrics/text only) */
  readonly familySources: FamilySource[] = [];
  readonly startTime: number;
  readiness: Readiness;
  private readonly configFile: string | null;
  readonly recent: RecentLog;
  /** `GET /v1/live`, the event stream of the page at `/` */
  readonly live: LiveHub;
  /** POST /v1/reload (set by startServer; src/server/reload.ts) */
  reload: (() => Promise<ReloadOutcome>) | null = null;

  constructor(opts: AppOptions) {
    this.cfg = opts.config;
    this.rt = opts.runtime;
    this.version = opts.version;
    this.revision = opts.revision;
    this.transport = opts.transport;
    this.log = opts.log ?? new ServerLog(undefined);
    const s = opts.config.settings;
    this.trusted = new NetworkList(s.trustedNetworks);
    this.ingestNets = new NetworkList(s.ingestNetworks);
    this.token = s.ingestToken === null ? null : Buffer.from(s.ingestToken);
    this.counters = newServerCounters();
    this.startTime = Date.now() / 1000;
    this.readiness = 'starting';
    this.configFile = opts.configFile ?? null;
    this.recent = opts.recent ?? new RecentLog();
    this.live = new LiveHub({
      runtime: this.rt,
      recent: this.recent,
      info: () => ({ ...this.pageInfo(), metrics: this.rt.metricDefs().length }),
      open: () => this.readiness !== 'draining',
    });
    this.routes = [
      [/^\/$/, { access: 'trusted', methods: { GET: () => this.index() } }],
      [/^\/v1\/live$/, { access: 'trusted', methods: { GET: () => this.live.stream() } }],
      [/^\/assets\/([^/]+)$/, { access: 'trusted', methods: { GET: (_r, p) => asset(p[0] ?? '') ?? fail(404, 'ERR_HTTP_NOT_FOUND', `no asset ${p[0]}`) } }],
      [/^\/livez$/, { access: 'public', methods: { GET: () => text(200, 'ok\n') } }],
      [/^\/readyz$/, { access: 'public', methods: { GET: () => this.ready() } }],
      [/^\/v1\/events$/, { access: 'ingest', methods: { POST: (r) => this.ingest(r) } }],
      [/^\/v1\/kumomta$/, { access: 'ingest', methods: { POST: (r) => kumomtaIngest(r, { runtime: this.rt, counters: this.counters, limit: this.maxMessageBytes, tooLarge: () => fail(413, 'ERR_INGEST_TOO_LARGE', this.tooLargeMessage()) }) } }],
      [/^\/metrics$/, { access: 'trusted', methods: { GET: (r) => this.metrics(r) } }],
      [/^\/metrics\.json$/, { access: 'trusted', methods: { GET: (r) => this.scrape(r, 'json') } }],
      [
        /^\/v1\/stats\/dump$/,
        { access: 'trusted', methods: { GET: (r) => this.dump(r, false), POST: (r) => this.dump(r, true) } },
      ],
      [
        /^\/v1\/metrics$/,
        { access: 'trusted', methods: { GET: () => this.listMetrics(), POST: (r) => this.addMetric(r) } },
      ],
      [/^\/v1\/reload$/, { access: 'trusted', methods: { POST: () => this.reloadConfig() } }],
      [/^\/v1\/metrics\/([^/]+)$/, { access: 'trusted', methods: { DELETE: (r, p) => this.removeMetric(r, p[0] ?? '') } }],
    ];
  }

  /** A reloaded config: its access settings and render settings apply from the next request on. */
  applyConfig(config: ResolvedConfig): void {
    this.cfg = config;
    const s = config.settings;
    this.trusted = new NetworkList(s.trustedNetworks);
    this.ingestNets = new NetworkList(s.ingestNetworks);
    this.token = s.ingestToken === null ? null : Buffer.from(s.ingestToken);
  }

  private async reloadConfig(): Promise<HttpResponse> {
    if (this.reload === null) return fail(409, 'ERR_RELOAD_NO_CONFIG', 'this server cannot reload');
    const out = await this.reload();
    if (out.status === 'refused') return fail(400, out.code, out.message);
    if (out.status === 'no_config') return fail(409, 'ERR_RELOAD_NO_CONFIG', out.message);
    return json(200, out);
  }

  /**
   * Largest batch, HTTP body or WebSocket message: max_body_bytes, or less
   * when a shard ring (ring_bytes) cannot hold a record that large — such a
   * batch would find every ring full forever (503 / busy on every retry).
   */
  get maxMessageBytes(): number {
    return Math.min(this.cfg.settings.maxBodyBytes, this.rt.maxBatchBytes);
  }

  /** Connection limits and timeouts of the transports (docs/contract.md §7; docs/reliability.md). */
  get limits(): ConnectionLimits {
    const s = this.cfg.settings;
    return {
      requestTimeoutMs: s.requestTimeoutMs,
      idleTimeoutMs: s.idleTimeoutMs,
      wsIdleTimeoutMs: s.wsIdleTimeoutMs,
      wsMaxBackpressure: s.wsMaxBackpressure,
      maxMessageBytes: this.maxMessageBytes,
    };
  }

  private tooLargeMessage(): string {
    const s = this.cfg.settings;
    const limit = this.maxMessageBytes;
    return limit < s.maxBodyBytes
      ? `the body exceeds ${limit} bytes, the largest batch a shard ring of ring_bytes ${s.ringBytes} holds (max_body_bytes is ${s.maxBodyBytes})`
      : `the body exceeds max_body_bytes (${limit} bytes)`;
  }

  // ---- access ----------------------------------------------------------

  private unauthorized(message: string): HttpResponse {
    this.counters.unauthorized++;
    return fail(401, 'ERR_HTTP_UNAUTHORIZED', message);
  }

  private checkAccess(access: Access, req: RequestHead): HttpResponse | null {
    if (access === 'public') return null;
    if (access === 'trusted') {
      if (this.trusted.allows(req.peer)) return null;
      return this.unauthorized(`${displayPeer(req.peer)} is not in trusted_networks (${this.trusted.text})`);
    }
    if (!this.ingestNets.allows(req.peer)) {
      this.counters.unauthorized++;
      return fail(401, 'ERR_INGEST_UNAUTHORIZED', `${displayPeer(req.peer)} is not in ingest_networks (${this.ingestNets.text})`);
    }
    if (this.token !== null) {
      const auth = req.header('authorization') ?? '';
      const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
      const given = m?.[1] === undefined ? null : Buffer.from(m[1]);
      if (given === null || given.length !== this.token.length || !timingSafeEqual(given, this.token)) {
        this.counters.unauthorized++;
        return fail(401, 'ERR_INGEST_UNAUTHORIZED', `${displayPeer(req.peer)}: ingest needs "Authorization: Bearer <ingest_token>"`, {
          'www-authenticate': 'Bearer realm="tallyd"',
        });
      }
    }
    return null;
  }

  // ---- dispatch --------------------------------------------------------

  /** Routes a request head; the adapter then answers or reads the body. */
  begin(req: RequestHead): Begin | Promise<HttpResponse> | HttpResponse {
    // the ingest route first: it takes almost every request (and logs its own refusals)
    if (req.path === '/v1/events' && req.method === 'POST') {
      const denied = this.checkAccess('ingest', req);
      if (denied !== null) {
        this.refusedBatch(req, denied);
        return denied;
      }
      return this.ingest(req);
    }
    return this.log.logger === undefined ? this.route(req) : this.observe(req, this.route(req));
  }

  /** A whole ingest batch refused (4xx), logged with the peer and the reason. */
  private refusedBatch(req: RequestHead, r: HttpResponse, via: 'http' | 'websocket' = 'http'): void {
    if (this.log.logger === undefined) return;
    const peer = displayPeer(req.peer);
    const e = errorOfResponse(r);
    this.log.rejected(peer, via, e.error, e.message, { status: r.status });
  }

  /** Logs the 4xx answers of the routes other than ingest, at debug. */
  private observe(req: RequestHead, r: Begin | Promise<HttpResponse> | HttpResponse): Begin | Promise<HttpResponse> | HttpResponse {
    const seen = (res: HttpResponse): HttpResponse => {
      if (res.status >= 400 && res.status < 500) {
        const e = errorOfResponse(res);
        this.log.clientError(displayPeer(req.peer), req.method, req.path, res.status, e.error, e.message);
      }
      return res;
    };
    if (r instanceof Promise) return r.then(seen);
    if ('kind' in r) {
      if (r.kind === 'respond') return { kind: 'respond', response: seen(r.response) };
      if (r.kind === 'stream') return r;
      const inner = r;
      return { kind: 'body', limit: inner.limit, tooLarge: () => seen(inner.tooLarge()), finish: async (body) => seen(await inner.finish(body)) };
    }
    return seen(r);
  }

  private route(req: RequestHead): Begin | Promise<HttpResponse> | HttpResponse {
    for (const [re, route] of this.routes) {
      const m = re.exec(req.path);
      if (m === null) continue;
      const method = req.method === 'HEAD' && route.methods.GET !== undefined ? 'GET' : req.method;
      const handler = route.methods[method];
      if (handler === undefined) {
        const allow = Object.keys(route.methods).join(', ');
        return fail(405, 'ERR_HTTP_METHOD', `${req.method} is not allowed on ${req.path} (allowed: ${allow})`, { allow });
      }
      const denied = this.checkAccess(route.access, req);
      if (denied !== null) return denied;
      let params: string[];
      try {
        params = m.slice(1).map((p) => decodeURIComponent(p));
      } catch {
        return fail(404, 'ERR_HTTP_NOT_FOUND', `no route for ${req.path} (malformed %-escape)`);
      }
      return handler(req, params);
    }
    return fail(404, 'ERR_HTTP_NOT_FOUND', `no route for ${req.path}`);
  }

  /** A WebSocket upgrade request for `/v1/events/stream`. */
  upgrade(req: RequestHead): Upgrade {
    if (req.path !== '/v1/events/stream') {
      return { ok: false, response: fail(404, 'ERR_HTTP_NOT_FOUND', `no WebSocket route for ${req.path}`) };
    }
    const denied = this.checkAccess('ingest', req);
    if (denied !== null) {
      this.refusedBatch(req, denied, 'websocket');
      return { ok: false, response: denied };
    }
    if (this.readiness === 'draining') {
      return { ok: false, response: fail(503, 'ERR_INGEST_BUSY', 'tallyd is shutting down', { 'retry-after': '5' }) };
    }
    const max = this.cfg.settings.maxWebsockets;
    if (this.counters.wsConnections >= max) {
      this.counters.wsRefused++;
      this.log.backpressure('websocket', displayPeer(req.peer), `WebSocket refused: ${max} are open (max_websockets)`);
      return { ok: false, response: fail(503, 'ERR_INGEST_BUSY', `${max} WebSockets are open (max_websockets); retry later`, { 'retry-after': '5' }) };
    }
    const q = new URLSearchParams(req.query);
    const ack = q.get('ack') === '1' || q.get('ack') === 'true';
    const via = `WebSocket from ${displayPeer(req.peer)}`;
    const note = (o: IngestOutcome): void => this.recent.noteOutcome(o, via);
    const log = { log: this.log, peer: displayPeer(req.peer) };
    return { ok: true, session: new StreamSession(this.rt, ack, this.maxMessageBytes, this.counters, note, log) };
  }

  // ---- routes ----------------------------------------------------------

  private ready(): HttpResponse {
    return this.readiness === 'ready' ? text(200, 'ready\n') : text(503, `${this.readiness}\n`);
  }

  private ingest(req: RequestHead): Begin | HttpResponse {
    const ct = req.header('content-type');
    const format = formatOfContentType(ct);
    if (format === null) {
      const r = fail(
        415,
        'ERR_INGEST_CONTENT_TYPE',
        `content type ${ct === undefined ? '(none)' : JSON.stringify(ct)} is not one of application/msgpack, application/json, application/x-ndjson`,
      );
      this.refusedBatch(req, r);
      return r;
    }
    return {
      kind: 'body',
      limit: this.maxMessageBytes,
      tooLarge: () => {
        const r = fail(413, 'ERR_INGEST_TOO_LARGE', this.tooLargeMessage());
        this.refusedBatch(req, r);
        return r;
      },
      finish: async (body) => {
        this.counters.httpBatches++;
        const o = await this.rt.ingest(body, format);
        if (o.status !== 'ok' || o.rejected > 0) this.recent.noteOutcome(o, `HTTP from ${displayPeer(req.peer)}`);
        const r = outcomeResponse(o);
        if (this.log.logger !== undefined) {
          if (o.status === 'ok' && o.rejected > 0) {
            const first = o.errors[0]?.reason ?? 'rejected';
            this.log.rejected(displayPeer(req.peer), 'http', reasonCode(first), first, { status: 200, events: o.accepted + o.rejected, rejected: o.rejected });
          } else if (o.status === 'busy') this.log.backpressure('http', displayPeer(req.peer), 'batch answered 503: every shard ring is full');
          else if (o.status === 'framing') this.refusedBatch(req, r);
        }
        return r;
      },
    };
  }

  /** The strict-model export options with every self-metric family (what a remote write sends). */
  async exportOptions(): Promise<MetricsOptions> {
    const extra = serverFamilies(this.rt, this.counters);
    for (const f of this.familySources) extra.push(...f());
    extra.push(...(await processFamilies()));
    return this.renderOpts(extra);
  }

  private renderOpts(extra: SelfFamily[], fields?: string[]) {
    const s = this.cfg.settings;
    return {
      prefix: s.metricPrefix,
      style: s.openmetricsStyle,
      compat: s.dovecotCompat,
      version: this.version,
      ...(this.revision !== undefined ? { revision: this.revision } : {}),
      startTimeSeconds: Math.floor(this.startTime),
      extra,
      ...(fields !== undefined ? { fields } : {}),
    };
  }

  private async scrape(req: RequestHead, format: ExportFormat, contentType?: string, reset = false, fields?: string[]): Promise<HttpResponse> {
    const t0 = performance.now();
    const extra = format === 'json' ? jsonFamilies(this.rt, this.counters) : serverFamilies(this.rt, this.counters);
    if (format !== 'json') for (const f of this.familySources) extra.push(...f());
    extra.push(...(await processFamilies()));
    const opts = this.renderOpts(extra, fields);
    const render = (snap: EngineSnapshot): string => renderExport(format, snap, opts);
    const body = reset ? await this.rt.snapshotAndReset(render) : await this.rt.snapshot(render);
    this.counters.scrapes++;
    this.counters.lastScrapeSeconds = (performance.now() - t0) / 1000;
    const headers: Record<string, string> = { 'content-type': contentType ?? contentTypeFor(format) };
    if (Buffer.byteLength(body) > 1024 && wantsGzip(req.header('accept-encoding'))) {
      headers['content-encoding'] = 'gzip';
      headers.vary = 'Accept-Encoding';
      return { status: 200, headers, body: gzipSync(body) };
    }
    return { status: 200, headers, body };
  }

  /** Prometheus' protobuf exposition with native histograms (src/export/protobuf.ts). */
  private async scrapeProtobuf(req: RequestHead): Promise<HttpResponse> {
    const t0 = performance.now();
    const extra = serverFamilies(this.rt, this.counters);
    for (const f of this.familySources) extra.push(...f());
    const opts = this.renderOpts(extra);
    const body = await this.rt.snapshot((snap) => renderProtobuf(snap, opts));
    this.counters.scrapes++;
    this.counters.lastScrapeSeconds = (performance.now() - t0) / 1000;
    const headers: Record<string, string> = { 'content-type': CONTENT_TYPE_PROTOBUF };
    if (body.length > 1024 && wantsGzip(req.header('accept-encoding'))) {
      headers['content-encoding'] = 'gzip';
      headers.vary = 'Accept-Encoding';
      return { status: 200, headers, body: gzipSync(body) };
    }
    return { status: 200, headers, body };
  }

  private metrics(req: RequestHead): Promise<HttpResponse> {
    const exp = negotiateExposition(req.header('accept'));
    const dovecotStyle = this.cfg.settings.openmetricsStyle === 'dovecot';
    if (exp === 'protobuf') return this.scrapeProtobuf(req);
    if (exp === 'text-0.0.4') return this.scrape(req, 'prometheus');
    if (dovecotStyle) return this.scrape(req, 'dovecot');
    return this.scrape(req, 'openmetrics', contentTypeFor('openmetrics', { version001: exp === 'openmetrics-0.0.1' }));
  }

  private dump(req: RequestHead, post: boolean): Promise<HttpResponse> {
    const q = new URLSearchParams(req.query);
    const f = q.get('fields');
    const fields = f === null || f.trim() === '' ? [...DEFAULT_DUMP_FIELDS] : parseDumpFields(f);
    const reset = post && (q.get('reset') === '1' || q.get('reset') === 'true');
    const answer = this.scrape(req, 'dump', undefined, reset, fields);
    if (reset) void answer.then(() => this.log.reset('http', displayPeer(req.peer)), () => undefined);
    return answer;
  }

  private listMetrics(): HttpResponse {
    return json(
      200,
      this.rt.metricDefs().map((d) => ({
        name: d.name,
        filter: d.filter,
        fields: d.fields,
        group_by: formatGroupBy(d.groupBy),
        description: d.description,
      })),
    );
  }

  private addMetric(req: RequestHead): Begin {
    return {
      kind: 'body',
      limit: 1 << 20,
      tooLarge: () => fail(413, 'ERR_INGEST_TOO_LARGE', 'a metric definition is at most 1 MiB'),
      finish: async (body) => {
        let input: unknown;
        try {
          input = JSON.parse(body.toString('utf8'));
        } catch (e) {
          return fail(400, 'ERR_CONFIG_METRIC', `the body is not JSON: ${(e as Error).message}`);
        }
        if (typeof input !== 'object' || input === null || Array.isArray(input)) {
          return fail(400, 'ERR_CONFIG_METRIC', 'the body must be a JSON object with name and filter');
        }
        const o = input as Record<string, unknown>;
        const str = (k: string): string | undefined => (typeof o[k] === 'string' ? (o[k] as string) : undefined);
        const fields = Array.isArray(o.fields) ? o.fields.map(String) : str('fields');
        try {
          const def = buildMetricDef(
            {
              name: str('name') ?? '',
              filter: str('filter') ?? '',
              ...(fields !== undefined ? { fields } : {}),
              ...(str('group_by') !== undefined ? { group_by: str('group_by') as string } : {}),
              ...(str('description') !== undefined ? { description: str('description') as string } : {}),
            },
            new Set(this.rt.metricDefs().map((d) => d.name)),
          );
          await this.rt.addMetric(def);
          this.log.metricAdded(def.name, 'http', displayPeer(req.peer), { filter: def.filter, fields: def.fields, groupBy: formatGroupBy(def.groupBy) });
          return json(201, { name: def.name });
        } catch (e) {
          if (e instanceof ConfigError) return fail(e.code === 'ERR_CONFIG_DUPLICATE' ? 409 : 400, e.code, e.message);
          throw e;
        }
      },
    };
  }

  private async removeMetric(req: RequestHead, name: string): Promise<HttpResponse> {
    if (await this.rt.removeMetric(name)) {
      this.log.metricRemoved(name, 'http', displayPeer(req.peer));
      return { status: 204, headers: {}, body: '' };
    }
    return fail(404, 'ERR_METRIC_NOT_FOUND', `metrics '${name}' not found`);
  }

  private pageInfo() {
    return {
      version: this.version,
      transport: this.transport,
      listen: `${this.cfg.settings.listen.host}:${this.cfg.settings.listen.port}`,
      configFile: this.configFile,
      readiness: this.readiness,
      startTime: this.startTime,
      shards: this.rt.shardCount,
    };
  }

  private async index(): Promise<HttpResponse> {
    const accepted = await this.rt.snapshot((s) => s.counters.eventsAccepted);
    const page = renderIndex({ ...this.pageInfo(), metrics: this.rt.metricDefs(), eventsAccepted: accepted });
    return text(200, page, 'text/html; charset=utf-8');
  }
}

/** The `{error, message}` of an error answer built by `fail` (or its status when it has none). */
function errorOfResponse(r: HttpResponse): { error: string; message: string } {
  try {
    const o = JSON.parse(typeof r.body === 'string' ? r.body : r.body.toString('utf8')) as { error?: unknown; message?: unknown };
    return { error: typeof o.error === 'string' ? o.error : `HTTP ${r.status}`, message: typeof o.message === 'string' ? o.message : '' };
  } catch {
    return { error: `HTTP ${r.status}`, message: '' };
  }
}
