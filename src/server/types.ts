/**
 * The transport-neutral request/response shapes shared by the uWebSockets.js
 * server and the native-free node:http server: both adapt their sockets to
 * these and call the one App.
 */

export interface RequestHead {
  /** upper-case */
  method: string;
  /** path without the query string */
  path: string;
  /** raw query string (without `?`) */
  query: string;
  /** a header by lower-case name */
  header(name: string): string | undefined;
  /** the peer's IP address as text */
  peer: string;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
}

/** What the App wants after seeing a request's head. */
export type Begin =
  | { kind: 'respond'; response: HttpResponse }
  /** read the body (at most `limit` bytes, else answer `tooLarge`), then call `finish` */
  | { kind: 'body'; limit: number; finish(body: Buffer): Promise<HttpResponse>; tooLarge(): HttpResponse }
  /** answer `headers` now and keep the response open: `open` writes to it (server-sent events) */
  | { kind: 'stream'; headers: Record<string, string>; open(out: StreamOut): void };

/** A response that stays open (status 200, no length): what a `stream` Begin writes to. */
export interface StreamOut {
  /**
   * Sends a chunk; false when the client is not keeping up (the chunk is
   * buffered, and `onDrain` tells when it has gone out).
   */
  write(chunk: string): boolean;
  /** ends the response (and the connection's turn); idempotent */
  end(): void;
  /** told once when the response ends, by `end` or by the client going away */
  onClose(fn: () => void): void;
  onDrain(fn: () => void): void;
}

/** One accepted WebSocket connection. */
export interface WsSession {
  /**
   * Handles one message; resolves with the text frames to send back (acks,
   * busy notices, errors), in order. Messages of a session are handled one
   * at a time, in arrival order.
   */
  message(data: Buffer, binary: boolean): Promise<string[]>;
  /** limit of one message (max_body_bytes) */
  readonly maxMessageBytes: number;
  close(): void;
}

/** What the transports enforce on connections (settings request_timeout, idle_timeout, ws_*). */
export interface ConnectionLimits {
  requestTimeoutMs: number;
  idleTimeoutMs: number;
  /** 0: off */
  wsIdleTimeoutMs: number;
  wsMaxBackpressure: number;
  maxMessageBytes: number;
}

export type Upgrade = { ok: true; session: WsSession } | { ok: false; response: HttpResponse };

/** What a transport adapter gives the CLI: where it listens, and how to stop it. */
export interface Listener {
  readonly kind: 'uws' | 'native-free';
  readonly host: string;
  readonly port: number;
  /** stops accepting connections; the open ones (keep-alive, WebSockets, requests in flight) go on until terminate */
  close(): Promise<void>;
  /** closes every connection left: WebSockets with 1001 (going away), then the rest */
  terminate(): void;
}

export const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};
