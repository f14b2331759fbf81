/**
 * Shared pieces of the API suite: servers started in-process on port 0 with
 * either transport, a node:http client that shows everything (status text,
 * raw bytes, HEAD, chunked uploads), and a WebSocket client that collects
 * replies.
 */
import { request, type IncomingHttpHeaders } from 'node:http';
import { networkInterfaces } from 'node:os';
import WebSocket from 'ws';
import { parseConfigText, resolveSettings } from '../../src/config/index.js';
import type { ResolvedConfig } from '../../src/config/types.js';
import { startServer, type Server } from '../../src/server/start.js';

export interface Transport {
  name: 'uws' | 'native-free';
  nativeFree: boolean;
}

export const TRANSPORTS: Transport[] = [
  { name: 'uws', nativeFree: false },
  { name: 'native-free', nativeFree: true },
];

/** Metrics every API test server runs. `by_test` counts events per `fields.test`, so each test reads its own row. */
export const API_CONFIG = `
metric by_test {
  filter = event=*
  fields = bytes
  group_by = test
  description = events by test id
}
metric imap_command {
  filter = event=imap_command_finished
  fields = net_in_bytes
  group_by = cmd_name tagged_reply_state
  description = IMAP commands
}
metric deliveries {
  filter = event=mail_delivery_finished
  group_by = duration:exponential:1:5:10
}
`;

export function makeConfig(overrides: Record<string, string>, text = API_CONFIG): ResolvedConfig {
  const base = parseConfigText(text, 'api-test.conf');
  return Object.freeze({ ...base, settings: resolveSettings(base.settings, { listen: '127.0.0.1:0', shards: '1', ...overrides }) });
}

export interface Running {
  server: Server;
  /** http://host:port */
  url: string;
  /** ws://host:port */
  ws: string;
  host: string;
  port: number;
}

export async function start(t: Transport, overrides: Record<string, string> = {}, text?: string): Promise<Running> {
  const config = makeConfig(overrides, text);
  const server = await startServer({ config, version: '0.0.0-test', nativeFree: t.nativeFree });
  const { host, port } = server.listener;
  const h = host.includes(':') ? `[${host}]` : host;
  return { server, url: `http://${h}:${port}`, ws: `ws://${h}:${port}`, host, port };
}

export async function stop(r: Running | undefined): Promise<void> {
  if (r !== undefined) await r.server.stop(() => undefined);
}

export interface Reply {
  status: number;
  statusText: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
  json(): any;
}

export interface RequestOptions {
  method?: string;
  /** an array value sends the header once per element */
  headers?: Record<string, string | string[]>;
  /** one body (sent with Content-Length), or chunks (sent chunked, without Content-Length) */
  body?: string | Buffer | Buffer[];
  /** a request whose answer is wanted after a timeout fails the test instead of hanging it */
  timeoutMs?: number;
}

/** One request on its own connection; resolves with the whole answer, bytes as sent. */
export function http(url: string, path: string, opts: RequestOptions = {}): Promise<Reply> {
  const u = new URL(path, url);
  return new Promise<Reply>((resolve, reject) => {
    const body = opts.body;
    const headers: Record<string, string | string[]> = { ...opts.headers };
    if (body !== undefined && !Array.isArray(body)) headers['content-length'] = String(Buffer.byteLength(body));
    const req = request(
      {
        host: u.hostname.replace(/^\[|\]$/g, ''),
        port: u.port,
        path: u.pathname + u.search,
        method: opts.method ?? 'GET',
        headers,
        agent: false,
        timeout: opts.timeoutMs ?? 20_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const b = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            statusText: res.statusMessage ?? '',
            headers: res.headers,
            body: b,
            text: b.toString('utf8'),
            json: () => JSON.parse(b.toString('utf8')),
          });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${opts.method ?? 'GET'} ${path}: no answer in time`)));
    req.on('error', reject);
    if (Array.isArray(body)) {
      // chunked: write while the server reads; an early answer (413) stops the upload
      let i = 0;
      let answered = false;
      req.on('response', () => (answered = true));
      const pump = (): void => {
        while (i < body.length && !answered) {
          if (!req.write(body[i++] as Buffer)) {
            req.once('drain', pump);
            return;
          }
        }
        req.end();
      };
      pump();
    } else req.end(body);
  });
}

export function postEvents(url: string, body: string | Buffer, contentType: string, headers: Record<string, string> = {}): Promise<Reply> {
  return http(url, '/v1/events', { method: 'POST', headers: { 'content-type': contentType, ...headers }, body });
}

/** The dump rows as `name field` → cells keyed by the header's field names. */
export function parseDump(text: string): { header: string[]; rows: Map<string, Record<string, string>> } {
  const lines = text.split('\n').filter((l) => l !== '');
  const header = (lines[0] ?? '').split('\t');
  const rows = new Map<string, Record<string, string>>();
  for (const line of lines.slice(1)) {
    const cells = line.split('\t');
    const row: Record<string, string> = {};
    header.forEach((h, i) => (row[h] = cells[i] ?? ''));
    rows.set(`${cells[0]} ${cells[1]}`, row);
  }
  return { header, rows };
}

/** count of `by_test_<id>` (duration row) in the dump, 0 when the row is absent. */
export async function countOf(url: string, id: string): Promise<number> {
  const r = await http(url, '/v1/stats/dump?fields=count');
  const row = parseDump(r.text).rows.get(`by_test_${id} duration`);
  return row === undefined ? 0 : Number(row.count);
}

/** The value of one sample line `name{labels} value` of a text exposition, or undefined. */
export function sample(exposition: string, name: string, labels = ''): number | undefined {
  const want = labels === '' ? name : `${name}{${labels}}`;
  for (const line of exposition.split('\n')) {
    if (line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    if (line.slice(0, sp) === want) return Number(line.slice(sp + 1));
  }
  return undefined;
}

export function ev(test: string, extra: Record<string, unknown> = {}, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { event: 'api_test', ...extra, fields: { test, ...fields } };
}

/** A connected WebSocket client that queues the text replies it receives. */
export class WsClient {
  readonly socket: WebSocket;
  private readonly replies: string[] = [];
  private waiters: (() => void)[] = [];
  closed: { code: number; reason: string } | null = null;

  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.on('message', (m: Buffer) => {
      this.replies.push(m.toString('utf8'));
      this.wake();
    });
    socket.on('close', (code: number, reason: Buffer) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  static open(url: string, headers: Record<string, string> = {}): Promise<WsClient> {
    return new Promise((resolve, reject) => {
      const s = new WebSocket(url, { headers, perMessageDeflate: false });
      s.once('open', () => resolve(new WsClient(s)));
      s.once('unexpected-response', (_req, res) => {
        let b = '';
        res.on('data', (d: Buffer) => (b += d.toString()));
        res.on('end', () => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode, body: b })));
      });
      s.once('error', reject);
    });
  }

  /** Opens expecting a refusal; resolves with the HTTP status and body the client saw. */
  static async refused(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
    try {
      const c = await WsClient.open(url, headers);
      c.socket.terminate();
    } catch (e) {
      const x = e as { status?: number; body?: string; message: string };
      if (x.status !== undefined) return { status: x.status, body: x.body ?? '' };
      throw e;
    }
    throw new Error(`the upgrade of ${url} was accepted`);
  }

  send(data: string | Buffer, binary: boolean): void {
    this.socket.send(data, { binary });
  }

  get received(): number {
    return this.replies.length;
  }

  /** Waits until `n` replies have arrived (or the socket closed, or the time is up). */
  async waitFor(n: number, timeoutMs = 20_000): Promise<any[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.replies.length < n && this.closed === null && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.replies.slice(0, n).map((r) => JSON.parse(r));
  }

  all(): any[] {
    return this.replies.map((r) => JSON.parse(r));
  }

  close(): void {
    this.socket.terminate();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Whether this machine has IPv6 loopback. */
export function hasIpv6Loopback(): boolean {
  return Object.values(networkInterfaces()).some((list) => (list ?? []).some((a) => a.family === 'IPv6' && a.address === '::1'));
}
