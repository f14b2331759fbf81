/**
 * The unix sockets tallyd serves in Dovecot's stats process's place
 * (dovecot_writer_socket, dovecot_reader_socket): created with their mode
 * from the start (umask around bind, then chmod), given an owner when one is
 * set, a stale socket file replaced, and removed again on close.
 *
 * A path that exists and is not a socket is never touched; a socket that a
 * live process still answers on is not stolen.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, lstatSync, unlinkSync, type Stats } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { TallydError } from '../errors.js';

/** connections waiting to be accepted (the kernel caps it at net.core.somaxconn) */
const LISTEN_BACKLOG = 4096;

export interface UnixSocketOptions {
  path: string;
  mode: number;
  user: string | null;
  group: string | null;
  /** which setting names the path (for errors) */
  setting: string;
  /** accepted connections start paused (`pauseOnConnect`): `onConnection` resumes them */
  paused?: boolean;
}

export interface UnixListener {
  readonly server: Server;
  readonly path: string;
  /** stops listening, ends every connection after `endConn`, removes the socket file (if still ours) */
  close(): Promise<void>;
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** Whether something accepts connections on the socket at `path`. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** A user or group name or number → its id (getent: whatever NSS knows). */
function idOf(kind: 'passwd' | 'group', name: string, setting: string): number {
  if (/^\d+$/.test(name)) return Number(name);
  let line: string;
  try {
    line = execFileSync('getent', [kind, name], { encoding: 'utf8' });
  } catch {
    throw new TallydError('ERR_SOCKET', `${setting}: no ${kind === 'passwd' ? 'user' : 'group'} '${name}'`);
  }
  return Number(line.split(':')[2]);
}

/** Creates the listening socket; `onConnection` gets every accepted connection. */
export async function listenUnix(opts: UnixSocketOptions, onConnection: (s: Socket) => void): Promise<UnixListener> {
  const { path, setting } = opts;
  const st = lstatOrNull(path);
  if (st !== null) {
    if (!st.isSocket()) throw new TallydError('ERR_SOCKET', `${setting}: ${path} exists and is not a socket; not replacing it`);
    if (await answers(path)) throw new TallydError('ERR_SOCKET', `${setting}: ${path} is in use by another process`);
    unlinkSync(path);
  }
  const uid = opts.user === null ? -1 : idOf('passwd', opts.user, setting);
  const gid = opts.group === null ? -1 : idOf('group', opts.group, setting);
  const server = createServer({ allowHalfOpen: false, pauseOnConnect: opts.paused === true }, onConnection);
  // the socket is created with its mode (no moment where it is wider than asked)
  const old = process.umask(0o777 & ~opts.mode);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // every Dovecot process connects, and they start (and restart) in crowds: a deep accept queue
      server.listen({ path, backlog: LISTEN_BACKLOG }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new TallydError('ERR_SOCKET', `${setting}: cannot listen on ${path}: ${err.code ?? err.message}`);
  } finally {
    process.umask(old);
  }
  const ino = lstatSync(path).ino;
  try {
    chmodSync(path, opts.mode);
    if (uid !== -1 || gid !== -1) chownSync(path, uid, gid);
  } catch (e) {
    server.close();
    unlinkSync(path);
    throw new TallydError('ERR_SOCKET', `${setting}: cannot set the owner or mode of ${path}: ${(e as Error).message}`);
  }
  let closing: Promise<void> | null = null;
  return {
    server,
    path,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // ours only: a new tallyd may have replaced it meanwhile
        if (lstatOrNull(path)?.ino === ino) unlinkSync(path);
      });
      return closing;
    },
  };
}
