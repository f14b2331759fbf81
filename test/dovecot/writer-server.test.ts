/**
 * The stats-writer socket as Dovecot's processes meet it: a real tallyd
 * server (in this process, real shard workers) on a unix socket in a temp
 * dir, real socket clients. The handshake and its FILTER line, FILTER
 * updates on metric add/remove, bad handshakes counted and disconnected, and
 * the socket file's life: created with its mode, a stale one replaced,
 * anything else refused, removed on stop.
 */
import { lstatSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/index.js';
import { metricsFilter } from '../../src/dovecot/service.js';
import { startServer, type Server } from '../../src/server/start.js';
import { until } from '../helpers/wait.js';

const CONFIG = `
metric imap_command {
  filter = event=imap_command_finished
  group_by = cmd_name tagged_reply_state
}
metric logins {
  filter = event=auth_request_finished AND success=yes
}
`;

const dir = mkdtempSync(join(tmpdir(), 'tallyd-writer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let servers: Server[] = [];
afterEach(async () => {
  for (const s of servers) await s.stop(() => undefined).catch(() => undefined);
  servers = [];
});

async function serve(settings: Record<string, string>): Promise<Server> {
  const text = Object.entries({ listen: '127.0.0.1:0', shards: '2', ...settings })
    .map(([k, v]) => `${k} = ${v}`)
    .join('\n');
  const s = await startServer({ config: parseConfigText(`${text}\n${CONFIG}`, 'writer.conf'), version: 'test', nativeFree: true });
  servers.push(s);
  return s;
}

/** A raw client: what it was sent, line by line, and whether the server closed it. */
class Raw {
  readonly lines: string[] = [];
  closed = false;
  private buf = '';
  constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.buf += d;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        this.lines.push(this.buf.slice(0, nl));
        this.buf = this.buf.slice(nl + 1);
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => (this.closed = true));
  }
  static open(path: string): Promise<Raw> {
    return new Promise((resolve, reject) => {
      const s = connect(path);
      s.once('connect', () => resolve(new Raw(s)));
      s.once('error', reject);
    });
  }
}

async function scrape(s: Server): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${s.listener.port}/metrics`);
  return res.text();
}

describe('stats-writer handshake', () => {
  it('answers VERSION and the OR of every metric filter in Dovecot syntax, and sends a new FILTER when metrics change', async () => {
    const path = join(dir, 'w1');
    const s = await serve({ dovecot_writer_socket: path });
    const c = await Raw.open(path);
    c.socket.write('VERSION\tstats-client\t4\t0\n');
    await until(() => c.lines.length >= 2, 10_000, 'the VERSION and FILTER lines');
    expect(c.lines[0]).toBe('VERSION\tstats-server\t4\t0');
    expect(c.lines[1]).toBe('FILTER\t(event="imap_command_finished") OR ((event="auth_request_finished" AND "success"="yes"))');
    expect(c.lines[1]).toBe(`FILTER\t${metricsFilter(s.runtime)}`);

    const added = await fetch(`http://127.0.0.1:${s.listener.port}/v1/metrics`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'deliveries', filter: 'event=mail_delivery_finished' }),
    });
    expect(added.status).toBeLessThan(300);
    await until(() => c.lines.length >= 3, 10_000, 'a FILTER update');
    expect(c.lines[2]).toBe('FILTER\t(event="imap_command_finished") OR ((event="auth_request_finished" AND "success"="yes")) OR (event="mail_delivery_finished")');
    const removed = await fetch(`http://127.0.0.1:${s.listener.port}/v1/metrics/imap_command`, { method: 'DELETE' });
    expect(removed.status).toBeLessThan(300);
    await until(() => c.lines.length >= 4, 10_000, 'a second FILTER update');
    expect(c.lines[3]).toBe('FILTER\t((event="auth_request_finished" AND "success"="yes")) OR (event="mail_delivery_finished")');
    expect(c.closed).toBe(false);
    c.socket.destroy();
  });

  it.each([
    ['bad_version', 'VERSION\tstats-client\t5\t0\n'],
    ['bad_handshake', 'HELLO\n'],
    ['bad_handshake', 'VERSION\tstats-reader-client\t2\t0\n'],
  ])('closes a connection whose handshake is %s (%j), counted by reason; other connections go on', async (reason, line) => {
    const path = join(dir, `w-${reason}-${line.length}`);
    const s = await serve({ dovecot_writer_socket: path });
    const good = await Raw.open(path);
    good.socket.write('VERSION\tstats-client\t4\t1\n');
    const bad = await Raw.open(path);
    bad.socket.write(line);
    await until(() => bad.closed, 10_000, 'the bad connection to be closed');
    expect(bad.lines).toEqual([]);
    await until(() => good.lines.length >= 2, 10_000, 'the good connection handshake');
    expect(good.closed).toBe(false);
    const text = await scrape(s);
    expect(text).toContain(`tallyd_dovecot_writer_disconnects_total{reason="${reason}"} 1`);
    expect(text).toMatch(/tallyd_dovecot_writer_open_connections 1\b/);
    good.socket.destroy();
  });

  it('closes a connection whose line outgrows the limit before its end arrives', async () => {
    const path = join(dir, 'w-long');
    const s = await serve({ dovecot_writer_socket: path, ring_bytes: '64k' });
    const c = await Raw.open(path);
    c.socket.write('VERSION\tstats-client\t4\t0\n');
    await until(() => c.lines.length >= 2, 10_000, 'the handshake');
    // no LF: the line can only grow
    c.socket.write('EVENT\t0\t0\t0\t' + 'x'.repeat(70 * 1024));
    await until(() => c.closed, 10_000, 'the connection to be closed');
    expect(await scrape(s)).toContain('tallyd_dovecot_writer_disconnects_total{reason="line_too_long"} 1');
  });
});

/** A session of `n` commands as one Dovecot process writes it (after its handshake). */
function session(sid: number, user: string, n: number): string {
  let out = `BEGIN\t${sid}\t0\t0\t1600000000\t0\tSuser\t${user}\n`;
  for (let i = 0; i < n; i++) out += `EVENT\t0\t${sid}\t0\t1600000000\t0\tl1600000000\t${10 + i}\tnimap_command_finished\tScmd_name\tNOOP\tStagged_reply_state\tOK\n`;
  return `${out}END\t${sid}\n`;
}

async function commands(s: Server): Promise<number> {
  return s.runtime.snapshot((snap) => snap.metrics[0]?.root.count ?? 0);
}

describe('stats-writer connections at scale and under backpressure', () => {
  it('takes a thousand connections at once (one per Dovecot process), each counted, and forgets them when they close', async () => {
    const path = join(dir, 'w-many');
    const s = await serve({ dovecot_writer_socket: path });
    const N = 1000;
    const clients = await Promise.all(Array.from({ length: N }, () => Raw.open(path)));
    for (const [i, c] of clients.entries()) c.socket.write(`VERSION\tstats-client\t4\t0\n${session(1, `u${i % 7}`, 3)}`);
    await until(async () => (await commands(s)) === N * 3, 60_000, `${N * 3} commands counted`);
    expect(await scrape(s)).toMatch(new RegExp(`tallyd_dovecot_writer_open_connections ${N}\\b`));
    for (const c of clients) c.socket.end();
    await until(async () => /tallyd_dovecot_writer_open_connections 0\b/.test(await scrape(s)), 30_000, 'every connection closed');
    expect(await scrape(s)).toContain(`tallyd_dovecot_writer_connections_total ${N}`);
  }, 120_000);

  it('pauses a connection whose shard ring is full and loses nothing; a stuck writer holds up no other', async () => {
    const path = join(dir, 'w-pressure');
    const s = await serve({ dovecot_writer_socket: path, ring_bytes: '64k', shards: '1' });
    // a writer stuck in the middle of a line, for the whole test
    const stuck = await Raw.open(path);
    stuck.socket.write('VERSION\tstats-client\t4\t0\nBEGIN\t1\t0\t0\t16000');
    const fast = await Raw.open(path);
    const sessions = 4000;
    let text = 'VERSION\tstats-client\t4\t0\n';
    for (let i = 1; i <= sessions; i++) text += session(i, `u${i % 5}`, 5);
    expect(text.length).toBeGreaterThan(64 * 1024 * 20);
    fast.socket.end(text);
    await until(async () => (await commands(s)) === sessions * 5, 60_000, `${sessions * 5} commands counted`);
    const m = await scrape(s);
    expect(Number(/tallyd_dovecot_writer_paused_total (\d+)/.exec(m)?.[1])).toBeGreaterThan(0);
    expect(m).not.toMatch(/tallyd_events_rejected_total\{/);
    expect(stuck.closed).toBe(false);
    stuck.socket.destroy();
  }, 120_000);
});

describe('self-metrics of the sockets', () => {
  it('are exported under their own names, none renamed to keep families apart', async () => {
    const s = await serve({ dovecot_writer_socket: join(dir, 'w-names'), dovecot_reader_socket: join(dir, 'r-names') });
    const text = await scrape(s);
    for (const name of [
      'tallyd_dovecot_writer_open_connections',
      'tallyd_dovecot_writer_connections_total',
      'tallyd_dovecot_reader_open_connections',
      'tallyd_dovecot_reader_connections_total',
      'tallyd_dovecot_reader_errors_total',
    ]) {
      expect(text).toMatch(new RegExp(`^${name}(\\{|\\s)`, 'm'));
    }
    expect(text).not.toMatch(/^tallyd_\w+_\d+_total/m);
  });
});

describe('the socket file', () => {
  it('is created with dovecot_socket_mode, replaces a stale socket, and is removed on stop', async () => {
    const path = join(dir, 'w-stale');
    // a stale socket: what a killed process leaves (bound, never removed)
    spawnSync(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    expect(lstatSync(path).isSocket()).toBe(true);
    const s = await serve({ dovecot_writer_socket: path, dovecot_socket_mode: '0600' });
    expect(lstatSync(path).mode & 0o777).toBe(0o600);
    const c = await Raw.open(path);
    c.socket.write('VERSION\tstats-client\t4\t0\n');
    await until(() => c.lines.length >= 2, 10_000, 'the handshake on the new socket');
    await s.stop(() => undefined);
    servers = [];
    expect(existsSync(path)).toBe(false);
    await until(() => c.closed, 10_000, 'the connection closed by the stop');
  });

  it.runIf(process.getuid?.() === 0)('is given dovecot_socket_user and dovecot_socket_group (names or ids)', async () => {
    const path = join(dir, 'w-owner');
    const uid = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim());
    const s = await serve({ dovecot_writer_socket: path, dovecot_socket_user: 'nobody', dovecot_socket_group: '4242' });
    const st = lstatSync(path);
    expect(st.uid).toBe(uid);
    expect(st.gid).toBe(4242);
    await s.stop(() => undefined);
    servers = [];
    await expect(serve({ dovecot_writer_socket: path, dovecot_socket_user: 'no-such-user-here' })).rejects.toMatchObject({
      code: 'ERR_SOCKET',
      message: expect.stringContaining("no user 'no-such-user-here'"),
    });
  });

  it('refuses a path that is not a socket, and a socket another process answers on', async () => {
    const file = join(dir, 'w-file');
    writeFileSync(file, 'keep me');
    await expect(serve({ dovecot_writer_socket: file })).rejects.toMatchObject({ code: 'ERR_SOCKET', message: expect.stringContaining('is not a socket') });
    expect(existsSync(file)).toBe(true);

    const path = join(dir, 'w-live');
    const first = await serve({ dovecot_writer_socket: path });
    await expect(serve({ dovecot_writer_socket: path })).rejects.toMatchObject({ code: 'ERR_SOCKET', message: expect.stringContaining('in use') });
    // the first one still serves on it
    const c = await Raw.open(path);
    c.socket.write('VERSION\tstats-client\t4\t0\n');
    await until(() => c.lines.length >= 2, 10_000, 'the handshake with the first server');
    expect(first.dovecot.writerPath).toBe(path);
    c.socket.destroy();
  });
});
