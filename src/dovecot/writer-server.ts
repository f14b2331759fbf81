/**
 * The main-thread side of Dovecot's stats-writer socket (tallyd in the stats
 * process's place; docs/dovecot-sockets.md). Per connection:
 *
 *   - the handshake: `VERSION\tstats-client\t4\t<minor>` is answered with
 *     `VERSION\tstats-server\t4\t0` and a FILTER line, the OR of every
 *     metric's filter in Dovecot's own syntax, so Dovecot's processes send
 *     only events some metric can match; every connection gets the new
 *     FILTER when a metric is added or removed;
 *   - after it, the stream is cut into complete lines (a partial line waits
 *     for the rest of it) and handed, in order, to the connection's one shard
 *     (its open BEGIN events, the parents of later events, live there), as
 *     `FORMAT_STATS_WRITER` batches: u32 connection id, then the lines;
 *   - when that shard's ring is full the connection stops being read (its
 *     Dovecot process waits, as it would for the stats process) and the
 *     batch is written once there is room: nothing read is dropped, and no
 *     other connection waits for it;
 *   - a line that breaks the protocol closes the connection ("Client sent
 *     invalid input"), counted by reason; what came before it is counted.
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { FORMAT_STATS_WRITER } from '../event/decode.js';
import type { ServerLog } from '../log/events.js';
import type { IngestOutcome, Runtime } from '../shard/runtime.js';
import { readInto } from './onread.js';
import { SERVER_VERSION, STATS_CLIENT_MAJOR, tabEscape } from './writer-encode.js';
import { MAX_LINE_BYTES } from './writer-line.js';

const CONN_PREFIX_BYTES = 4;
const LF = 10;

/** Why the main thread closed a stats-writer connection (the shard counts bad lines after the handshake). */
export const WRITER_CLOSE_REASONS = ['bad_handshake', 'bad_version', 'line_too_long', 'invalid_input', 'partial_line'] as const;
export type WriterCloseReason = (typeof WRITER_CLOSE_REASONS)[number];

export interface WriterCounters {
  connections: number;
  connectionsTotal: number;
  bytes: number;
  /** batches handed to a shard */
  batches: number;
  /** times a connection was paused because its shard's ring was full */
  paused: number;
  errors: Record<WriterCloseReason, number>;
}

/**
 * The filter Dovecot's processes get: every metric's filter in its export
 * form, ORed in metric order, repeats kept (Dovecot's event_filter_export of
 * the stats process's merged filter, byte for byte).
 */
export function writerFilter(canonicals: readonly string[]): string {
  return canonicals.filter((c) => c !== '').join(' OR ');
}

/**
 * Where a batch waits while its shard's ring is full: reused buffers (a
 * fresh 64 KiB for each wait was, under load, most of the memory the main
 * thread allocated, and what set off its major collections). A batch larger
 * than the pool's buffers gets one of its own.
 */
class ParkPool {
  private readonly free: ArrayBuffer[] = [];

  constructor(
    private readonly size: number,
    private readonly max: number,
  ) {}

  copy(bytes: Buffer): Buffer {
    if (bytes.length > this.size) return Buffer.from(bytes);
    const ab = this.free.pop() ?? new ArrayBuffer(this.size);
    const out = Buffer.from(ab, 0, bytes.length);
    bytes.copy(out);
    return out;
  }

  /**
   * `b` (written to the ring, referenced nowhere else) back to the pool, if it
   * came from it: only the pool's buffers are `size` long (a larger batch's
   * own copy is longer).
   */
  release(b: Buffer): void {
    const ab = b.buffer as ArrayBuffer;
    if (ab.byteLength === this.size && this.free.length < this.max) this.free.push(ab);
  }
}

class WriterConn {
  state: 'version' | 'ready' | 'closed' = 'version';
  /** the start of a line whose LF has not arrived */
  rest: Buffer | null = null;
  /** batches waiting for room in the shard's ring, in order */
  readonly queue: Buffer[] = [];
  waiting = false;
  constructor(
    readonly id: number,
    readonly shard: number,
    readonly socket: Socket,
  ) {}
}

export class WriterServer {
  readonly counters: WriterCounters = {
    connections: 0,
    connectionsTotal: 0,
    bytes: 0,
    batches: 0,
    paused: 0,
    errors: { bad_handshake: 0, bad_version: 0, line_too_long: 0, invalid_input: 0, partial_line: 0 },
  };
  private readonly conns = new Set<WriterConn>();
  private readonly perShard: number[];
  private nextId = 1;
  private filterLine: string;
  private readonly maxLine: number;
  private idle: (() => void) | null = null;
  /** where a batch is assembled before the ring copies it */
  private scratch: Buffer = Buffer.allocUnsafeSlow(64 * 1024 + CONN_PREFIX_BYTES);
  /** where every connection's reads land (onread.ts): what is kept of a read is copied out */
  private readonly readBuf: Buffer = Buffer.allocUnsafeSlow(64 * 1024);
  /** batches parked while their shard's ring is full: a read, the start of a line before it, the connection id */
  private readonly parked = new ParkPool(64 * 1024 + 4096 + CONN_PREFIX_BYTES, 64);

  constructor(
    private readonly rt: Runtime,
    private readonly filterOf: () => string,
    private readonly log?: Logger,
    private readonly events?: ServerLog,
  ) {
    this.perShard = new Array<number>(rt.shardCount).fill(0);
    this.filterLine = `FILTER\t${tabEscape(filterOf())}\n`;
    this.maxLine = Math.min(MAX_LINE_BYTES, rt.maxBatchBytes - CONN_PREFIX_BYTES - 1);
    rt.onMetricsChanged(() => this.refilter());
  }

  /** Sends every connection past its handshake the current filter. */
  refilter(): void {
    this.filterLine = `FILTER\t${tabEscape(this.filterOf())}\n`;
    for (const c of this.conns) if (c.state === 'ready') c.socket.write(this.filterLine);
  }

  accept(socket: Socket): void {
    // the least used shard: a connection lives long (one per Dovecot process)
    let shard = 0;
    for (let i = 1; i < this.perShard.length; i++) if ((this.perShard[i] as number) < (this.perShard[shard] as number)) shard = i;
    this.perShard[shard]!++;
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffff_ffff ? 1 : this.nextId + 1;
    const c = new WriterConn(id, shard, socket);
    this.conns.add(c);
    this.counters.connections++;
    this.counters.connectionsTotal++;
    socket.on('error', () => undefined);
    socket.on('close', () => this.onClose(c));
    // the socket was accepted paused (listenUnix `paused`): reading starts here
    readInto(socket, this.readBuf, (chunk) => this.onData(c, chunk));
  }

  private onData(c: WriterConn, chunk: Buffer): void {
    if (c.state === 'closed') return;
    this.counters.bytes += chunk.length;
    if (c.state === 'version') {
      // (a read is a view of readBuf: what is kept of it is copied)
      const buf = c.rest === null ? Buffer.from(chunk) : Buffer.concat([c.rest, chunk]);
      c.rest = null;
      const nl = buf.indexOf(LF);
      if (nl < 0) {
        this.keepRest(c, buf);
        return;
      }
      if (!this.handshake(c, buf.toString('utf8', 0, nl))) return;
      if (nl + 1 < buf.length) this.onLines(c, buf.subarray(nl + 1));
      return;
    }
    this.onLines(c, chunk);
  }

  /** Bytes after the handshake: the complete lines go to the shard (the start of a line held before them first). */
  private onLines(c: WriterConn, chunk: Buffer): void {
    const rest = c.rest;
    const last = chunk.lastIndexOf(LF);
    if (last < 0) {
      this.keepRest(c, rest === null ? Buffer.from(chunk) : Buffer.concat([rest, chunk]));
      return;
    }
    // the first line may have begun in an earlier chunk: only it can be longer than a chunk
    const first = (rest?.length ?? 0) + chunk.indexOf(LF);
    if (first > this.maxLine) {
      this.invalid(c, 'line_too_long', `a line of ${first} bytes (at most ${this.maxLine})`);
      return;
    }
    c.rest = null;
    if (last + 1 < chunk.length && !this.keepRest(c, Buffer.from(chunk.subarray(last + 1)))) return;
    this.hand(c, rest, chunk.subarray(0, last + 1));
  }

  /** Keeps the start of a line until its end arrives; false (connection closed) when it is already too long. */
  private keepRest(c: WriterConn, rest: Buffer): boolean {
    if (rest.length > this.maxLine) {
      this.invalid(c, 'line_too_long', `a line of more than ${this.maxLine} bytes`);
      return false;
    }
    c.rest = rest;
    return true;
  }

  private handshake(c: WriterConn, line: string): boolean {
    const f = line.split('\t');
    if (f.length !== 4 || f[0] !== 'VERSION' || f[1] !== 'stats-client' || !/^\d+$/.test(f[2] ?? '') || !/^\d+$/.test(f[3] ?? '')) {
      this.invalid(c, 'bad_handshake', `expected "VERSION\\tstats-client\\t${STATS_CLIENT_MAJOR}\\t<minor>", got ${JSON.stringify(line.slice(0, 100))}`);
      return false;
    }
    if (Number(f[2]) !== STATS_CLIENT_MAJOR) {
      this.invalid(c, 'bad_version', `stats-client protocol version ${f[2]}.${f[3]} is not supported (tallyd speaks ${STATS_CLIENT_MAJOR}.x, as Dovecot 2.3)`);
      return false;
    }
    c.state = 'ready';
    c.socket.write(`${SERVER_VERSION}\n${this.filterLine}`);
    return true;
  }

  /** Hands complete lines (`head` then `lines`) to the connection's shard, in record-sized pieces cut at line ends. */
  private hand(c: WriterConn, head: Buffer | null, lines: Buffer): void {
    const room = this.rt.maxBatchBytes - CONN_PREFIX_BYTES;
    const total = (head?.length ?? 0) + lines.length;
    if (total <= room) {
      // the common case: one record, assembled in the scratch buffer and copied into the ring;
      // kept in a buffer of its own only when it has to wait for room
      const n = CONN_PREFIX_BYTES + total;
      if (this.scratch.length < n) this.scratch = Buffer.allocUnsafeSlow(Math.max(n, this.scratch.length * 2));
      const payload = this.scratch.subarray(0, n);
      payload.writeUInt32LE(c.id, 0);
      let off = CONN_PREFIX_BYTES;
      if (head !== null) off += head.copy(payload, off);
      lines.copy(payload, off);
      if (c.queue.length === 0 && this.tryHand(c, payload)) return;
      c.queue.push(this.parked.copy(payload));
    } else {
      const all = head === null ? lines : Buffer.concat([head, lines]);
      let start = 0;
      while (start < all.length) {
        let end = all.length;
        if (end - start > room) end = all.lastIndexOf(LF, start + room - 1) + 1;
        if (end <= start) {
          this.invalid(c, 'line_too_long', `a line of more than ${this.maxLine} bytes`);
          return;
        }
        const payload = Buffer.allocUnsafe(CONN_PREFIX_BYTES + end - start);
        payload.writeUInt32LE(c.id, 0);
        all.copy(payload, CONN_PREFIX_BYTES, start, end);
        c.queue.push(payload);
        start = end;
      }
    }
    this.pump(c);
  }

  /** Hands one batch from the scratch buffer straight to the ring; false when the ring has no room. */
  private tryHand(c: WriterConn, payload: Buffer): boolean {
    const p = this.rt.ingestTo(c.shard, payload, FORMAT_STATS_WRITER, false);
    if (p === null) return false;
    this.counters.batches++;
    void p.then((o) => this.answered(c, o));
    return true;
  }

  /** Writes queued batches while the shard's ring takes them; pauses the socket when it does not. */
  private pump(c: WriterConn): void {
    while (c.queue.length > 0) {
      const b = c.queue[0] as Buffer;
      // (its events counted now, not kept for the case its shard dies: the buffer is reused)
      const p = this.rt.ingestTo(c.shard, b, FORMAT_STATS_WRITER, false);
      if (p === null) {
        if (!c.waiting) {
          c.waiting = true;
          this.counters.paused++;
          this.events?.backpressure('stats-writer', null, `stats-writer connection paused: shard ${c.shard}'s ring is full`);
          c.socket.pause();
          void this.rt.waitForShardSpace(c.shard, b.length, 1000).then(() => {
            c.waiting = false;
            this.pump(c);
          });
        }
        return;
      }
      c.queue.shift();
      this.parked.release(b);
      this.counters.batches++;
      void p.then((o) => this.answered(c, o));
    }
    if (c.state === 'ready') c.socket.resume();
    else if (c.state === 'closed') this.finish(c);
  }

  private answered(c: WriterConn, o: IngestOutcome): void {
    if (o.status === 'ok' && o.fatal !== undefined) this.invalid(c, 'invalid_input', o.fatal);
    else if (o.status === 'lost') this.log?.warn({ conn: c.id, shard: c.shard }, 'stats-writer lines lost with a shard worker that died (counted in tallyd_events_lost_total)');
    else if (o.status === 'internal') this.log?.error({ conn: c.id, err: o.message }, 'the engine failed on stats-writer lines');
    if (c.state === 'closed') this.finish(c);
  }

  /** Dovecot's "Client sent invalid input": counted, logged, disconnected. */
  private invalid(c: WriterConn, reason: WriterCloseReason, detail: string): void {
    if (c.state === 'closed') return;
    this.counters.errors[reason]++;
    this.log?.warn({ conn: c.id, reason, detail }, 'stats-writer client sent invalid input; disconnecting it');
    c.socket.destroy();
    this.onClose(c);
  }

  private onClose(c: WriterConn): void {
    if (c.state === 'closed') return;
    if (c.rest !== null && c.state === 'ready') this.counters.errors.partial_line++;
    c.rest = null;
    c.state = 'closed';
    this.finish(c);
  }

  /** Once everything read from a closed connection is in its shard: the shard forgets it. */
  private finish(c: WriterConn): void {
    if (c.queue.length > 0 || !this.conns.has(c)) return;
    this.conns.delete(c);
    this.counters.connections--;
    this.perShard[c.shard]!--;
    void this.rt.writerClosed(c.shard, c.id).catch(() => undefined);
    if (this.conns.size === 0) this.idle?.();
  }

  /** Closes every connection (what was read from them stays handed over). */
  close(): Promise<void> {
    for (const c of [...this.conns]) {
      c.socket.destroy();
      this.onClose(c);
    }
    if (this.conns.size === 0) return Promise.resolve();
    return new Promise((resolve) => (this.idle = resolve));
  }
}
