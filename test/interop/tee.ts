/**
 * A stats-writer tee for the interop test: Dovecot's processes connect to it
 * (stats_writer_socket_path), and every byte they send goes both to
 * Dovecot's own stats process and to tallyd's writer socket, so both count
 * the same stream. The processes get the stats process's answers (its
 * VERSION and FILTER lines); tallyd's answers are kept, to compare its FILTER
 * with Dovecot's.
 */
import { chmodSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface Tee {
  /** FILTER lines as on the wire: Dovecot's first on each connection, every one of tallyd's */
  readonly filters: { dovecot: string[]; tallyd: string[] };
  /** connections the tee took */
  connections: number;
  /** a side that failed or closed first, as text */
  readonly problems: string[];
  close(): Promise<void>;
}

/** The FILTER lines `sock` sends: the first only, or (`all`) every one (a server sends a new one when its metrics change). */
function filterLines(sock: Socket, into: string[], all: boolean): void {
  let buf = '';
  const onData = (d: Buffer): void => {
    buf += d.toString('utf8');
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.startsWith('FILTER\t')) continue;
      into.push(line);
      if (!all) {
        sock.off('data', onData);
        return;
      }
    }
  };
  sock.on('data', onData);
}

export async function startTee(path: string, dovecotPath: string, tallydPath: string): Promise<Tee> {
  const tee: Tee = { filters: { dovecot: [], tallyd: [] }, connections: 0, problems: [], close: () => Promise.resolve() };
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    tee.connections++;
    const dv = connect(dovecotPath);
    const td = connect(tallydPath);
    for (const s of [client, dv, td]) open.add(s);
    const endAll = (): void => {
      for (const s of [client, dv, td]) s.end();
    };
    // what the process sends goes to both, at the pace of the slower one
    client.on('data', (d: Buffer) => {
      const a = dv.write(d);
      const b = td.write(d);
      if (!a || !b) {
        client.pause();
        let waiting = (a ? 0 : 1) + (b ? 0 : 1);
        const drained = (): void => {
          if (--waiting === 0) client.resume();
        };
        if (!a) dv.once('drain', drained);
        if (!b) td.once('drain', drained);
      }
    });
    dv.pipe(client, { end: false });
    filterLines(dv, tee.filters.dovecot, false);
    filterLines(td, tee.filters.tallyd, true);
    td.resume();
    client.on('end', endAll);
    for (const [name, s] of [['process', client], ['Dovecot stats', dv], ['tallyd', td]] as const) {
      s.on('error', (e) => tee.problems.push(`${name}: ${e.message}`));
      s.on('close', () => {
        open.delete(s);
        endAll();
      });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  // login and auth processes run as other users
  chmodSync(path, 0o666);
  tee.close = () =>
    new Promise<void>((resolve) => {
      for (const s of open) s.destroy();
      server.close(() => resolve());
    });
  return tee;
}
