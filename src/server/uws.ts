/**
 * The uWebSockets.js transport: adapts uWS requests, bodies and WebSockets to
 * the App. uWS rules kept here: everything read from `req` before returning,
 * onAborted before any await, cork around late writes, the listen socket
 * closed on shutdown.
 */
import type { App } from './app.js';
import type { Uws } from './native.js';
import { STATUS_TEXT, type Begin, type HttpResponse, type Listener, type RequestHead, type WsSession } from './types.js';

type UwsResponse = import('uWebSockets.js').HttpResponse;
type UwsRequest = import('uWebSockets.js').HttpRequest;

interface Conn {
  aborted: boolean;
}

function statusLine(status: number): string {
  return `${status} ${STATUS_TEXT[status] ?? ''}`.trim();
}

function send(res: UwsResponse, conn: Conn, r: HttpResponse, close = false): void {
  if (conn.aborted) return;
  res.cork(() => {
    res.writeStatus(statusLine(r.status));
    for (const [k, v] of Object.entries(r.headers)) res.writeHeader(k, v);
    res.end(r.body, close);
  });
}

function head(res: UwsResponse, req: UwsRequest): RequestHead {
  const headers = new Map<string, string>();
  req.forEach((k, v) => headers.set(k, v));
  return {
    method: req.getCaseSensitiveMethod().toUpperCase(),
    path: req.getUrl(),
    query: req.getQuery() ?? '',
    header: (name) => headers.get(name),
    peer: Buffer.from(res.getRemoteAddressAsText()).toString(),
  };
}

function readBody(res: UwsResponse, conn: Conn, begin: Begin & { kind: 'body' }, declared: number): void {
  if (declared > begin.limit) {
    send(res, conn, begin.tooLarge(), true);
    return;
  }
  let buf = Buffer.allocUnsafe(declared > 0 ? declared : 64 * 1024);
  let len = 0;
  let refused = false;
  res.onData((chunk, isLast) => {
    if (refused || conn.aborted) return;
    const n = chunk.byteLength;
    if (len + n > begin.limit) {
      refused = true;
      send(res, conn, begin.tooLarge(), true);
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
    begin.finish(buf.subarray(0, len)).then(
      (r) => send(res, conn, r),
      (e: unknown) => send(res, conn, internalError(e)),
    );
  });
}

function internalError(e: unknown): HttpResponse {
  return {
    status: 500,
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify({ error: 'ERR_INTERNAL', message: (e as Error).message ?? String(e) }),
  };
}

interface WsData {
  session: WsSession;
  closed: boolean;
}

export function listenUws(uws: Uws, app: App, host: string, port: number): Promise<Listener> {
  const server = uws.App();
  server.ws<WsData>('/*', {
    maxPayloadLength: app.maxMessageBytes,
    idleTimeout: 120,
    maxBackpressure: 16 * 1024 * 1024,
    compression: uws.DISABLED,
    upgrade: (res, req, context) => {
      const h = head(res, req);
      const key = req.getHeader('sec-websocket-key');
      const protocol = req.getHeader('sec-websocket-protocol');
      const extensions = req.getHeader('sec-websocket-extensions');
      const up = app.upgrade(h);
      if (!up.ok) {
        send(res, { aborted: false }, up.response);
        return;
      }
      res.upgrade<WsData>({ session: up.session, closed: false }, key, protocol, extensions, context);
    },
    message: (ws, message, isBinary) => {
      const data = ws.getUserData();
      const copy = Buffer.from(new Uint8Array(message).slice());
      data.session.message(copy, isBinary).then(
        (replies) => {
          if (data.closed || replies.length === 0) return;
          ws.cork(() => {
            for (const r of replies) ws.send(r, false);
          });
        },
        () => undefined,
      );
    },
    close: (ws) => {
      const data = ws.getUserData();
      data.closed = true;
      data.session.close();
    },
  });
  server.any('/*', (res, req) => {
    const conn: Conn = { aborted: false };
    res.onAborted(() => {
      conn.aborted = true;
    });
    const h = head(res, req);
    const declared = Number(req.getHeader('content-length') || 0);
    const b = app.begin(h);
    if (b instanceof Promise) {
      b.then(
        (r) => send(res, conn, r),
        (e: unknown) => send(res, conn, internalError(e)),
      );
    } else if ('kind' in b) {
      if (b.kind === 'respond') send(res, conn, b.response);
      else readBody(res, conn, b, declared);
    } else send(res, conn, b);
  });
  return new Promise((resolve, reject) => {
    server.listen(host, port, (token) => {
      if (!token) {
        reject(new Error(`cannot listen on ${host}:${port}`));
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
      });
    });
  });
}
