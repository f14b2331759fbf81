/**
 * The stats-reader socket: what `doveadm stats dump|add|remove` (and 2.4's
 * `stats reopen`) talk to, served as Dovecot 2.3.19's stats process does
 * (src/stats/client-reader.c on src/lib/connection.c). Self-contained: the
 * caller creates the unix socket and hands each accepted connection to
 * `ReaderServer.accept` (or `readerConnection`). docs/dovecot-sockets.md,
 * section "stats-reader", has the protocol as implemented.
 */
import type { Socket } from 'node:net';
import { buildMetricDef } from '../config/index.js';
import { ConfigError } from '../errors.js';
import type { SelfFamily } from '../export/types.js';
import type { ServerLog } from '../log/events.js';
import type { EngineSnapshot } from '../metrics/types.js';
import type { Runtime } from '../shard/runtime.js';
import { renderReaderDump, splitTabEscaped } from './reader-wire.js';

export const READER_SERVICE_IN = 'stats-reader-client';
export const READER_SERVICE_OUT = 'stats-reader-server';
export const READER_MAJOR = 2;
/** what the server sends first, before reading anything (connection_init_streams) */
export const READER_VERSION_LINE = `VERSION\t${READER_SERVICE_OUT}\t${READER_MAJOR}\t0\n`;
/**
 * Dovecot's input_max_size for this socket: a line, its LF included, must fit
 * in 1024 bytes (so at most 1023 bytes before the LF), or the connection is
 * closed ("buffer full").
 */
export const READER_MAX_LINE_BYTES = 1024;

/**
 * Why input was refused. All but `unknown_command` close the connection
 * (after answering the lines before it); an unknown command is ignored with
 * no answer, as 2.3.19 does. `internal`: the backend failed (a tallyd bug or
 * a runtime shutting down), the connection is closed.
 */
export const READER_ERROR_REASONS = [
  'bad_handshake',
  'wrong_service',
  'bad_version',
  'empty_line',
  'not_enough_parameters',
  'line_too_long',
  'unknown_command',
  'internal',
] as const;
export type ReaderErrorReason = (typeof READER_ERROR_REASONS)[number];

export const READER_COMMANDS = ['DUMP', 'DUMP-RESET', 'METRICS-ADD', 'METRICS-REMOVE', 'REOPEN'] as const;
export type ReaderCommand = (typeof READER_COMMANDS)[number];

export interface ReaderCounters {
  /** connections accepted */
  connectionsTotal: number;
  /** connections open now */
  connections: number;
  /** commands answered, by command */
  commands: Record<ReaderCommand, number>;
  /** refused input, by reason (tallyd_dovecot_reader_errors_total{reason}) */
  errors: Record<ReaderErrorReason, number>;
}

export function newReaderCounters(): ReaderCounters {
  return {
    connectionsTotal: 0,
    connections: 0,
    commands: Object.fromEntries(READER_COMMANDS.map((c) => [c, 0])) as Record<ReaderCommand, number>,
    errors: Object.fromEntries(READER_ERROR_REASONS.map((r) => [r, 0])) as Record<ReaderErrorReason, number>,
  };
}

/** The self-metric families of the counters. */
export function readerFamilies(c: ReaderCounters): SelfFamily[] {
  return [
    { name: 'tallyd_dovecot_reader_open_connections', help: 'Open stats-reader connections (doveadm stats)', type: 'gauge', samples: [{ labels: {}, value: c.connections }] },
    { name: 'tallyd_dovecot_reader_connections_total', help: 'Stats-reader connections accepted', type: 'counter', samples: [{ labels: {}, value: c.connectionsTotal }] },
    {
      name: 'tallyd_dovecot_reader_commands_total',
      help: 'Stats-reader commands answered, by command',
      type: 'counter',
      samples: READER_COMMANDS.map((k) => ({ labels: { command: k }, value: c.commands[k] })),
    },
    {
      name: 'tallyd_dovecot_reader_errors_total',
      help: 'Stats-reader input refused, by reason (all but unknown_command close the connection)',
      type: 'counter',
      samples: READER_ERROR_REASONS.map((r) => ({ labels: { reason: r }, value: c.errors[r] })),
    },
  ];
}

/** The 7 arguments of `METRICS-ADD`, in wire order (doveadm's defaults: "" and, for exporterInclude, "name hostname timestamps categories fields"). */
export interface ReaderMetricAdd {
  name: string;
  description: string;
  /** space separated */
  fields: string;
  /** 2.3 legacy syntax: `field field:exponential:1:5:10 …` */
  groupBy: string;
  filter: string;
  exporter: string;
  exporterInclude: string;
}

/** What the reader needs from tallyd. `runtimeReaderBackend` builds it on a Runtime. */
export interface ReaderBackend {
  /**
   * Calls `render` on one merged, consistent snapshot of every shard
   * (synchronously: the snapshot is only valid during the call) and, when
   * `reset`, zeroes every figure right after it in the same step, keeping
   * the sub-metrics.
   */
  dump<T>(reset: boolean, render: (snap: EngineSnapshot) => T): Promise<T>;
  /** Adds a metric: null on success, else the error text sent as `-METRICS-ADD: <text>`. */
  add(def: ReaderMetricAdd): Promise<string | null>;
  /** Removes a metric and its sub-metrics; false when there is none of that name. */
  remove(name: string): Promise<boolean>;
  /** `REOPEN` (2.4): reopen file exporters; tallyd has none, so optional. */
  reopen?(): Promise<void>;
}

/** Anything with pino's `warn(msg)`. */
export interface ReaderLogger {
  warn(msg: string): void;
}

export interface ReaderOptions {
  /** a line, LF included, longer than this closes the connection; default READER_MAX_LINE_BYTES (1024, Dovecot's) */
  maxLineBytes?: number;
  log?: ReaderLogger;
  /** where METRICS-ADD, METRICS-REMOVE and DUMP-RESET are logged */
  events?: ServerLog;
}

/** Complete lines read ahead of the one being answered before the socket is paused. */
const MAX_QUEUED_LINES = 64;

type Item = { line: string } | { tooLong: true };

/**
 * Serves one stats-reader connection until it closes: answers commands in
 * order, one at a time. Output is written without blocking anything else;
 * while the socket's write buffer is full (a client that does not read), the
 * connection stops reading and answering until it drains, so such a client
 * costs about one answer of memory and delays no one else.
 */
export function readerConnection(socket: Socket, backend: ReaderBackend, counters: ReaderCounters, opts: ReaderOptions = {}): void {
  new ReaderConnection(socket, backend, counters, opts.maxLineBytes ?? READER_MAX_LINE_BYTES, opts.log, opts.events);
}

class ReaderConnection {
  private partial: Buffer[] = [];
  private partialBytes = 0;
  private readonly queue: Item[] = [];
  private handshaken = false;
  private busy = false;
  /** set when the connection is being closed: nothing more is read or answered */
  private closing = false;
  private ended = false;
  private destroyed = false;

  constructor(
    private readonly sock: Socket,
    private readonly backend: ReaderBackend,
    private readonly counters: ReaderCounters,
    private readonly maxLine: number,
    private readonly log: ReaderLogger | undefined,
    private readonly events: ServerLog | undefined,
  ) {
    counters.connectionsTotal++;
    counters.connections++;
    // answers are still written after the client's FIN (a client that shuts down its side after sending)
    sock.allowHalfOpen = true;
    sock.on('data', (chunk: Buffer) => this.onData(chunk));
    sock.on('end', () => {
      this.ended = true;
      void this.pump();
    });
    sock.on('error', () => undefined);
    sock.once('close', () => {
      this.destroyed = true;
      this.closing = true;
      counters.connections--;
    });
    sock.write(READER_VERSION_LINE);
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return;
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl < 0) break;
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      if (this.partialBytes + piece.length + 1 > this.maxLine) {
        this.stopReading({ tooLong: true });
        return;
      }
      const bytes = this.partial.length === 0 ? piece : Buffer.concat([...this.partial, piece]);
      this.partial = [];
      this.partialBytes = 0;
      this.queue.push({ line: lineText(bytes) });
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      if (this.partialBytes + rest.length >= this.maxLine) {
        this.stopReading({ tooLong: true });
        return;
      }
      // a copy: the chunk's memory is not kept alive by a few bytes
      this.partial.push(Buffer.from(rest));
      this.partialBytes += rest.length;
    }
    if (this.queue.length >= MAX_QUEUED_LINES) this.sock.pause();
    void this.pump();
  }

  /** A too-long line: the lines before it are still answered, nothing after it is read. */
  private stopReading(last: Item): void {
    this.queue.push(last);
    this.sock.pause();
    this.sock.removeAllListeners('data');
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (!this.closing) {
        if (this.sock.writableNeedDrain) {
          this.sock.pause();
          await this.drained();
          continue;
        }
        const item = this.queue.shift();
        if (item === undefined) break;
        if ('tooLong' in item) {
          this.fail('line_too_long', `Input line longer than ${this.maxLine - 1} bytes (Dovecot: buffer full)`);
          break;
        }
        await this.handle(item.line);
      }
    } catch (e) {
      this.fail('internal', `internal error: ${(e as Error).message}`);
    } finally {
      this.busy = false;
    }
    if (this.closing) return;
    if (this.queue.length === 0 && this.ended) {
      this.close();
      return;
    }
    if (this.queue.length < MAX_QUEUED_LINES && !this.sock.writableNeedDrain) this.sock.resume();
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.sock.off('drain', done);
        this.sock.off('close', done);
        resolve();
      };
      this.sock.on('drain', done);
      this.sock.on('close', done);
    });
  }

  private send(text: string): void {
    if (!this.destroyed) this.sock.write(text);
  }

  /** Ends our side once what was written is flushed; a peer that never reads is cut off after 5 s. */
  private close(): void {
    this.closing = true;
    if (this.destroyed) return;
    this.sock.end();
    setTimeout(() => this.sock.destroy(), 5000).unref();
  }

  private fail(reason: ReaderErrorReason, message: string): void {
    this.counters.errors[reason]++;
    this.log?.warn(`stats-reader: ${message}; closing the connection (${reason})`);
    this.close();
  }

  private async handle(line: string): Promise<void> {
    const args = splitTabEscaped(line);
    const cmd = args[0];
    if (cmd === undefined) {
      this.fail('empty_line', 'Unexpectedly received empty line');
      return;
    }
    if (!this.handshaken) {
      this.handshake(args);
      return;
    }
    const rest = args.slice(1);
    switch (cmd) {
      case 'DUMP':
      case 'DUMP-RESET': {
        const text = await this.backend.dump(cmd === 'DUMP-RESET', (snap) => renderReaderDump(snap, rest));
        this.counters.commands[cmd]++;
        if (cmd === 'DUMP-RESET') this.events?.reset('stats-reader', null);
        this.send(text);
        return;
      }
      case 'METRICS-ADD': {
        if (rest.length < 7) {
          this.fail('not_enough_parameters', 'METRICS-ADD: Not enough parameters');
          return;
        }
        const [name, description, fields, groupBy, filter, exporter, exporterInclude] = rest as [string, string, string, string, string, string, string];
        const err = await this.backend.add({ name, description, fields, groupBy, filter, exporter, exporterInclude });
        this.counters.commands[cmd]++;
        if (err === null) this.events?.metricAdded(name, 'stats-reader', null, { filter, fields: fields.split(/\s+/).filter((f) => f !== ''), groupBy });
        this.send(err === null ? '+\n' : `-METRICS-ADD: ${oneLine(err)}\n`);
        return;
      }
      case 'METRICS-REMOVE': {
        const name = rest[0];
        if (name === undefined) {
          this.fail('not_enough_parameters', 'METRICS-REMOVE: Not enough parameters');
          return;
        }
        const ok = await this.backend.remove(name);
        this.counters.commands[cmd]++;
        if (ok) this.events?.metricRemoved(name, 'stats-reader', null);
        this.send(ok ? '+\n' : `-metrics '${oneLine(name)}' not found\n`);
        return;
      }
      case 'REOPEN':
        await this.backend.reopen?.();
        this.counters.commands[cmd]++;
        this.send('+\n');
        return;
      default:
        // 2.3.19 (and 2.4) ignore an unknown command: no answer, the connection stays
        this.counters.errors.unknown_command++;
        this.log?.warn(`stats-reader: unknown command ${JSON.stringify(cmd.slice(0, 64))} ignored`);
    }
  }

  /** connection_handshake_args_default + connection_verify_version */
  private handshake(args: string[]): void {
    if (args.length !== 4 || args[0] !== 'VERSION' || !isUint(args[2] as string) || !isUint(args[3] as string)) {
      this.fail('bad_handshake', `didn't reply with a valid VERSION line: ${JSON.stringify(args.join('\t').slice(0, 128))}`);
      return;
    }
    if (args[1] !== READER_SERVICE_IN) {
      this.fail('wrong_service', `Connected to wrong socket type. We want '${READER_SERVICE_IN}', but received '${(args[1] as string).slice(0, 64)}'`);
      return;
    }
    const major = Number(args[2]);
    if (major !== READER_MAJOR) {
      this.fail('bad_version', `Socket supports major version ${major}, but we support only ${READER_MAJOR} (mixed old and new binaries?)`);
      return;
    }
    this.handshaken = true;
  }
}

/** str_to_uint: decimal digits only, at most UINT_MAX */
function isUint(s: string): boolean {
  return /^[0-9]+$/.test(s) && Number(s) <= 0xffffffff;
}

/** A line as i_stream_next_line gives it: a CR before the LF dropped, cut at a NUL byte (C string), UTF-8. */
function lineText(bytes: Buffer): string {
  let end = bytes.length;
  if (end > 0 && bytes[end - 1] === 13) end--;
  const nul = bytes.indexOf(0);
  if (nul >= 0 && nul < end) end = nul;
  return bytes.toString('utf8', 0, end);
}

/** Dovecot sends these raw; a CR or LF in them would break the framing, so they become spaces. */
function oneLine(s: string): string {
  return s.replace(/[\r\n]/g, ' ');
}

/**
 * Serves every stats-reader connection of one socket with one backend and
 * one set of counters.
 */
export class ReaderServer {
  readonly counters: ReaderCounters = newReaderCounters();
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly backend: ReaderBackend,
    private readonly opts: ReaderOptions = {},
  ) {}

  /** Hand it each accepted connection (net.Server 'connection'). */
  accept(sock: Socket): void {
    this.sockets.add(sock);
    sock.once('close', () => this.sockets.delete(sock));
    readerConnection(sock, this.backend, this.counters, this.opts);
  }

  families(): SelfFamily[] {
    return readerFamilies(this.counters);
  }

  /** Destroys every open connection (the caller closes the listening socket). */
  close(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }
}

export interface RuntimeBackendOptions {
  /**
   * event_exporter names of the config: a METRICS-ADD naming one of them is
   * accepted (the exporter ignored, as in config files); any other non-empty
   * exporter is refused with 2.4's "Exporter '<x>' does not exist." (2.3.19
   * panics the stats process).
   */
  exporters?: ReadonlySet<string>;
}

/**
 * The backend on a Runtime: the same code paths as the HTTP API
 * (snapshot / snapshotAndReset, buildMetricDef + addMetric, removeMetric).
 * Adds are serialized so that two adds of one name cannot both pass.
 */
export function runtimeReaderBackend(rt: Runtime, opts: RuntimeBackendOptions = {}): ReaderBackend {
  const exporters = opts.exporters ?? new Set<string>();
  let chain: Promise<unknown> = Promise.resolve();
  return {
    dump: (reset, render) => (reset ? rt.snapshotAndReset(render) : rt.snapshot(render)),
    add(def) {
      const run = chain.then(async () => {
        if (def.exporter !== '' && !exporters.has(def.exporter)) return `Exporter '${def.exporter}' does not exist.`;
        try {
          const built = buildMetricDef(
            { name: def.name, filter: def.filter, fields: def.fields, group_by: def.groupBy, description: def.description },
            new Set(rt.metricDefs().map((d) => d.name)),
          );
          await rt.addMetric(built);
          return null;
        } catch (e) {
          if (!(e instanceof ConfigError)) throw e;
          // Dovecot answers a filter error with the parser's own text, no "metric X { filter }: " prefix
          const prefix = `metric ${def.name} { filter }: `;
          return e.code === 'ERR_CONFIG_FILTER' && e.detail.startsWith(prefix) ? e.detail.slice(prefix.length) : e.detail;
        }
      });
      chain = run.catch(() => undefined);
      return run;
    },
    remove: (name) => rt.removeMetric(name),
  };
}
