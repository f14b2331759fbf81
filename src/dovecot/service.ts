/**
 * tallyd in Dovecot's stats process's place: the stats-writer socket (events
 * from every Dovecot process) and the stats-reader socket (doveadm stats),
 * when their settings are set; their self-metrics.
 */
import type { Logger } from 'pino';
import type { Settings } from '../config/types.js';
import type { SelfFamily } from '../export/index.js';
import type { ServerLog } from '../log/events.js';
import { parseFilter } from '../filter/index.js';
import type { Runtime } from '../shard/runtime.js';
import { ReaderServer, runtimeReaderBackend } from './reader.js';
import { listenUnix, type UnixListener } from './socket.js';
import { WRITER_CLOSE_REASONS, WriterServer, writerFilter } from './writer-server.js';

export interface DovecotSockets {
  readonly writer: WriterServer | null;
  readonly writerPath: string | null;
  readonly readerPath: string | null;
  families(): SelfFamily[];
  close(): Promise<void>;
}

/** The event filter Dovecot's processes are sent: what some metric can match. */
export function metricsFilter(rt: Runtime): string {
  return writerFilter(rt.metricDefs().map((d) => parseFilter(d.filter).canonical));
}

export async function startDovecotSockets(rt: Runtime, s: Settings, log?: Logger, events?: ServerLog): Promise<DovecotSockets> {
  const owner = { mode: s.dovecotSocketMode, user: s.dovecotSocketUser, group: s.dovecotSocketGroup };
  let writer: WriterServer | null = null;
  let writerSock: UnixListener | null = null;
  if (s.dovecotWriterSocket !== null) {
    const w = new WriterServer(rt, () => metricsFilter(rt), log, events);
    writerSock = await listenUnix({ ...owner, path: s.dovecotWriterSocket, setting: 'dovecot_writer_socket', paused: true }, (sock) => w.accept(sock));
    writer = w;
  }
  let reader: ReaderServer | null = null;
  let readerSock: UnixListener | null = null;
  if (s.dovecotReaderSocket !== null) {
    const r = new ReaderServer(runtimeReaderBackend(rt), {
      log: log === undefined ? undefined : { warn: (msg: string) => log.warn(msg) },
      ...(events !== undefined ? { events } : {}),
    });
    try {
      readerSock = await listenUnix({ ...owner, path: s.dovecotReaderSocket, setting: 'dovecot_reader_socket' }, (sock) => r.accept(sock));
    } catch (e) {
      await Promise.all([writerSock?.close(), writer?.close()]);
      throw e;
    }
    reader = r;
  }
  const w = writer;
  const rd = reader;
  return {
    writer,
    writerPath: writerSock?.path ?? null,
    readerPath: readerSock?.path ?? null,
    families() {
      const out = rd === null ? [] : rd.families();
      if (w === null) return out;
      const c = w.counters;
      return [
        ...out,
        { name: 'tallyd_dovecot_writer_open_connections', help: 'Open stats-writer connections (Dovecot processes)', type: 'gauge', samples: [{ labels: {}, value: c.connections }] },
        { name: 'tallyd_dovecot_writer_connections_total', help: 'Stats-writer connections accepted', type: 'counter', samples: [{ labels: {}, value: c.connectionsTotal }] },
        { name: 'tallyd_dovecot_writer_bytes_total', help: 'Bytes read from stats-writer connections', type: 'counter', samples: [{ labels: {}, value: c.bytes }] },
        { name: 'tallyd_dovecot_writer_paused_total', help: 'Times a stats-writer connection waited for room in its shard ring', type: 'counter', samples: [{ labels: {}, value: c.paused }] },
        {
          name: 'tallyd_dovecot_writer_disconnects_total',
          help: 'Stats-writer connections closed for invalid input, by reason',
          type: 'counter',
          samples: WRITER_CLOSE_REASONS.map((r) => ({ labels: { reason: r }, value: c.errors[r] })),
        },
      ];
    },
    async close() {
      // the listener's close waits for its connections, which the writer closes
      rd?.close();
      await Promise.all([writerSock?.close(), w?.close(), readerSock?.close()]);
    },
  };
}
