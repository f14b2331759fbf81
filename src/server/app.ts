/**
 * The HTTP API (SPEC 7) as one route table, independent of the transport:
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
import type { EngineSnapshot } from '../metrics/types.js';
import type { Runtime } from '../shard/runtime.js';
import { displayPeer, NetworkList } from './access.js';
import { renderIndex } from './html.js';
import { outcomeResponse, StreamSession } from './ingest.js';
import { negotiateExposition, wantsGzip } from './negotiate.js';
import { CONTENT_TYPE_PROTOBUF, renderProtobuf } from '../export/protobuf.js';
import { fail, json, text } from './respond.js';
import { jsonFamilies, newServerCounters, serverFamilies, type ServerCounters } from './self.js';
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
}

/** Self-metric families of other parts of the process (the Dovecot sockets), added to every scrape. */
export type FamilySource = () => SelfFamily[];

export class App {
  private readonly cfg: ResolvedConfig;
  private readonly rt: Runtime;
  private readonly version: string;
  private readonly transport: string;
  private readonly trusted: NetworkList;
  private readonly ingestNets: NetworkList;
  private readonly token: Buffer | null;
  private readonly routes: [RegExp, Route][];
  readonly counters: ServerCounters;
  /** further self-metric families, rendered after the server's own (OpenMetrics/text only) */
  readonly familySources: FamilySource[] = [];
  readonly startTime: number;
  readiness: Readiness;
  private rate: { t: number; accepted: number; eps: number };

  constructor(opts: AppOptions) {
    this.cfg = opts.config;
    this.rt = opts.runtime;
    this.version = opts.version;
    this.transport = opts.transport;
    const s = opts.config.settings;
    this.trusted = new NetworkList(s.trustedNetworks);
    this.ingestNets = new NetworkList(s.ingestNetworks);
    this.token = s.ingestToken === null ? null : Buffer.from(s.ingestToken);
    this.counters = newServerCounters();
    this.startTime = Date.now() / 1000;
    this.readiness = 'starting';
    this.rate = { t: performance.now(), accepted: 0, eps: 0 };
    this.routes = [
      [/^\/$/, { access: 'trusted', methods: { GET: () => this.index() } }],
      [/^\/livez$/, { access: 'public', methods: { GET: () => text(200, 'ok\n') } }],
      [/^\/readyz$/, { access: 'public', methods: { GET: () => this.ready() } }],
      [/^\/v1\/events$/, { access: 'ingest', methods: { POST: (r) => this.ingest(r) } }],
      [/^\/metrics$/, { access: 'trusted', methods: { GET: (r) => this.metrics(r) } }],
      [/^\/metrics\.json$/, { access: 'trusted', methods: { GET: (r) => this.scrape(r, 'json') } }],
      [
        /^\/v1\/stats\/dump$/,
        { access: 'trusted', methods: { GET: (r) => this.dump(r, false), POST: (r) => this.dump(r, true) } },
      ],
      [
        /^\/v1\/metrics$/,
        { access: 'trusted', methods: { GET: () => this.listMetrics(), POST: () => this.addMetric() } },
      ],
      [/^\/v1\/metrics\/([^/]+)$/, { access: 'trusted', methods: { DELETE: (_r, p) => this.removeMetric(p[0] ?? '') } }],
    ];
  }

  /**
   * Largest batch, HTTP body or WebSocket message: max_body_bytes, or less
   * when a shard ring (ring_bytes) cannot hold a record that large — such a
   * batch would find every ring full forever (503 / busy on every retry).
   */
  get maxMessageBytes(): number {
    return Math.min(this.cfg.settings.maxBodyBytes, this.rt.maxBatchBytes);
  }

  /** Connection limits and timeouts of the transports (SPEC 7; docs/reliability.md). */
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
    // the ingest route first: it takes almost every request
    if (req.path === '/v1/events' && req.method === 'POST') {
      const denied = this.checkAccess('ingest', req);
      return denied ?? this.ingest(req);
    }
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
    if (denied !== null) return { ok: false, response: denied };
    if (this.readiness === 'draining') {
      return { ok: false, response: fail(503, 'ERR_INGEST_BUSY', 'tallyd is shutting down', { 'retry-after': '5' }) };
    }
    const max = this.cfg.settings.maxWebsockets;
    if (this.counters.wsConnections >= max) {
      this.counters.wsRefused++;
      return { ok: false, response: fail(503, 'ERR_INGEST_BUSY', `${max} WebSockets are open (max_websockets); retry later`, { 'retry-after': '5' }) };
    }
    const q = new URLSearchParams(req.query);
    const ack = q.get('ack') === '1' || q.get('ack') === 'true';
    return { ok: true, session: new StreamSession(this.rt, ack, this.maxMessageBytes, this.counters) };
  }

  // ---- routes ----------------------------------------------------------

  private ready(): HttpResponse {
    return this.readiness === 'ready' ? text(200, 'ready\n') : text(503, `${this.readiness}\n`);
  }

  private ingest(req: RequestHead): Begin | HttpResponse {
    const ct = req.header('content-type');
    const format = formatOfContentType(ct);
    if (format === null) {
      return fail(
        415,
        'ERR_INGEST_CONTENT_TYPE',
        `content type ${ct === undefined ? '(none)' : JSON.stringify(ct)} is not one of application/msgpack, application/json, application/x-ndjson`,
      );
    }
    return {
      kind: 'body',
      limit: this.maxMessageBytes,
      tooLarge: () => fail(413, 'ERR_INGEST_TOO_LARGE', this.tooLargeMessage()),
      finish: async (body) => {
        this.counters.httpBatches++;
        return outcomeResponse(await this.rt.ingest(body, format));
      },
    };
  }

  private renderOpts(extra: SelfFamily[], fields?: string[]) {
    const s = this.cfg.settings;
    return {
      prefix: s.metricPrefix,
      style: s.openmetricsStyle,
      compat: s.dovecotCompat,
      version: this.version,
      startTimeSeconds: Math.floor(this.startTime),
      extra,
      ...(fields !== undefined ? { fields } : {}),
    };
  }

  private async scrape(req: RequestHead, format: ExportFormat, contentType?: string, reset = false, fields?: string[]): Promise<HttpResponse> {
    const t0 = performance.now();
    const extra = format === 'json' ? jsonFamilies(this.rt, this.counters) : serverFamilies(this.rt, this.counters);
    if (format !== 'json') for (const f of this.familySources) extra.push(...f());
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
    return this.scrape(req, 'dump', undefined, reset, fields);
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

  private addMetric(): Begin {
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
          return json(201, { name: def.name });
        } catch (e) {
          if (e instanceof ConfigError) return fail(e.code === 'ERR_CONFIG_DUPLICATE' ? 409 : 400, e.code, e.message);
          throw e;
        }
      },
    };
  }

  private async removeMetric(name: string): Promise<HttpResponse> {
    if (await this.rt.removeMetric(name)) return { status: 204, headers: {}, body: '' };
    return fail(404, 'ERR_METRIC_NOT_FOUND', `metrics '${name}' not found`);
  }

  private async index(): Promise<HttpResponse> {
    const accepted = await this.rt.snapshot((s) => s.counters.eventsAccepted);
    const now = performance.now();
    if (now - this.rate.t >= 1000) {
      this.rate = { t: now, accepted, eps: ((accepted - this.rate.accepted) * 1000) / (now - this.rate.t) };
    }
    return text(
      200,
      renderIndex({
        version: this.version,
        transport: this.transport,
        listen: `${this.cfg.settings.listen.host}:${this.cfg.settings.listen.port}`,
        readiness: this.readiness,
        startTime: this.startTime,
        shards: this.rt.shardCount,
        metrics: this.rt.metricDefs(),
        eventsPerSecond: this.rate.eps,
        eventsAccepted: accepted,
      }),
      'text/html; charset=utf-8',
    );
  }
}
