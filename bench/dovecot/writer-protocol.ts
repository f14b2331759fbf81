/**
 * Dovecot 2.3's stats-writer protocol, client side (what lib-master's
 * stats-client.c sends to the stats process; src/stats/client-writer.c
 * reads it). One line per command, fields tab-separated, each field
 * tab-escaped (str_append_tabescaped: \001 → \0011, TAB → \001t, CR → \001r,
 * LF → \001n):
 *
 *   client → VERSION	stats-client	4	0
 *   server ← VERSION	stats-server	4	0
 *   server ← FILTER	<tab-escaped event filter>    (again whenever the config changes)
 *   CATEGORY	<name>[	<parent>]
 *   BEGIN	<id>	<parent id>	<log type>	<exported event>     (an event that later events name as parent)
 *   EVENT	<global event id>	<parent id>	<log type>	<exported event>
 *   END	<id>
 *
 * An exported event (lib-event.c event_export): tv_created as `sec	usec`, then
 * optional `s<file>	<line>` (source), `l<sec>	<usec>` (tv_last_sent),
 * `n<name>` (sending name), `c<category>` per category, and per field
 * `S<key>	<string>`, `I<key>	<integer>`, `T<key>	<sec>	<usec>`,
 * `L<key>	<count>	<value>…`. The stats process adds `duration` itself:
 * tv_last_sent − tv_created in µs (0 without `l`). Log type 0 is debug
 * (e_debug, how imap sends imap_command_finished).
 *
 * The client takes a socket path, so the same load can be pointed at any
 * server of this protocol.
 */
import { connect, type Socket } from 'node:net';
import type { ImapSession, SourceEvent, Tv } from './sessions.js';

export const CLIENT_VERSION = 'VERSION\tstats-client\t4\t0\n';
export const SERVER_VERSION = 'VERSION\tstats-server\t4\t0';
export const LOG_TYPE_DEBUG = 0;

const NEEDS_ESCAPE = /[\x01\t\r\n]/;
const ESCAPES = /[\x01\t\r\n]/g;
const ESC: Record<string, string> = { '\x01': '\x011', '\t': '\x01t', '\r': '\x01r', '\n': '\x01n' };

/** str_append_tabescaped (2.3.19: \001, TAB, CR, LF; a C string has no NUL to escape) */
export function tabEscape(s: string): string {
  if (s.includes('\x00')) throw new Error(`a NUL cannot cross the stats-writer protocol: ${JSON.stringify(s)}`);
  return NEEDS_ESCAPE.test(s) ? s.replace(ESCAPES, (c) => ESC[c] as string) : s;
}

/** str_tabunescape */
export function tabUnescape(s: string): string {
  return s.includes('\x01') ? s.replace(/\x01(.)/g, (_, c: string) => ({ '0': '\x00', '1': '\x01', t: '\t', r: '\r', n: '\n' })[c] ?? c) : s;
}

const tv = (t: Tv): string => `${t.sec}\t${t.usec}`;

/** event_export */
export function exportEvent(e: SourceEvent): string {
  let s = `${tv(e.created)}\ts${tabEscape(e.source[0])}\t${e.source[1]}`;
  if (e.lastSent !== null) s += `\tl${tv(e.lastSent)}`;
  if (e.name !== null) s += `\tn${tabEscape(e.name)}`;
  for (const c of e.categories) s += `\tc${tabEscape(c)}`;
  for (const f of e.fields) {
    const key = tabEscape(f[0]);
    switch (f[1]) {
      case 'S':
        s += `\tS${key}\t${tabEscape(f[2])}`;
        break;
      case 'I':
        s += `\tI${key}\t${f[2]}`;
        break;
      case 'T':
        s += `\tT${key}\t${tv(f[2])}`;
        break;
      case 'L':
        s += `\tL${key}\t${f[2].length}`;
        for (const v of f[2]) s += `\t${tabEscape(v)}`;
        break;
    }
  }
  return s;
}

export const categoryLine = (name: string, parent?: string): string => `CATEGORY\t${tabEscape(name)}${parent === undefined ? '' : `\t${tabEscape(parent)}`}\n`;
export const beginLine = (id: number, parentId: number, e: SourceEvent, logType = LOG_TYPE_DEBUG): string => `BEGIN\t${id}\t${parentId}\t${logType}\t${exportEvent(e)}\n`;
export const eventLine = (parentId: number, e: SourceEvent, logType = LOG_TYPE_DEBUG, globalId = 0): string => `EVENT\t${globalId}\t${parentId}\t${logType}\t${exportEvent(e)}\n`;
export const endLine = (id: number): string => `END\t${id}\n`;

/** A session as an imap process sends it: BEGIN of the session event (id `id`), its commands, END. */
export function sessionLines(s: ImapSession, id: number): string {
  let out = beginLine(id, 0, s.session);
  for (const c of s.commands) out += eventLine(id, c);
  return out + endLine(id);
}

/** One connection to a stats-writer socket, after the handshake. */
export class StatsWriterClient {
  /** the server's current event filter (FILTER line, unescaped) */
  filter = '';
  /** lines the server sent after the handshake (FILTER updates) */
  readonly later: string[] = [];
  private closedError: Error | null = null;

  private constructor(private readonly socket: Socket) {}

  /** Connects, sends VERSION and waits for the server's VERSION and FILTER lines. */
  static connect(socketPath: string, timeoutMs = 10_000): Promise<StatsWriterClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(socketPath);
      const client = new StatsWriterClient(socket);
      let buf = '';
      let state: 'version' | 'filter' | 'ready' = 'version';
      const timer = setTimeout(() => fail(new Error(`${socketPath}: no handshake within ${timeoutMs} ms`)), timeoutMs);
      const fail = (e: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(e);
      };
      socket.setEncoding('utf8');
      socket.on('error', (e) => {
        client.closedError = e;
        if (state !== 'ready') fail(new Error(`${socketPath}: ${e.message}`));
      });
      socket.on('close', () => {
        client.closedError ??= new Error(`${socketPath}: the server closed the connection`);
        if (state !== 'ready') fail(client.closedError);
      });
      socket.on('data', (d: string) => {
        buf += d;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (state === 'version') {
            if (line !== SERVER_VERSION) return fail(new Error(`${socketPath}: expected "${SERVER_VERSION}", got ${JSON.stringify(line)}`));
            state = 'filter';
          } else if (state === 'filter') {
            const [cmd, filter] = line.split('\t');
            if (cmd !== 'FILTER') return fail(new Error(`${socketPath}: expected FILTER, got ${JSON.stringify(line)}`));
            client.filter = tabUnescape(filter ?? '');
            state = 'ready';
            clearTimeout(timer);
            resolve(client);
          } else client.later.push(line);
        }
      });
      socket.on('connect', () => socket.write(CLIENT_VERSION));
    });
  }

  /** Writes `chunk`; resolves once the socket has taken it (waits for drain when its buffer is full). */
  write(chunk: Buffer | string): Promise<void> {
    if (this.closedError !== null) return Promise.reject(this.closedError);
    if (this.socket.write(chunk)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onDrain = (): void => {
        this.socket.off('close', onClose);
        resolve();
      };
      const onClose = (): void => {
        this.socket.off('drain', onDrain);
        reject(this.closedError ?? new Error('stats-writer connection closed'));
      };
      this.socket.once('drain', onDrain);
      this.socket.once('close', onClose);
    });
  }

  /** Writes every chunk in order, as fast as the socket takes them. */
  async writeAll(chunks: readonly Buffer[]): Promise<void> {
    for (const c of chunks) await this.write(c);
  }

  /** Half-closes after everything written has been flushed; resolves when the server has closed too. */
  end(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.socket.once('close', () => resolve());
      this.socket.end();
    });
  }

  destroy(): void {
    this.socket.destroy();
  }
}
