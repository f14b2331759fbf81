/**
 * The native-free transport: the same App on node:http, with WebSocket from
 * the `ws` package. Chosen by `--native-free`, or when the native
 * uWebSockets.js binary cannot load.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { App } from '../src/server/app.js';
import type { HttpResponse, Listener, RequestHead } from '../src/server/types.js';

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

function send(res: ServerResponse, r: HttpResponse, close = false): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string> = { ...r.headers };
  if (close) headers.connection = 'close';
  res.writeHead(r.status, headers);
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
  const b = app.begin(headOf(req));
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
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > b.limit) {
    send(res, b.tooLarge(), true);
    req.destroy();
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
      send(res, b.tooLarge(), true);
      req.destroy();
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
  const lines = [`HTTP/1.1 ${r.status} ${r.status === 401 ? 'Unauthorized' : r.status === 404 ? 'Not Found' : 'Error'}`];
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
  server.on('upgrade', (req: IncomingMessage, socket: Socket, headBuf: Buffer) => {
    const up = app.upgrade(headOf(req));
    if (!up.ok) {
      refuseUpgrade(socket, up.response);
      return;
    }
    const session = up.session;
    wss.handleUpgrade(req, socket, headBuf, (ws: WebSocket) => {
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
        closed = true;
        session.close();
      });
      ws.on('error', () => undefined);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const addr = server.address();
      const actual = typeof addr === 'object' && addr !== null ? addr.port : port;
      resolve({
        kind: 'native-free',
        host,
        port: actual,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeIdleConnections();
          }),
      });
    });
  });
}
