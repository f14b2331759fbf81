/**
 * Dovecot 2.3's stats-writer protocol, client side: the line encoders live
 * in src/dovecot/writer-encode.ts (one owner, shared with the shard side's
 * tests); this adds what the load generator needs on top: a session's
 * lines, and a client connection to any server of the protocol.
 */
import { connect, type Socket } from 'node:net';
import { beginLine, CLIENT_VERSION, endLine, eventLine, SERVER_VERSION, tabUnescape } from '../../src/dovecot/writer-encode.js';
import type { ImapSession } from './sessions.js';

export {
  beginLine,
  categoryLine,
  CLIENT_VERSION,
  endLine,
  eventLine,
  exportEvent,
  LOG_TYPE_DEBUG,
  SERVER_VERSION,
  tabEscape,
  tabUnescape,
  updateLine,
} from '../../src/dovecot/writer-encode.js';

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
