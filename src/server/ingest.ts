/**
 * Ingest over HTTP and WebSocket (docs/contract.md §6, 7): frames go to the runtime, which
 * answers once the shard's figures are merged.
 */
import type { BatchFormat } from '../event/decode.js';
import { FORMAT_JSON, FORMAT_MSGPACK, FORMAT_NDJSON } from '../event/decode.js';
import { reasonCode, type ServerLog } from '../log/events.js';
import type { IngestOutcome, Runtime } from '../shard/runtime.js';
import { fail, json } from './respond.js';
import type { HttpResponse, WsSession } from './types.js';

/** How long a WebSocket message waits for ring space before it is answered busy. */
const WS_SPACE_WAIT_MS = 2000;
/** Messages a WebSocket may have waiting before the oldest are answered busy. */
const WS_MAX_QUEUED = 64;
/**
 * Bytes a WebSocket may have waiting (messages read, not yet answered) before
 * new ones are answered busy at once: one connection cannot hold 64 messages
 * of max_body_bytes each in memory. At least one message always fits.
 */
const WS_MAX_QUEUED_BYTES = 32 * 1024 * 1024;

export interface IngestCounters {
  httpBatches: number;
  wsMessages: number;
  wsConnections: number;
}

const JSON_HEADERS: Readonly<Record<string, string>> = Object.freeze({ 'content-type': 'application/json; charset=utf-8' });

export function outcomeResponse(o: IngestOutcome): HttpResponse {
  switch (o.status) {
    case 'ok':
      return {
        status: 200,
        headers: JSON_HEADERS as Record<string, string>,
        body:
          o.errors.length === 0
            ? `{"accepted":${o.accepted},"rejected":${o.rejected},"errors":[]}`
            : JSON.stringify({ accepted: o.accepted, rejected: o.rejected, errors: o.errors }),
      };
    case 'framing':
      return fail(400, 'ERR_INGEST_FRAMING', o.message);
    case 'internal':
      // tallyd's fault, not the client's: never a 400
      return json(500, { error: 'ERR_INTERNAL', message: `the shard failed on this batch: ${o.message}` });
    case 'busy':
      return fail(503, 'ERR_INGEST_BUSY', 'every shard ring is full; retry later', { 'retry-after': '1' });
    case 'lost':
      return fail(500, 'ERR_INGEST_LOST', 'the shard processing this batch died; its events were not counted');
    case 'closed':
      return fail(503, 'ERR_INGEST_BUSY', 'tallyd is shutting down', { 'retry-after': '5' });
  }
}

/** A text WebSocket message is JSON when it is one value, NDJSON otherwise. */
function textFormat(data: Buffer): BatchFormat {
  let i = 0;
  while (i < data.length && (data[i] === 0x20 || data[i] === 0x0a || data[i] === 0x0d || data[i] === 0x09)) i++;
  if (data[i] === 0x5b) return FORMAT_JSON; // [
  const nl = data.indexOf(0x0a, i);
  if (nl === -1) return FORMAT_JSON;
  // more than one non-empty line: NDJSON
  for (let j = nl + 1; j < data.length; j++) {
    const c = data[j];
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return FORMAT_NDJSON;
  }
  return FORMAT_JSON;
}

export class StreamSession implements WsSession {
  private readonly runtime: Runtime;
  private readonly ack: boolean;
  private readonly counters: IngestCounters;
  readonly maxMessageBytes: number;
  private seq: number;
  private queued: number;
  private queuedBytes: number;
  private tail: Promise<unknown>;
  private closed: boolean;
  /** told of every message's outcome that is not clean (rejections, refusals) */
  private readonly note: ((o: IngestOutcome) => void) | undefined;
  private readonly log: { log: ServerLog; peer: string } | undefined;

  constructor(
    runtime: Runtime,
    ack: boolean,
    maxMessageBytes: number,
    counters: IngestCounters,
    note?: (o: IngestOutcome) => void,
    log?: { log: ServerLog; peer: string },
  ) {
    this.log = log;
    this.runtime = runtime;
    this.ack = ack;
    this.maxMessageBytes = maxMessageBytes;
    this.counters = counters;
    this.seq = 0;
    this.queued = 0;
    this.queuedBytes = 0;
    this.tail = Promise.resolve();
    this.closed = false;
    this.note = note;
    counters.wsConnections++;
  }

  message(data: Buffer, binary: boolean): Promise<string[]> {
    const seq = ++this.seq;
    this.counters.wsMessages++;
    if (this.queued >= WS_MAX_QUEUED || (this.queued > 0 && this.queuedBytes + data.length > Math.max(WS_MAX_QUEUED_BYTES, this.maxMessageBytes))) {
      this.log?.log.backpressure('websocket', this.log.peer, 'WebSocket message answered busy: too many messages waiting on the connection');
      return Promise.resolve([JSON.stringify({ seq, busy: true, error: 'ERR_INGEST_BUSY', message: 'too many messages waiting' })]);
    }
    this.queued++;
    this.queuedBytes += data.length;
    const run = async (): Promise<string[]> => {
      try {
        return await this.handle(seq, data, binary ? FORMAT_MSGPACK : textFormat(data));
      } catch (e) {
        // every message gets its answer, even when something below fails
        return [JSON.stringify({ seq, error: 'ERR_INTERNAL', message: (e as Error).message ?? String(e) })];
      } finally {
        this.queued--;
        this.queuedBytes -= data.length;
      }
    };
    const p = this.tail.then(run, run);
    this.tail = p;
    return p;
  }

  private async handle(seq: number, data: Buffer, format: BatchFormat): Promise<string[]> {
    let o = await this.runtime.ingest(data, format);
    if (o.status === 'busy' && !this.closed) {
      // backpressure: this connection waits (and stops being served) until a ring has room
      if (await this.runtime.waitForSpace(data.length, WS_SPACE_WAIT_MS)) o = await this.runtime.ingest(data, format);
    }
    if (this.note !== undefined && (o.status !== 'ok' || o.rejected > 0)) this.note(o);
    if (this.log !== undefined) this.logOutcome(this.log, o);
    switch (o.status) {
      case 'ok':
        return this.ack ? [JSON.stringify({ seq, accepted: o.accepted, rejected: o.rejected, errors: o.errors })] : [];
      case 'framing':
        return [JSON.stringify({ seq, error: 'ERR_INGEST_FRAMING', message: o.message })];
      case 'internal':
        return [JSON.stringify({ seq, error: 'ERR_INTERNAL', message: `the shard failed on this message: ${o.message}` })];
      case 'busy':
        return [JSON.stringify({ seq, busy: true, error: 'ERR_INGEST_BUSY', message: 'every shard ring is full; resend later' })];
      case 'closed':
        return [JSON.stringify({ seq, busy: true, error: 'ERR_INGEST_BUSY', message: 'tallyd is shutting down' })];
      case 'lost':
        return [JSON.stringify({ seq, error: 'ERR_INGEST_LOST', message: 'the shard processing this message died' })];
    }
  }

  private logOutcome(l: { log: ServerLog; peer: string }, o: IngestOutcome): void {
    if (o.status === 'ok' && o.rejected > 0) {
      const first = o.errors[0]?.reason ?? 'rejected';
      l.log.rejected(l.peer, 'websocket', reasonCode(first), first, { status: 200, events: o.accepted + o.rejected, rejected: o.rejected });
    } else if (o.status === 'framing') {
      l.log.rejected(l.peer, 'websocket', 'ERR_INGEST_FRAMING', o.message, { status: 400 });
    } else if (o.status === 'busy') {
      l.log.backpressure('websocket', l.peer, 'WebSocket message answered busy: every shard ring is full');
    }
  }

  close(): void {
    if (!this.closed) {
      this.closed = true;
      this.counters.wsConnections--;
    }
  }
}
