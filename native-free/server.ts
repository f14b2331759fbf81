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
import { STATUS_TEXT, type Begin, type HttpResponse, type Listener, type RequestHead } from '../src/server/types.js';

export interface NativeFreeOptions {
  /** a request must arrive whole within this (slowloris guard), ms */
  requestTimeoutMs?: number;
  /** idle keep-alive connections are closed after this, ms */
  keepAliveTimeoutMs?: number;
}

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

function handle(app: App, req: IncomingMessage, res: ServerResponse): void {
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

export function listenNativeFree(app: App, host: string, port: number, opts: NativeFreeOptions = {}): Promise<Listener> {
  const server = createServer(
    { requestTimeout: opts.requestTimeoutMs ?? 30_000, keepAliveTimeout: opts.keepAliveTimeoutMs ?? 5_000 },
    (req, res) => handle(app, req, res),
  );
  const wss = new WebSocketServer({ noServer: true, maxPayload: app.maxMessageBytes, perMessageDeflate: false });
  const sockets = new Set<WebSocket>();
  server.on('upgrade', (req: IncomingMessage, socket: Socket, headBuf: Buffer) => {
    const up = app.upgrade(headOf(req));
    if (!up.ok) {
      refuseUpgrade(socket, up.response);
      return;
    }
    const session = up.session;
    wss.handleUpgrade(req, socket, headBuf, (ws: WebSocket) => {
      sockets.add(ws);
      let closed = false;
      ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
        const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
        session.message(buf, isBinary).then(
          (replies) => {
            if (!closed) for (const r of replies) ws.send(r);
          },
          () => undefined,
        );
      });
      ws.on('close', () => {
        sockets.delete(ws);
        closed = true;
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
