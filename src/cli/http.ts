/**
 * The client side of the HTTP API (docs/contract.md §7) for the commands that talk to a
 * running server (`stats`, `load`, `replay`): where the server is, one
 * request with clear errors, and the server's error shape.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { CliError } from './common.js';

/** Where the server is when neither --url nor TALLYD_URL says. */
export const DEFAULT_URL = 'http://127.0.0.1:9900';

/** Default time a request may take before it is given up, ms. */
export const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * A failure talking to the server (unreachable, or an error answer). Its
 * message is printed as is after the command's name; exit code 1.
 */
export class RemoteError extends Error {
  readonly code = 'ERR_CLI_REMOTE';
  /** HTTP status of the answer, 0 when there was none */
  readonly status: number;
  constructor(message: string, status = 0) {
    super(message);
    this.name = 'RemoteError';
    this.status = status;
  }
}

/**
 * The server's base URL: the flag, else TALLYD_URL, else the default. A bare
 * `host:port` gets `http://`. Only http and https (and ws/wss, mapped back to
 * http/https) are understood.
 */
export function serverUrl(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): URL {
  let text = flag ?? env.TALLYD_URL ?? DEFAULT_URL;
  text = text.trim();
  if (text === '') throw new CliError('--url is empty');
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) text = `http://${text}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CliError(`--url: '${text}' is not a URL`);
  }
  if (url.protocol === 'ws:') url.protocol = 'http:';
  else if (url.protocol === 'wss:') url.protocol = 'https:';
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CliError(`--url: '${text}' is not an http:// or https:// URL`);
  }
  if (url.search !== '' || url.hash !== '') throw new CliError(`--url: '${text}' must not have a query or fragment`);
  return url;
}

/** `base` (which may carry a path prefix) joined with an API path and query. */
export function endpoint(base: URL, path: string, query?: Record<string, string>): URL {
  const u = new URL(base.href);
  u.pathname = base.pathname.replace(/\/+$/, '') + path;
  if (query !== undefined) u.search = new URLSearchParams(query).toString();
  return u;
}

/** The URL as the user knows it, for messages: origin plus path prefix. */
export function displayUrl(base: URL): string {
  return base.origin + base.pathname.replace(/\/+$/, '');
}

/** `cannot reach http://...: ECONNREFUSED` for a socket-level failure. */
export function unreachable(base: URL, err: unknown): RemoteError {
  const e = err as NodeJS.ErrnoException;
  const why = typeof e.code === 'string' && e.code !== '' ? e.code : e.message ?? String(err);
  return new RemoteError(`cannot reach ${displayUrl(base)}: ${why}`);
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  agent?: http.Agent | false;
  timeoutMs?: number;
}

/** The module that speaks the URL's protocol. */
export function transportOf(url: URL): typeof http | typeof https {
  return url.protocol === 'https:' ? https : http;
}

/**
 * One request. Resolves with any answer the server gives (every status);
 * rejects with a RemoteError when there is none (connection refused, reset,
 * timed out). `base` names the server in messages.
 */
export function request(base: URL, url: URL, opts: RequestOptions = {}): Promise<Answer> {
  const mod = transportOf(url);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise<Answer>((resolve, reject) => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.body !== undefined) headers['content-length'] = String(Buffer.byteLength(opts.body));
    const req = mod.request(
      url,
      { method: opts.method ?? 'GET', headers, ...(opts.agent !== undefined ? { agent: opts.agent } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', (e) => reject(unreachable(base, e)));
      },
    );
    let timedOut = false;
    req.setTimeout(timeoutMs, () => {
      timedOut = true;
      req.destroy();
    });
    req.on('error', (e) => {
      reject(timedOut ? new RemoteError(`no answer from ${displayUrl(base)} within ${timeoutMs / 1000} s`) : unreachable(base, e));
    });
    req.end(opts.body);
  });
}

/** The `{"error": CODE, "message": text}` of an error answer, if it has that shape. */
export function errorOf(a: Answer): { error: string; message: string } | null {
  try {
    const v = JSON.parse(a.body.toString('utf8')) as unknown;
    if (typeof v === 'object' && v !== null && typeof (v as { message?: unknown }).message === 'string') {
      const o = v as { error?: unknown; message: string };
      return { error: typeof o.error === 'string' ? o.error : '', message: o.message };
    }
  } catch {
    // not JSON
  }
  return null;
}

/** What an error answer says: the server's message, else its status and the start of its body. */
export function describeFailure(a: Answer): string {
  const e = errorOf(a);
  if (e !== null) return e.message;
  const text = a.body.toString('utf8').trim().slice(0, 200);
  const status = `HTTP ${a.status}${http.STATUS_CODES[a.status] !== undefined ? ` ${http.STATUS_CODES[a.status]}` : ''}`;
  return text === '' ? status : `${status}: ${text}`;
}

/** Throws a RemoteError with the server's message unless the answer is 2xx. */
export function expectOk(a: Answer): Answer {
  if (a.status >= 200 && a.status < 300) return a;
  throw new RemoteError(describeFailure(a), a.status);
}

/** Parses a positive integer option; `min` is the smallest allowed value. */
export function intOption(name: string, text: string | undefined, fallback: number, min = 1): number {
  if (text === undefined) return fallback;
  const t = text.trim().replace(/_/g, '');
  let n: number;
  const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(t);
  if (m === null) n = NaN;
  else {
    const mult = m[2] === '' ? 1 : m[2] === 'k' || m[2] === 'K' ? 1e3 : 1e6;
    n = Number(m[1]) * mult;
  }
  if (!Number.isFinite(n) || !Number.isInteger(n) || n < min || n > Number.MAX_SAFE_INTEGER) {
    throw new CliError(`${name} must be an integer >= ${min} (k and M suffixes allowed), not '${text}'`);
  }
  return n;
}

/** Parses a non-negative number option (seconds, rates). */
export function numberOption(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const t = text.trim().replace(/_/g, '');
  const m = /^(\d+(?:\.\d+)?|\.\d+)([kKmM]?)$/.exec(t);
  const n = m === null ? NaN : Number(m[1]) * (m[2] === '' ? 1 : m[2] === 'k' || m[2] === 'K' ? 1e3 : 1e6);
  if (!Number.isFinite(n) || n < 0) throw new CliError(`${name} must be a number >= 0, not '${text}'`);
  return n;
}

/** `Authorization: Bearer` for ingest, from --token or TALLYD_INGEST_TOKEN. */
export function authHeaders(token: string | undefined, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const t = token ?? env.TALLYD_INGEST_TOKEN;
  return t === undefined || t === '' ? {} : { authorization: `Bearer ${t}` };
}
