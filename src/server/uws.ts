/**
 * The uWebSockets.js transport: adapts uWS requests, bodies and WebSockets to
 * the App. uWS rules kept here: everything read from `req` before returning,
 * onAborted before any await, cork around late writes, the listen socket
 * closed on shutdown.
 */
import { TallydError } from '../errors.js';
import type { App } from './app.js';
import type { Uws } from './native.js';
import { STATUS_TEXT, type Begin, type HttpResponse, type Listener, type RequestHead, type StreamOut, type WsSession } from './types.js';

type UwsResponse = import('uWebSockets.js').HttpResponse;
type UwsRequest = import('uWebSockets.js').HttpRequest;

interface Conn {
  /** answered, or aborted by the client: the response must not be touched */
  done: boolean;
  /** a HEAD request: the headers of the GET answer, no body */
  head?: boolean;
  /** told when the client goes away (a stream that is still open) */
  aborted?: () => void;
}

const STATUS_LINES = new Map<number, string>();

function statusLine(status: number): string {
  let line = STATUS_LINES.get(status);
  if (line === undefined) {
    line = `${status} ${STATUS_TEXT[status] ?? ''}`.trim();
    STATUS_LINES.set(status, line);
  }
  return line;
}

function send(res: UwsResponse, conn: Conn, r: HttpResponse): void {
  if (conn.done) return;
  conn.done = true;
  res.cork(() => {
    res.writeStatus(statusLine(r.status));
    const headers = r.headers;
    for (const k in headers) res.writeHeader(k, headers[k] as string);
    if (conn.head === true) {
      // the GET answer's length, no body (endWithoutBody(length) of this uWS build drops the connection)
      res.writeHeader('content-length', String(Buffer.byteLength(r.body)));
      res.endWithoutBody();
    } else res.end(r.body);
  });
}

/** Headers whose repeats are dropped (node:http's rule): one value only makes sense. */
const SINGLE_HEADERS = new Set([
  'age', 'authorization', 'content-length', 'content-type', 'etag', 'expires', 'from', 'host',
  'if-modified-since', 'if-unmodified-since', 'last-modified', 'location', 'max-forwards',
  'proxy-authorization', 'referer', 'retry-after', 'server', 'user-agent',
]);

function head(res: UwsResponse, req: UwsRequest): RequestHead {
  // repeated headers as node:http gives them: the first of a single-valued
  // one, the others joined with ", " (`cookie` with "; ")
  const headers = new Map<string, string>();
  req.forEach((k, v) => {
    const had = headers.get(k);
    if (had === undefined) headers.set(k, v);
    else if (!SINGLE_HEADERS.has(k)) headers.set(k, `${had}${k === 'cookie' ? '; ' : ', '}${v}`);
  });
  return {
    method: req.getCaseSensitiveMethod().toUpperCase(),
    path: req.getUrl(),
    query: req.getQuery() ?? '',
    header: (name) => headers.get(name),
    peer: Buffer.from(res.getRemoteAddressAsText()).toString(),
  };
}

/** A body buffer starts at most this large and grows as bytes arrive: a declared length is only a claim. */
const FIRST_BODY_BUFFER = 1024 * 1024;

/**
 * Body buffers of FIRST_BODY_BUFFER bytes, reused: a new 1 MiB buffer per
 * batch was the main thread's largest source of garbage (its external
 * memory forced a full GC several times a second under load). A buffer comes
 * back once its request is answered: the runtime keeps no reference after.
 */
const bodyPool: Buffer[] = [];
const BODY_POOL_MAX = 16;

function takeBodyBuffer(declared: number): Buffer {
  if (declared > 64 * 1024 && declared <= FIRST_BODY_BUFFER) return bodyPool.pop() ?? Buffer.allocUnsafeSlow(FIRST_BODY_BUFFER);
  return Buffer.allocUnsafe(declared > 0 ? Math.min(declared, FIRST_BODY_BUFFER) : 64 * 1024);
}

function giveBodyBuffer(b: Buffer): void {
  if (b.length === FIRST_BODY_BUFFER && b.byteOffset === 0 && bodyPool.length < BODY_POOL_MAX) bodyPool.push(b);
}

/**
 * Reads a body of at most `begin.limit` bytes. Over the limit the 413 goes out
 * at once and the rest of the body is read and dropped, keeping the
 * connection: closing it under a client that is still sending would reset it,
 * and the client would see a broken pipe instead of the 413.
 *
 * A body that is not complete within request_timeout of its headers is
 * answered 408 and its connection closed (uWS's own limit, 10 s without
 * 16 KB/s of progress, applies too).
 */
function readBody(app: App, res: UwsResponse, conn: Conn, begin: Begin & { kind: 'body' }, declared: number): void {
  let refused = declared > begin.limit;
  let buf = refused ? Buffer.alloc(0) : takeBodyBuffer(declared);
  let len = 0;
  const timer = setTimeout(() => {
    if (conn.done) return;
    conn.done = true;
    app.counters.closed.request_timeout++;
    res.cork(() => {
      res.writeStatus(statusLine(408));
      res.end('', true);
    });
  }, app.limits.requestTimeoutMs);
  timer.unref();
  res.onData((chunk, isLast) => {
    if (isLast || conn.done) clearTimeout(timer);
    if (refused || conn.done) return;
    const n = chunk.byteLength;
    if (len + n > begin.limit) {
      refused = true;
      send(res, conn, begin.tooLarge());
      return;
    }
    if (len + n > buf.length) {
      const grown = Buffer.allocUnsafe(Math.min(Math.max(buf.length * 2, len + n), begin.limit));
      buf.copy(grown, 0, 0, len);
      buf = grown;
    }
    // the chunk is only valid during this call: copy it
    Buffer.from(chunk).copy(buf, len);
    len += n;
    if (!isLast) return;
    clearTimeout(timer);
    const body = buf;
    begin.finish(body.subarray(0, len)).then(
      (r) => {
        giveBodyBuffer(body);
        send(res, conn, r);
      },
      (e: unknown) => {
        giveBodyBuffer(body);
        send(res, conn, internalError(e));
      },
    );
  });
  // onData is in place (uWS drops the rest of the body into it): answer now
  if (refused) {
    clearTimeout(timer);
    send(res, conn, begin.tooLarge());
  }
}

/** A response that stays open (server-sent events): headers now, chunks as the App writes them. */
function openStream(res: UwsResponse, conn: Conn, b: Begin & { kind: 'stream' }): void {
  if (conn.done) return;
  if (conn.head === true) {
    send(res, conn, { status: 200, headers: b.headers, body: '' });
    return;
  }
  // from here on the stream owns the response: send() must not touch it
  conn.done = true;
  let open = true;
  const closers: (() => void)[] = [];
  const drains: (() => void)[] = [];
  const closed = (): void => {
    if (!open) return;
    open = false;
    for (const f of closers) f();
  };
  conn.aborted = closed;
  res.onWritable(() => {
    for (const f of drains) f();
    return true;
  });
  res.cork(() => {
    res.writeStatus(statusLine(200));
    for (const k in b.headers) res.writeHeader(k, b.headers[k] as string);
  });
  const out: StreamOut = {
    write: (chunk) => {
      if (!open) return false;
      let ok = false;
      res.cork(() => {
        ok = res.write(chunk);
      });
      return ok;
    },
    end: () => {
      if (!open) return;
      res.cork(() => res.end());
      closed();
    },
    onClose: (f) => closers.push(f),
    onDrain: (f) => drains.push(f),
  };
  b.open(out);
}

function internalError(e: unknown): HttpResponse {
  return {
    status: 500,
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify({ error: 'ERR_INTERNAL', message: (e as Error).message ?? String(e) }),
  };
}

/** uWS WebSocket.send: the message was dropped (backpressure over maxBackpressure) */
const SEND_DROPPED = 2;

interface WsData {
  session: WsSession;
  closed: boolean;
}

type UwsSocket = import('uWebSockets.js').WebSocket<WsData>;

export function listenUws(uws: Uws, app: App, host: string, port: number): Promise<Listener> {
  const server = uws.App();
  const sockets = new Set<UwsSocket>();
  const limits = app.limits;
  server.ws<WsData>('/*', {
    maxPayloadLength: limits.maxMessageBytes,
    // a WebSocket without a message or a pong for this long is closed (uWS pings it before)
    idleTimeout: limits.wsIdleTimeoutMs / 1000,
    sendPingsAutomatically: true,
    // a client that does not read its answers is closed, rather than its answers dropped
    maxBackpressure: limits.wsMaxBackpressure,
    closeOnBackpressureLimit: true as unknown as number, // typed as a number, read as a boolean
    compression: uws.DISABLED,
    upgrade: (res, req, context) => {
      const h = head(res, req);
      const key = req.getHeader('sec-websocket-key');
      const protocol = req.getHeader('sec-websocket-protocol');
      const extensions = req.getHeader('sec-websocket-extensions');
      const up = app.upgrade(h);
      if (!up.ok) {
        send(res, { done: false }, up.response);
        return;
      }
      res.upgrade<WsData>({ session: up.session, closed: false }, key, protocol, extensions, context);
    },
    open: (ws) => {
      sockets.add(ws);
    },
    message: (ws, message, isBinary) => {
      const data = ws.getUserData();
      const copy = Buffer.from(new Uint8Array(message).slice());
      data.session.message(copy, isBinary).then(
        (replies) => {
          if (data.closed || replies.length === 0) return;
          let dropped = false;
          ws.cork(() => {
            for (const r of replies) {
              if (ws.send(r, false) === SEND_DROPPED) {
                dropped = true;
                break;
              }
            }
          });
          // over maxBackpressure uWS drops the answer (and would only stop reading): a client that
          // does not read its answers is closed at once (outside cork, which must not outlive its socket)
          if (dropped && !data.closed) {
            app.counters.closed.unread_answers++;
            ws.close();
          }
        },
        () => undefined,
      );
    },
    close: (ws) => {
      sockets.delete(ws);
      const data = ws.getUserData();
      data.closed = true;
      data.session.close();
    },
  });
  server.any('/*', (res, req) => {
    const conn: Conn = { done: false };
    res.onAborted(() => {
      conn.done = true;
      conn.aborted?.();
    });
    const h = head(res, req);
    conn.head = h.method === 'HEAD';
    const declared = Number(req.getHeader('content-length') || 0);
    let b: ReturnType<App['begin']>;
    try {
      b = app.begin(h);
    } catch (e) {
      // an exception must not reach uWS (it would leave the request unanswered)
      send(res, conn, internalError(e));
      return;
    }
    if (b instanceof Promise) {
      b.then(
        (r) => send(res, conn, r),
        (e: unknown) => send(res, conn, internalError(e)),
      );
    } else if ('kind' in b) {
      if (b.kind === 'respond') send(res, conn, b.response);
      else if (b.kind === 'stream') openStream(res, conn, b);
      else readBody(app, res, conn, b, declared);
    } else send(res, conn, b);
  });
  return new Promise((resolve, reject) => {
    // exclusive: a second server on the same port must fail, not share it (SO_REUSEPORT)
    const listen = server.listen as unknown as (
      h: string,
      p: number,
      options: number,
      cb: (token: import('uWebSockets.js').us_listen_socket | false) => void,
    ) => void;
    const exclusive = (uws as unknown as { LIBUS_LISTEN_EXCLUSIVE_PORT?: number }).LIBUS_LISTEN_EXCLUSIVE_PORT ?? 1;
    listen.call(server, host, port, exclusive, (token) => {
      if (!token) {
        reject(new TallydError('ERR_SERVER_LISTEN', `cannot listen on ${host}:${port}: in use, or not an address of this host`));
        return;
      }
      const actual = uws.us_socket_local_port(token);
      resolve({
        kind: 'uws',
        host,
        port: actual,
        close: async () => {
          uws.us_listen_socket_close(token);
        },
        terminate: () => {
          for (const ws of sockets) {
            ws.getUserData().closed = true;
            ws.end(1001, 'tallyd is shutting down');
          }
          sockets.clear();
          // then the keep-alive HTTP connections (`close` is in the binary, not in its typings)
          const closeAll = (server as unknown as { close?: () => void }).close;
          if (typeof closeAll === 'function') setTimeout(() => closeAll.call(server), 200).unref();
        },
      });
    });
  });
}
