/**
 * The native-free transport: the same App on node:http, with WebSocket from
 * the `ws` package. Chosen by `--native-free`, or when the native
 * uWebSockets.js binary cannot load.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { TallydError } from '../src/errors.js';
import type { App } from '../src/server/app.js';
import {
  STATUS_TEXT,
  type Begin,
  type ConnectionLimits,
  type HttpResponse,
  type Listener,
  type RequestHead,
  type StreamOut,
} from '../src/server/types.js';

export interface NativeFreeOptions {
  /** a request must arrive whole within this (slowloris guard), ms; default request_timeout */
  requestTimeoutMs?: number;
  /** idle connections are closed after this, ms; default idle_timeout */
  keepAliveTimeoutMs?: number;
}

/**
 * Requests a connection may have in flight (read, not answered yet). A client
 * that pipelines more without reading the answers is disconnected: node:http
 * would otherwise read and start every request it sends, however many.
 * (uWebSockets.js closes a connection that sends a request while an answer
 * is still being worked out.)
 */
const MAX_IN_FLIGHT_PER_CONNECTION = 32;

/** Per connection: requests read and not answered yet. */
const inFlight = new WeakMap<Socket, number>();

function headOf(req: IncomingMessage): RequestHead {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return {
    method: (req.method ?? 'GET').toUpperCase(),
    path: q === -1 ? url : url.slice(0, q),
    query: q === -1 ? '' : url.slice(q + 1),
    header: (name) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v.join(', ') : v;
    },
    peer: req.socket.remoteAddress ?? '',
  };
}

function send(res: ServerResponse, r: HttpResponse): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string> = { ...r.headers };
  // as uWS does: a length, not chunked transfer, and the same for HEAD (whose body node omits)
  headers['content-length'] = String(Buffer.byteLength(r.body));
  res.writeHead(r.status, STATUS_TEXT[r.status] ?? '', headers);
  res.end(r.body);
}

function internalError(e: unknown): HttpResponse {
  return {
    status: 500,
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify({ error: 'ERR_INTERNAL', message: (e as Error).message ?? String(e) }),
  };
}

/** A response that stays open (server-sent events): headers now, chunks as the App writes them. */
function openStream(req: IncomingMessage, res: ServerResponse, b: Begin & { kind: 'stream' }): void {
  if (req.method === 'HEAD') {
    send(res, { status: 200, headers: b.headers, body: '' });
    return;
  }
  let open = true;
  const closers: (() => void)[] = [];
  res.once('close', () => {
    if (!open) return;
    open = false;
    for (const f of closers) f();
  });
  res.writeHead(200, STATUS_TEXT[200] ?? '', b.headers);
  res.flushHeaders();
  const out: StreamOut = {
    write: (chunk) => (open && !res.destroyed ? res.write(chunk) : false),
    end: () => {
      if (open) res.end();
    },
    onClose: (f) => closers.push(f),
    onDrain: (f) => res.on('drain', f),
  };
  b.open(out);
}

function handle(app: App, req: IncomingMessage, res: ServerResponse): void {
  const socket = req.socket;
  const n = (inFlight.get(socket) ?? 0) + 1;
  inFlight.set(socket, n);
  res.once('close', () => inFlight.set(socket, (inFlight.get(socket) ?? 1) - 1));
  if (n > MAX_IN_FLIGHT_PER_CONNECTION) {
    // the requests of the chunk already parsed come here too: count the connection once
    if (!socket.destroyed) app.counters.closed.pipelining++;
    socket.destroy();
    return;
  }
  let b: Begin | Promise<HttpResponse> | HttpResponse;
  try {
    b = app.begin(headOf(req));
  } catch (e) {
    req.resume();
    send(res, internalError(e));
    return;
  }
  if (b instanceof Promise) {
    req.resume();
    b.then((r) => send(res, r), (e: unknown) => send(res, internalError(e)));
    return;
  }
  if (!('kind' in b)) {
    req.resume();
    send(res, b);
    return;
  }
  if (b.kind === 'respond') {
    req.resume();
    send(res, b.response);
    return;
  }
  if (b.kind === 'stream') {
    req.resume();
    openStream(req, res, b);
    return;
  }
  // Over the limit the 413 goes out at once and the rest of the body is read
  // and dropped, keeping the connection (as the uWS server does): destroying
  // the socket under a client still sending would reset it, and the client
  // would see a broken pipe instead of the 413.
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > b.limit) {
    send(res, b.tooLarge());
    req.resume();
    return;
  }
  const chunks: Buffer[] = [];
  let len = 0;
  let refused = false;
  req.on('data', (c: Buffer) => {
    if (refused) return;
    len += c.length;
    if (len > b.limit) {
      refused = true;
      chunks.length = 0;
      send(res, b.tooLarge());
      return;
    }
    chunks.push(c);
  });
  req.on('end', () => {
    if (refused) return;
    b.finish(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, len)).then(
      (r) => send(res, r),
      (e: unknown) => send(res, internalError(e)),
    );
  });
}

function refuseUpgrade(socket: Socket, r: HttpResponse): void {
  const body = typeof r.body === 'string' ? r.body : r.body.toString();
  const lines = [`HTTP/1.1 ${r.status} ${STATUS_TEXT[r.status] ?? ''}`.trimEnd()];
  for (const [k, v] of Object.entries(r.headers)) lines.push(`${k}: ${v}`);
  lines.push(`content-length: ${Buffer.byteLength(body)}`, 'connection: close', '', body);
  socket.end(lines.join('\r\n'));
}

/** The bare answers node:http gives a broken or late request, then the connection closes. */
const CLIENT_ERROR_ANSWERS: Record<string, string> = {
  ERR_HTTP_REQUEST_TIMEOUT: 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
  HPE_HEADER_OVERFLOW: 'HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
};
const BAD_REQUEST = 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n';

/**
 * Closes a WebSocket that sends nothing (no message, no pong) for
 * `timeoutMs`, pinging it at half that time, as uWebSockets.js does with
 * idleTimeout: a live client answers the ping, a stalled one (for example in
 * the middle of a frame) is closed.
 */
function watchIdle(app: App, ws: WebSocket, timeoutMs: number): () => void {
  if (timeoutMs === 0) return () => undefined;
  let last = performance.now();
  let pinged = false;
  const seen = (): void => {
    last = performance.now();
    pinged = false;
  };
  ws.on('message', seen);
  ws.on('pong', seen);
  ws.on('ping', seen);
  const timer = setInterval(
    () => {
      const idle = performance.now() - last;
      if (idle >= timeoutMs) {
        app.counters.closed.websocket_idle++;
        ws.terminate();
      } else if (idle >= timeoutMs / 2 && !pinged) {
        pinged = true;
        ws.ping();
      }
    },
    Math.max(250, Math.min(5000, timeoutMs / 8)),
  );
  timer.unref();
  return () => clearInterval(timer);
}

export function listenNativeFree(app: App, host: string, port: number, opts: NativeFreeOptions = {}): Promise<Listener> {
  const limits: ConnectionLimits = {
    ...app.limits,
    ...(opts.requestTimeoutMs !== undefined ? { requestTimeoutMs: opts.requestTimeoutMs } : {}),
    ...(opts.keepAliveTimeoutMs !== undefined ? { idleTimeoutMs: opts.keepAliveTimeoutMs } : {}),
  };
  const server = createServer(
    {
      // headers and body within request_timeout, checked every second (node's default is every 30 s)
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: Math.min(1000, limits.requestTimeoutMs),
      keepAliveTimeout: limits.idleTimeoutMs,
    },
    (req, res) => handle(app, req, res),
  );
  // Socket inactivity: a connection that sends nothing (also before its
  // first request, which node:http never times out by itself), or leaves an
  // answer unread, is closed after idle_timeout. One whose answer is still
  // being worked out (a scrape, a batch waiting for its shard) is kept.
  server.timeout = limits.idleTimeoutMs;
  server.on('timeout', (socket: Socket) => {
    const busy = (inFlight.get(socket) ?? 0) > 0;
    if (!busy || socket.writableLength > 0) {
      app.counters.closed[busy ? 'unread_answers' : 'idle']++;
      socket.destroy();
    }
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      // node:http times out a connection that has sent nothing at all by its headers timeout too: that one is
      // idle, closed without an answer, whichever of the two timers (both from the settings) fires first
      if (socket.bytesRead === 0) {
        app.counters.closed.idle++;
        socket.destroy();
        return;
      }
      app.counters.closed.request_timeout++;
    }
    if (socket.writable && socket.bytesWritten === 0) socket.write(CLIENT_ERROR_ANSWERS[err.code ?? ''] ?? BAD_REQUEST);
    socket.destroy();
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxMessageBytes, perMessageDeflate: false });
  const sockets = new Set<WebSocket>();
  server.on('upgrade', (req: IncomingMessage, socket: Socket, headBuf: Buffer) => {
    const up = app.upgrade(headOf(req));
    if (!up.ok) {
      refuseUpgrade(socket, up.response);
      return;
    }
    const session = up.session;
    // a handshake `ws` refuses (no key, wrong version) never opens: the session ends with the socket
    let opened = false;
    socket.once('close', () => {
      if (!opened) session.close();
    });
    wss.handleUpgrade(req, socket, headBuf, (ws: WebSocket) => {
      opened = true;
      sockets.add(ws);
      let closed = false;
      const unwatch = watchIdle(app, ws, limits.wsIdleTimeoutMs);
      ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
        const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
        session.message(buf, isBinary).then(
          (replies) => {
            if (closed) return;
            for (const r of replies) ws.send(r);
            // a client that does not read its answers is closed, rather than its answers piling up here
            if (ws.bufferedAmount > limits.wsMaxBackpressure) {
              app.counters.closed.unread_answers++;
              closed = true;
              ws.terminate();
            }
          },
          () => undefined,
        );
      });
      ws.on('close', () => {
        sockets.delete(ws);
        closed = true;
        unwatch();
        session.close();
      });
      ws.on('error', () => undefined);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new TallydError('ERR_SERVER_LISTEN', `cannot listen on ${host}:${port}: ${e.code ?? e.message}`)),
    );
    server.listen(port, host, () => {
      const addr = server.address();
      const actual = typeof addr === 'object' && addr !== null ? addr.port : port;
      resolve({
        kind: 'native-free',
        host,
        port: actual,
        // As uWS's listen-socket close: no new connections, the open ones go on
        // until terminate (http.Server#close would also drop the idle
        // keep-alive ones at once, and its callback waits for every
        // connection, open WebSockets included).
        close: async () => {
          NetServer.prototype.close.call(server);
        },
        terminate: () => {
          for (const ws of sockets) {
            ws.close(1001, 'tallyd is shutting down');
            setTimeout(() => ws.terminate(), 1000).unref();
          }
          server.closeIdleConnections();
          setTimeout(() => server.closeAllConnections(), 200).unref();
        },
      });
    });
  });
}
