/**
 * A real Dovecot (Debian's 2.3.19) feeds tallyd through its own event
 * exporter, and both must count the same thing.
 *
 * The test writes a private Dovecot config into a temporary directory
 * (base_dir, state_dir, log, maildirs, passwd-file: nothing under /etc),
 * starts tallyd with the same metric blocks and `dovecot_compat = 2.3`,
 * starts `dovecot -F -c FILE`, drives IMAP sessions with a real client, waits
 * until tallyd has every exported event, then compares
 *   - `doveadm stats dump` with tallyd's `GET /v1/stats/dump`, row by row;
 *   - Dovecot's own `/metrics` (stats `inet_listener http`) with tallyd's
 *     `openmetrics_style = dovecot` output, sample by sample.
 *
 * Peers: `apt-get install dovecot-core dovecot-imapd`. Without them the suite
 * is skipped with a message, except with CI set, where it fails.
 */
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ImapClient } from './imap.js';
import { startTee, type Tee } from './tee.js';
import {
  countOf,
  Fatal,
  findPeers,
  freePorts,
  httpGet,
  parseDump,
  parseExposition,
  peerSuite,
  PORT_ATTEMPTS,
  portTaken,
  run,
  startChild,
  startTallyd,
  stopChild,
  tail,
  waitFor,
  type Child,
  type Dump,
  type Tallyd,
} from './peers.js';

const PACKAGES = 'dovecot-core dovecot-imapd';
const peers = findPeers(['dovecot', 'doveadm']);

/** Dovecot's reservoir keeps 480 values: at or below that its median, percentiles and variance are exact. */
const DOVECOT_EXACT = 480;
/** Dump columns compared (doveadm also gets `variance`, to check stddev against). */
const FIELDS = ['count', 'sum', 'min', 'max', 'avg', 'median', 'stddev', '%50', '%75', '%90', '%95', '%99', '%99.9', '%1'];
const PERCENTILES = FIELDS.filter((f) => f === 'median' || f.startsWith('%'));
/** What Prometheus sends; tallyd then answers with its dovecot-style layout (Dovecot ignores Accept). */
const PROMETHEUS_ACCEPT = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

/**
 * The metric blocks both read (2.3 syntax). One event exporter, attached to
 * one catch-all metric whose filter covers every other metric's filter, so
 * each event is sent once. transport_timeout is raised from Dovecot's 250 ms
 * so a slow moment on a loaded machine does not drop an event.
 */
function statsConf(tallydPort: number): string {
  return `# shared by dovecot.conf and tallyd.conf
event_exporter tallyd {
  format = json
  format_args = time-rfc3339
  transport = http-post
  transport_args = http://127.0.0.1:${tallydPort}/v1/events
  transport_timeout = 10s
}

metric all_events {
  filter = event=imap_command_finished OR event=auth_request_finished
  exporter = tallyd
}

# plain
metric auth_request {
  filter = event=auth_request_finished
}

# exponential only: one histogram at the root. Followed by a metric with
# discrete sub-metrics, it makes Dovecot 2.3.19 print its bucket sub-metrics
# into that metric as nameless labels (excluded from the comparison)
metric imap_duration {
  filter = event=imap_command_finished AND NOT tagged_reply_state=BAD
  group_by = duration:exponential:1:5:10
}

# two discrete levels
metric imap_command {
  filter = event=imap_command_finished
  fields = bytes_in bytes_out
  group_by = cmd_name tagged_reply_state
  description = IMAP commands
}

# linear on a field (Dovecot's histogram _sum is then the durations in µs)
metric imap_out_bytes {
  filter = event=imap_command_finished
  fields = bytes_out
  group_by = bytes_out:linear:0:1000:100
}

# discrete, then exponential on duration: a histogram per command
metric imap_cmd_duration {
  filter = event=imap_command_finished
  group_by = cmd_name duration:exponential:1:5:10
  description = IMAP command durations
}
`;
}

interface Identity {
  root: boolean;
  loginUser: string;
  internalUser: string;
  internalGroup: string | null;
  uid: number;
  gid: number;
}

/**
 * As root: Debian's dovenull/dovecot service users, mail as nobody. As
 * another user: everything runs as that user, without chroots.
 */
function identity(): Identity {
  if (process.getuid?.() === 0) {
    return {
      root: true,
      loginUser: 'dovenull',
      internalUser: 'dovecot',
      internalGroup: null,
      uid: Number(run('id', ['-u', 'nobody']).trim()),
      gid: Number(run('id', ['-g', 'nobody']).trim()),
    };
  }
  const me = userInfo();
  return { root: false, loginUser: me.username, internalUser: me.username, internalGroup: run('id', ['-gn']).trim(), uid: me.uid, gid: me.gid };
}

function dovecotConf(dir: string, imapPort: number, httpPort: number, id: Identity): string {
  const noChroot = id.root ? '' : '  chroot =\n';
  return `# private config of the interop test
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_failure_delay = 0
default_login_user = ${id.loginUser}
default_internal_user = ${id.internalUser}
${id.internalGroup === null ? '' : `default_internal_group = ${id.internalGroup}\n`}first_valid_uid = ${Math.min(500, id.uid)}
mail_location = maildir:${dir}/mail/%u
passdb {
  driver = passwd-file
  args = scheme=PLAIN ${dir}/users
}
userdb {
  driver = static
  args = uid=${id.uid} gid=${id.gid} home=${dir}/mail/%u
}
service imap-login {
${noChroot}  inet_listener imap {
    address = 127.0.0.1
    port = ${imapPort}
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
${noChroot}}
service stats {
  inet_listener http {
    address = 127.0.0.1
    port = ${httpPort}
  }
}
# every process's events go through the test's tee (to Dovecot's stats and to tallyd's writer socket);
# the path is joined to base_dir
stats_writer_socket_path = ../tee-writer
!include stats.conf
!include user.conf
`;
}

/** The metrics of statsConf(), in config order. */
const METRICS = ['all_events', 'auth_request', 'imap_duration', 'imap_command', 'imap_out_bytes', 'imap_cmd_duration'];

/**
 * One more metric for Dovecot and for tallyd on the stats-writer socket
 * only: `user` is a field of the session's BEGIN event, never of the
 * command's own, so only a server that keeps parents counts it (the
 * exporter-fed tallyd is not asked to).
 */
const USER_CONF = `metric imap_by_user {
  filter = event=imap_command_finished
  group_by = user
}
`;
const METRICS_W = [...METRICS, 'imap_by_user'];

/** The dump without one metric's rows. */
function without(d: Dump, metric: string): Dump {
  const keep = (key: string): boolean => {
    const name = key.split('\t')[0] as string;
    return name !== metric && !name.startsWith(`${metric}_`);
  };
  const rows = d.rows.filter((r) => keep(r.key));
  return { header: d.header, rows, byKey: new Map([...d.byKey].filter(([k]) => keep(k))) };
}

/**
 * tallyd's dump order must be a valid dump order of Dovecot's tree: metrics
 * in config order, each metric's root first, every node after its parent and
 * each subtree contiguous (pre-order), `duration` then the fields per node.
 * The tree (each node's parent) comes from Dovecot's own pre-order dump.
 */
function preOrderProblems(dv: Dump, td: Dump, metrics: readonly string[]): string[] {
  const problems: string[] = [];
  const nodesOf = (d: Dump): string[] => [...new Set(d.rows.map((r) => r.key.split('\t')[0] as string))];
  const parent = new Map<string, string | null>();
  const path: string[] = [];
  for (const n of nodesOf(dv)) {
    if (metrics.includes(n)) path.length = 0;
    while (path.length > 0 && !n.startsWith(`${path[path.length - 1]}_`)) path.pop();
    parent.set(n, path.length > 0 ? (path[path.length - 1] as string) : null);
    path.push(n);
  }
  const roots: string[] = [];
  path.length = 0;
  for (const n of nodesOf(td)) {
    const p = parent.get(n);
    if (p === undefined) problems.push(`${n}: not a Dovecot node`);
    else if (p === null) {
      roots.push(n);
      path.length = 0;
      path.push(n);
    } else {
      while (path.length > 0 && path[path.length - 1] !== p) path.pop();
      if (path.length === 0) problems.push(`${n}: not inside its parent's (${p}) rows`);
      path.push(n);
    }
  }
  if (roots.join(' ') !== metrics.join(' ')) problems.push(`metrics in the order ${roots.join(' ')}`);
  const fieldsOf = (d: Dump, n: string): string => d.rows.filter((r) => r.key.startsWith(`${n}\t`)).map((r) => r.key.split('\t')[1]).join(' ');
  for (const n of nodesOf(td)) {
    if (fieldsOf(td, n) !== fieldsOf(dv, n)) problems.push(`${n}: field rows ${fieldsOf(td, n)}, Dovecot ${fieldsOf(dv, n)}`);
  }
  return problems;
}

/** Round-aware stddev check: Dovecot prints √(variance rounded to 2 decimals), tallyd the exact √variance. */
function stddevAgrees(tallyd: string, dovecotVariance: string): boolean {
  const s = Number(tallyd);
  const v = Number(dovecotVariance);
  const lo = Math.sqrt(Math.max(0, v - 0.005)) - 0.005 - 1e-9;
  const hi = Math.sqrt(v + 0.005) + 0.005 + 1e-9;
  return s >= lo && s <= hi;
}

/** Every row of Dovecot's dump in tallyd's, every figure equal (percentiles exact at ≤ 480 values). */
function compareDumps(dv: Dump, td: Dump, metrics: readonly string[]): void {
  expect(td.header).toEqual(['metric_name', 'field', ...FIELDS]);
  // The same sub-metrics and field rows. Not necessarily in the same order:
  // Dovecot's http-post exporter does not keep its own processing order
  // (two events handled in one ioloop run can leave in either order), and
  // first-seen order is each side's arrival order.
  expect([...td.byKey.keys()].sort()).toEqual([...dv.byKey.keys()].sort());
  expect(td.rows.length).toBe(dv.rows.length);
  const orderProblems = preOrderProblems(dv, td, metrics);
  expect(orderProblems).toEqual([]);
  const moved = td.rows.filter((r, i) => dv.rows[i]?.key !== r.key).length;
  if (moved > 0) console.info(`interop dovecot: ${moved} dump rows in another sibling order than Dovecot's (arrival order differs)`);
  const diffs: string[] = [];
  let exactRows = 0;
  const stddevRounding: string[] = [];
  for (const { key, cells: d } of dv.rows) {
    const t = td.byKey.get(key);
    if (t === undefined) continue;
    const row = key.replace('\t', ' ');
    for (const f of ['count', 'sum', 'min', 'max', 'avg']) {
      if (t[f] !== d[f]) diffs.push(`${row} ${f}: Dovecot ${d[f]}, tallyd ${t[f]}`);
    }
    // beyond 480 values Dovecot samples; the workload stays below (checked here)
    if (Number(d['count']) > DOVECOT_EXACT) {
      diffs.push(`${row}: ${d['count']} values, more than Dovecot keeps exactly: make the workload smaller`);
      continue;
    }
    exactRows++;
    for (const f of PERCENTILES) {
      if (t[f] !== d[f]) diffs.push(`${row} ${f}: Dovecot ${d[f]}, tallyd ${t[f]}`);
    }
    // Dovecot: √(variance printed with 2 decimals); tallyd: √(exact variance)
    if (Math.abs(Number(d['stddev']) - Math.sqrt(Number(d['variance']))) > 0.005 + 1e-9) {
      diffs.push(`${row} stddev: Dovecot's ${d['stddev']} is not √${d['variance']}`);
    }
    if (!stddevAgrees(t['stddev'] as string, d['variance'] as string)) {
      diffs.push(`${row} stddev: Dovecot ${d['stddev']} (variance ${d['variance']}), tallyd ${t['stddev']}`);
    } else if (t['stddev'] !== d['stddev']) stddevRounding.push(`${row}: Dovecot ${d['stddev']} = √${d['variance']}, tallyd ${t['stddev']}`);
  }
  expect(diffs).toEqual([]);
  expect(exactRows).toBe(dv.rows.length);
  if (stddevRounding.length > 0) console.info(`interop dovecot: stddev cells that differ only by Dovecot's rounded variance:\n${stddevRounding.join('\n')}`);
}

peerSuite(peers, PACKAGES, 'a real Dovecot feeds tallyd (dovecot_compat = 2.3)', () => {
  let dir = '';
  let tallyd: Tallyd | undefined;
  let dovecot: Child | undefined;
  let conf = '';
  let imapPort = 0;
  let statsHttpPort = 0;
  /** what the client did */
  const did = { imapCommands: 0, logins: 0, byUser: new Map<string, number>() };
  /** the figures compared, taken when both sides had everything */
  let dv: Dump;
  let td: Dump;
  let dvMetrics = { contentType: '', text: '' };
  let tdMetrics = { contentType: '', text: '' };
  let tdSelf = '';
  /** tallyd in the stats process's place: fed over its stats-writer socket through the tee */
  let tallydW: Tallyd | undefined;
  let tee: Tee;
  let tw: Dump;
  /** `doveadm stats dump -s` of tallyd's stats-reader socket */
  let twDoveadm: Dump;
  let twSelf = '';

  const doveadmDump = (fields: string[]): string => run(peers.paths['doveadm'] as string, ['-c', conf, 'stats', 'dump', '-f', fields.join(' ')]);
  const tallydDump = async (fields: string[]): Promise<string> => {
    const r = await httpGet(`${(tallyd as Tallyd).url}/v1/stats/dump?fields=${encodeURIComponent(fields.join(','))}`);
    if (r.status !== 200) throw new Error(`tallyd dump answered ${r.status}: ${r.text}`);
    return r.text;
  };
  const tallydWDump = async (fields: string[]): Promise<string> => {
    const r = await httpGet(`${(tallydW as Tallyd).url}/v1/stats/dump?fields=${encodeURIComponent(fields.join(','))}`);
    if (r.status !== 200) throw new Error(`tallyd (writer socket) dump answered ${r.status}: ${r.text}`);
    return r.text;
  };
  const logs = (): string => [tallyd?.child.logFile, tallydW?.child.logFile, dovecot?.logFile, join(dir, 'dovecot.log')].filter((f) => f !== undefined).map((f) => tail(f as string, 20)).join('\n');

  beforeAll(async () => {
    const t0 = Date.now();
    dir = mkdtempSync(join(tmpdir(), 'tallyd-interop-dovecot-'));
    chmodSync(dir, 0o755); // the login, stats and mail processes run as other users
    const id = identity();
    for (const d of ['run', 'state', 'mail']) mkdirSync(join(dir, d));
    if (id.root) chownSync(join(dir, 'mail'), id.uid, id.gid);
    writeFileSync(join(dir, 'users'), 'alice:{PLAIN}secret::::::\nbob:{PLAIN}hunter2::::::\n');

    // tallyd listens on a port the kernel picks; Dovecot's exporter URL names it once it is known
    // (tallyd ignores event_exporter blocks, so the placeholder it reads is never used)
    writeFileSync(join(dir, 'stats.conf'), statsConf(0));
    writeFileSync(join(dir, 'tallyd.conf'), 'dovecot_compat = 2.3\nopenmetrics_style = dovecot\nshards = 2\n!include stats.conf\n');
    tallyd = await startTallyd(join(dir, 'tallyd.conf'), join(dir, 'tallyd.out'));
    writeFileSync(join(dir, 'user.conf'), USER_CONF);
    mkdirSync(join(dir, 'tallyd-base'));
    writeFileSync(join(dir, 'tallyd-w.conf'), `dovecot_compat = 2.3\nshards = 2\ndovecot_writer_socket = ${join(dir, 'tallyd-writer')}\ndovecot_reader_socket = ${join(dir, 'tallyd-base', 'stats-reader')}\n!include stats.conf\n!include user.conf\n`);
    tallydW = await startTallyd(join(dir, 'tallyd-w.conf'), join(dir, 'tallyd-w.out'));
    tee = await startTee(join(dir, 'tee-writer'), join(dir, 'run', 'stats-writer'), join(dir, 'tallyd-writer'));
    writeFileSync(join(dir, 'stats.conf'), statsConf(tallyd.port));
    conf = join(dir, 'dovecot.conf');

    // Dovecot must be told its ports: free ones, and started again on others should one be taken
    // before it binds it
    for (let attempt = 1; ; attempt++) {
      [imapPort, statsHttpPort] = (await freePorts(2)) as [number, number];
      writeFileSync(conf, dovecotConf(dir, imapPort, statsHttpPort, id));
      dovecot = startChild('dovecot', peers.paths['dovecot'] as string, ['-F', '-c', conf], join(dir, 'dovecot.out'));
      const dc = dovecot;
      try {
        await waitFor(
          'Dovecot to listen (IMAP and stats http)',
          async () => {
            if (dc.exitedYet()) throw new Fatal('dovecot exited');
            const c = await ImapClient.open(imapPort, '127.0.0.1', 2_000);
            c.close();
            return (await httpGet(`http://127.0.0.1:${statsHttpPort}/metrics`, {}, 2_000)).status === 200 ? true : undefined;
          },
          { timeoutMs: 60_000, intervalMs: 250, describe: logs },
        );
        break;
      } catch (e) {
        await stopChild(dc);
        if (attempt >= PORT_ATTEMPTS || !portTaken(dc.logFile, join(dir, 'dovecot.log'))) throw e;
        console.info(`interop dovecot: port ${imapPort} or ${statsHttpPort} was taken before Dovecot bound it; trying others`);
        // the failed start's "Fatal:" lines must not count against the real run
        rmSync(dc.logFile, { force: true });
        rmSync(join(dir, 'dovecot.log'), { force: true });
      }
    }

    // Failed logins come from other loopback addresses: Dovecot delays the
    // next login from an address that just failed (auth penalty).
    const failing: [string, string, string][] = [
      ['alice', 'wrong', '127.0.0.2'],
      ['bob', 'nope', '127.0.0.3'],
      ['mallory', 'x', '127.0.0.4'],
      ['alice', '""', '127.0.0.5'],
    ];
    for (const [user, pass, from] of failing) {
      const c = await ImapClient.open(imapPort, from);
      const r = await c.command(`LOGIN ${user} ${pass}`);
      expect(r.status).toMatch(/^NO /);
      did.logins++;
      await c.command('LOGOUT'); // not logged in: imap-login answers, no imap_command_finished
      c.close();
    }
    const sizes = [40, 400, 900, 1500, 3000];
    const users: [string, string][] = [
      ['alice', 'secret'],
      ['bob', 'hunter2'],
      ['alice', 'secret'],
      ['bob', 'hunter2'],
      ['alice', 'secret'],
    ];
    for (let i = 0; i < users.length; i++) {
      const [user, pass] = users[i] as [string, string];
      const c = await ImapClient.open(imapPort);
      const login = await c.command(`LOGIN ${user} ${pass}`);
      expect(login.status).toMatch(/^OK /);
      did.logins++;
      const before = c.commands;
      const size = sizes[i] as number;
      const message = Buffer.from(`Subject: interop ${i}\r\nFrom: ${user}@example.com\r\n\r\n${'x'.repeat(size)}\r\n`);
      expect((await c.command('SELECT INBOX')).status).toMatch(/^OK /);
      expect((await c.command('APPEND INBOX', message)).status).toMatch(/^OK /);
      expect((await c.command('NOOP')).status).toMatch(/^OK /);
      expect((await c.command('FETCH 1:* (FLAGS BODY.PEEK[])')).status).toMatch(/^OK /);
      expect((await c.command('UID FETCH 1:* (UID RFC822.SIZE)')).status).toMatch(/^OK /);
      expect((await c.command('STORE 1 +FLAGS (\\Deleted)')).status).toMatch(/^OK /);
      expect((await c.command('EXPUNGE')).status).toMatch(/^OK /);
      expect((await c.command('LIST "" "*"')).status).toMatch(/^OK /);
      expect((await c.command('STATUS INBOX (MESSAGES UNSEEN)')).status).toMatch(/^OK /);
      expect((await c.command('FROBNICATE')).status).toMatch(/^BAD /);
      expect((await c.command('SELECT Nonexistent')).status).toMatch(/^NO /);
      expect((await c.command('LOGOUT')).status).toMatch(/^OK /);
      did.imapCommands += c.commands - before;
      // LOGIN itself ran in imap-login, before the session: the session's commands are these
      did.byUser.set(user, (did.byUser.get(user) ?? 0) + c.commands - before);
      c.close();
    }

    // Wait until Dovecot has every event of the sessions and tallyd every
    // event Dovecot exported (bounded: 90 s on a loaded machine).
    const expectAll = did.imapCommands + did.logins;
    let state = '';
    await waitFor(
      'Dovecot and tallyd to count every event',
      async () => {
        const d = parseDump(doveadmDump(['count']));
        const t = parseDump(await tallydDump(['count']));
        const w = parseDump(await tallydWDump(['count']));
        state = `Dovecot: imap_command ${countOf(d, 'imap_command')}/${did.imapCommands}, auth_request ${countOf(d, 'auth_request')}/${did.logins}, all_events ${countOf(d, 'all_events')}; tallyd: all_events ${countOf(t, 'all_events')}; tallyd (writer socket): all_events ${countOf(w, 'all_events')}`;
        return countOf(d, 'all_events') === expectAll && countOf(t, 'all_events') === expectAll && countOf(w, 'all_events') === expectAll ? true : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 300, describe: () => `${state}\n${logs()}` },
    );

    // The figures: Dovecot before and after tallyd, equal, so nothing moved in between.
    await waitFor(
      'a stable pair of readings',
      async () => {
        const dvFields = [...FIELDS, 'variance'];
        const d1 = doveadmDump(dvFields);
        const om1 = await httpGet(`http://127.0.0.1:${statsHttpPort}/metrics`);
        const t = await tallydDump(FIELDS);
        const w = await tallydWDump(FIELDS);
        const tm = await httpGet(`${(tallyd as Tallyd).url}/metrics`, { accept: PROMETHEUS_ACCEPT });
        const om2 = await httpGet(`http://127.0.0.1:${statsHttpPort}/metrics`);
        const d2 = doveadmDump(dvFields);
        if (d1 !== d2 || om1.text !== om2.text) return undefined;
        dv = parseDump(d1);
        td = parseDump(t);
        tw = parseDump(w);
        const wd = run(peers.paths['doveadm'] as string, ['-c', conf, 'stats', 'dump', '-s', join(dir, 'tallyd-base', 'stats-reader'), '-f', FIELDS.join(' ')]);
        twDoveadm = parseDump(wd);
        writeFileSync(join(dir, 'tallyd-w.doveadm'), wd);
        writeFileSync(join(dir, 'tallyd-w.dump'), w);
        dvMetrics = om1;
        tdMetrics = tm;
        writeFileSync(join(dir, 'dovecot.dump'), d1);
        writeFileSync(join(dir, 'tallyd.dump'), t);
        writeFileSync(join(dir, 'dovecot.metrics'), om1.text);
        writeFileSync(join(dir, 'tallyd.metrics'), tm.text);
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    tdSelf = (await httpGet(`${(tallyd as Tallyd).url}/metrics`, { accept: 'text/plain;version=0.0.4' })).text;
    twSelf = (await httpGet(`${(tallydW as Tallyd).url}/metrics`, { accept: 'text/plain;version=0.0.4' })).text;
    console.info(`interop dovecot: setup and sessions took ${Date.now() - t0} ms (${did.imapCommands} IMAP commands, ${did.logins} logins)`);
  }, 180_000);

  afterAll(async () => {
    await stopChild(dovecot);
    await stopChild(tallyd?.child);
    await tee?.close();
    await stopChild(tallydW?.child);
    if (dir === '') return;
    if (process.env['TALLYD_INTEROP_KEEP'] === '1') console.info(`interop dovecot: kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  test('Dovecot counted what the client did, and exported all of it without an error', () => {
    expect(countOf(dv, 'imap_command')).toBe(did.imapCommands);
    expect(countOf(dv, 'auth_request')).toBe(did.logins);
    expect(countOf(dv, 'all_events')).toBe(did.imapCommands + did.logins);
    // every command of the plan, both outcomes of LOGIN, an unknown command
    for (const n of ['SELECT_OK', 'SELECT_NO', 'APPEND_OK', 'FETCH_OK', 'UID_FETCH_OK', 'STORE_OK', 'EXPUNGE_OK', 'unknown_BAD', 'LOGOUT_OK']) {
      expect(countOf(dv, `imap_command_${n}`), n).toBeGreaterThan(0);
    }
    const log = readFileSync(join(dir, 'dovecot.log'), 'utf8');
    expect(log).not.toMatch(/Failed to export event/);
    expect(log).not.toMatch(/(Panic|Fatal):/);
  });

  test('tallyd accepted every exported event, rejected none', () => {
    const total = did.imapCommands + did.logins;
    const accepted = /^tallyd_events_accepted_total (\d+)$/m.exec(tdSelf)?.[1];
    const received = /^tallyd_events_received_total (\d+)$/m.exec(tdSelf)?.[1];
    expect(Number(received)).toBe(total);
    expect(Number(accepted)).toBe(total);
    expect(tdSelf).not.toMatch(/^tallyd_events_rejected_total\{/m);
  });

  test('stats dump: the same rows, every figure equal', () => {
    compareDumps(without(dv, 'imap_by_user'), td, METRICS);
  });

  test('tallyd on the stats-writer socket (in the stats process\'s place): the same rows, every figure equal', () => {
    compareDumps(dv, tw, METRICS_W);
  });

  test('doveadm stats dump -s on tallyd\'s stats-reader socket: the same rows as Dovecot\'s own, every figure equal', () => {
    compareDumps(dv, twDoveadm, METRICS_W);
  });

  test('per user, a field only the session\'s parent event carries: every command counted under its user', () => {
    for (const [user, n] of did.byUser) {
      expect(countOf(dv, `imap_by_user_${user}`), `Dovecot ${user}`).toBe(n);
      expect(countOf(twDoveadm, `imap_by_user_${user}`), `tallyd ${user}`).toBe(n);
    }
    expect(countOf(twDoveadm, 'imap_by_user')).toBe(did.imapCommands);
  });

  test('tallyd sends Dovecot\'s processes the event filter the stats process sends them', () => {
    expect(tee.filters.dovecot.length).toBeGreaterThan(0);
    expect(tee.filters.tallyd.length).toBe(tee.filters.dovecot.length);
    expect(tee.filters.tallyd[0]).toBe(tee.filters.dovecot[0]);
    expect(tee.problems).toEqual([]);
  });

  test('doveadm stats add and remove change tallyd\'s metrics, and tallyd sends Dovecot\'s processes the new FILTER', async () => {
    const doveadm = peers.paths['doveadm'] as string;
    // add and remove take no -s: they use <base_dir>/stats-reader, tallyd's socket here
    const base = ['-c', conf, '-o', `base_dir=${join(dir, 'tallyd-base')}`, 'stats'];
    const first = tee.filters.tallyd[0] as string;
    const before = tee.filters.tallyd.length;
    run(doveadm, [...base, 'add', '--group-by', 'cmd_name', 'late_ok', 'event=imap_command_finished AND tagged_reply_state=OK']);
    const listed = await httpGet(`${(tallydW as Tallyd).url}/v1/metrics`);
    expect(listed.text).toContain('"late_ok"');
    const added = `${first} OR ((event="imap_command_finished" AND "tagged_reply_state"="OK"))`;
    await waitFor('tallyd to send the FILTER with the added metric', async () => (tee.filters.tallyd.slice(before).includes(added) ? true : undefined), {
      timeoutMs: 15_000,
      describe: () => tee.filters.tallyd.slice(before).join('\n'),
    });
    const dumped = parseDump(run(doveadm, ['-c', conf, 'stats', 'dump', '-s', join(dir, 'tallyd-base', 'stats-reader'), '-f', 'count']));
    expect(dumped.byKey.has('late_ok\tduration')).toBe(true);
    const mid = tee.filters.tallyd.length;
    run(doveadm, [...base, 'remove', 'late_ok']);
    await waitFor('tallyd to send the FILTER without it', async () => (tee.filters.tallyd.slice(mid).includes(first) ? true : undefined), { timeoutMs: 15_000 });
    const after = parseDump(run(doveadm, ['-c', conf, 'stats', 'dump', '-s', join(dir, 'tallyd-base', 'stats-reader'), '-f', 'count']));
    expect(after.byKey.has('late_ok\tduration')).toBe(false);
    expect(countOf(after, 'imap_by_user')).toBe(did.imapCommands);
  });

  test('tallyd on the stats-writer socket counted every event, rejected none, closed no connection', () => {
    const total = did.imapCommands + did.logins;
    expect(Number(/^tallyd_events_accepted_total (\d+)$/m.exec(twSelf)?.[1])).toBeGreaterThanOrEqual(total);
    expect(twSelf).not.toMatch(/^tallyd_events_rejected_total\{/m);
    expect(twSelf).toMatch(/^tallyd_dovecot_writer_connections_total [1-9]/m);
    expect(twSelf).not.toMatch(/^tallyd_dovecot_writer_disconnects_total\{[^}]*\} [1-9]/m);
  });

  test("Dovecot's /metrics and tallyd's openmetrics_style = dovecot: every sample equal", () => {
    expect(tdMetrics.contentType).toBe(dvMetrics.contentType);
    const d = parseExposition(dvMetrics.text);
    const t = parseExposition(tdMetrics.text);
    // Dovecot 2.3.19 can print a histogram's buckets into the next metric with
    // nameless labels: expected there, excluded here, never printed by tallyd.
    if (d.nameless.length > 0) console.info(`interop dovecot: excluded ${d.nameless.length} nameless-label samples of Dovecot 2.3.19:\n${d.nameless.join('\n')}`);
    expect(t.nameless).toEqual([]);
    expect(t.duplicates).toEqual([]);
    // imap_by_user is Dovecot's and the writer-socket tallyd's only (see USER_CONF)
    const ours = (name: string): boolean => name.startsWith('dovecot_') && !name.startsWith('dovecot_build') && !name.startsWith('dovecot_imap_by_user');
    const dKeys = [...d.samples.keys()].filter(ours).sort();
    const tKeys = [...t.samples.keys()].filter(ours).sort();
    expect(dKeys.length).toBeGreaterThan(50);
    expect(tKeys).toEqual(dKeys);
    const diffs = dKeys.filter((k) => d.samples.get(k) !== t.samples.get(k)).map((k) => `${k}: Dovecot ${d.samples.get(k)}, tallyd ${t.samples.get(k)}`);
    expect(diffs).toEqual([]);
    const fams = (e: typeof d): string[] => [...e.types.keys()].filter(ours).sort();
    expect(fams(t)).toEqual(fams(d));
    for (const f of fams(d)) {
      expect(`${f} ${t.types.get(f)}`).toBe(`${f} ${d.types.get(f)}`);
      expect(`${f} ${t.helps.get(f)}`).toBe(`${f} ${d.helps.get(f)}`);
    }
  });

  test("the dump's totals are the exposition's totals", () => {
    // one cross-check between the two comparisons: Dovecot's own numbers agree with each other
    const d = parseExposition(dvMetrics.text);
    expect(d.samples.get('dovecot_imap_command_count')).toBe(String(countOf(dv, 'imap_command')));
    expect(d.samples.get('dovecot_auth_request_total')).toBe(String(countOf(dv, 'auth_request')));
  });
});
