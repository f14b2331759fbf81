/**
 * The stats-reader socket (src/dovecot/reader.ts) on a real sharded Runtime:
 * the real `doveadm stats dump|add|remove` (Dovecot 2.3.19) against it, and
 * raw-socket tests of the protocol's refusals and of a reader that never
 * reads.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { pack } from 'msgpackr';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/index.js';
import {
  READER_ERROR_REASONS,
  READER_VERSION_LINE,
  ReaderServer,
  runtimeReaderBackend,
  type ReaderErrorReason,
} from '../../src/dovecot/reader.js';
import { readerTabEscape, renderReaderDump, splitTabEscaped } from '../../src/dovecot/reader-wire.js';
import { FORMAT_MSGPACK } from '../../src/event/decode.js';
import { renderDump } from '../../src/export/index.js';
import type { Runtime } from '../../src/shard/runtime.js';
import { eventArb, MIXED_CONFIG } from '../helpers/events.js';
import { runtimeStarter } from '../helpers/shards.js';
import { until } from '../helpers/wait.js';
import { findPeers, peerSuite } from '../interop/peers.js';

const cfg = parseConfigText(MIXED_CONFIG, 'mixed.conf');
const start = runtimeStarter(cfg);
const cfg23 = parseConfigText(`dovecot_compat = 2.3\n${MIXED_CONFIG}`, 'mixed23.conf');
const start23 = runtimeStarter(cfg23);

interface Rig {
  rt: Runtime;
  reader: ReaderServer;
  dir: string;
  path: string;
  server: Server;
}

let rig: Rig | null = null;

async function startRig(starter = start): Promise<Rig> {
  const rt = await starter(2);
  const dir = mkdtempSync(join(tmpdir(), 'tallyd-reader-'));
  // doveadm's add/remove have no -s: they use <base_dir>/stats-reader
  const path = join(dir, 'stats-reader');
  const reader = new ReaderServer(runtimeReaderBackend(rt));
  const server = createServer((s) => reader.accept(s));
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(path, () => res());
  });
  rig = { rt, reader, dir, path, server };
  return rig;
}

afterEach(async () => {
  const r = rig;
  rig = null;
  if (r === null) return;
  r.reader.close();
  await new Promise<void>((res) => r.server.close(() => res()));
  rmSync(r.dir, { recursive: true, force: true });
});

async function ingest(rt: Runtime, events: unknown[]): Promise<void> {
  const bytes = pack(events);
  for (;;) {
    const o = await rt.ingest(bytes, FORMAT_MSGPACK);
    if (o.status === 'ok') return;
    if (o.status !== 'busy') throw new Error(`ingest: ${JSON.stringify(o)}`);
    await rt.waitForSpace(bytes.length, 1000);
  }
}

const EVENTS = fc.sample(eventArb, { numRuns: 400, seed: 11 });

// ---- raw socket client ------------------------------------------------------

interface Raw {
  sock: Socket;
  /** everything received so far */
  text(): string;
  closed(): boolean;
  waitFor(pred: (t: string) => boolean, what: string): Promise<string>;
  waitClosed(): Promise<void>;
}

async function raw(path: string): Promise<Raw> {
  const sock = createConnection(path);
  let got = '';
  let closed = false;
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => (got += d));
  sock.on('error', () => undefined);
  sock.on('close', () => (closed = true));
  await new Promise<void>((res) => sock.once('connect', () => res()));
  return {
    sock,
    text: () => got,
    closed: () => closed,
    async waitFor(pred, what) {
      await until(() => pred(got), 10_000, what, 10);
      return got;
    },
    waitClosed: () => until(() => closed, 10_000, 'the server to close the connection', 10),
  };
}

const HELLO = 'VERSION\tstats-reader-client\t2\t0\n';

function errors(r: Rig): Record<ReaderErrorReason, number> {
  return { ...r.reader.counters.errors };
}

function only(reason: ReaderErrorReason): Record<ReaderErrorReason, number> {
  const o = Object.fromEntries(READER_ERROR_REASONS.map((x) => [x, 0])) as Record<ReaderErrorReason, number>;
  o[reason] = 1;
  return o;
}

describe('stats-reader wire helpers', () => {
  it('tab-escapes and splits as Dovecot strescape.c does', () => {
    expect(readerTabEscape('a\tb\nc\rd\x01e')).toBe('a\x01tb\x01nc\x01rd\x011e');
    // a NUL (a JS string may hold one) goes out as \0010, which Dovecot reads back as the end of the value
    expect(readerTabEscape('x\x00y')).toBe('x\x010y');
    expect(splitTabEscaped(readerTabEscape('x\x00y'))).toEqual(['x']);
    expect(splitTabEscaped('')).toEqual([]);
    expect(splitTabEscaped('\t')).toEqual(['', '']);
    expect(splitTabEscaped('A\tx\x01ty\tz\x01')).toEqual(['A', 'x\ty', 'z']);
    expect(splitTabEscaped('a\x010b\tq\x01qr')).toEqual(['a', 'qqr']);
  });
});

describe('stats-reader with a failing backend', () => {
  it('closes the connection and counts internal', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tallyd-reader-'));
    const reader = new ReaderServer({
      dump: () => Promise.reject(new Error('runtime closed')),
      add: () => Promise.resolve(null),
      remove: () => Promise.resolve(true),
    });
    const server = createServer((s) => reader.accept(s));
    const path = join(dir, 'stats-reader');
    await new Promise<void>((res) => server.listen(path, () => res()));
    try {
      const c = await raw(path);
      c.sock.write(`${HELLO}METRICS-REMOVE\tx\nDUMP\tcount\nMETRICS-REMOVE\ty\n`);
      await c.waitClosed();
      expect(c.text()).toBe(`${READER_VERSION_LINE}+\n`);
      expect(reader.counters.errors.internal).toBe(1);
    } finally {
      reader.close();
      await new Promise<void>((res) => server.close(() => res()));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('stats-reader protocol (raw socket)', () => {
  beforeEach(async () => {
    await startRig();
  });

  it('sends its VERSION line first and answers pipelined commands in order (CRLF too)', async () => {
    const r = rig as Rig;
    await ingest(r.rt, EVENTS.slice(0, 50));
    const c = await raw(r.path);
    await c.waitFor((t) => t === READER_VERSION_LINE, 'the VERSION line');
    c.sock.write(`${HELLO}METRICS-REMOVE\tnope\r\nDUMP\tcount\r\nMETRICS-REMOVE\tnope2\n`);
    const t = await c.waitFor((x) => x.includes("nope2' not found\n"), 'three answers');
    const lines = t.split('\n');
    expect(lines[0]).toBe('VERSION\tstats-reader-server\t2\t0');
    expect(lines[1]).toBe("-metrics 'nope' not found");
    expect(lines[2]?.startsWith('imap_command\t')).toBe(true);
    expect(t.includes("\n\n-metrics 'nope2' not found\n")).toBe(true);
    expect(c.closed()).toBe(false);
    expect(r.reader.counters.commands.DUMP).toBe(1);
    expect(r.reader.counters.commands['METRICS-REMOVE']).toBe(2);
    c.sock.destroy();
  });

  it('sends the DUMP line format: duration values, then <field> and its values, per node', async () => {
    const r = rig as Rig;
    await ingest(r.rt, [
      { event: 'imap_command_finished', duration: 100, fields: { cmd_name: 'UID FETCH', tagged_reply_state: 'OK', net_in_bytes: 7 } },
      { event: 'imap_command_finished', duration: 300, fields: { cmd_name: 'UID FETCH', tagged_reply_state: 'OK', net_in_bytes: 9 } },
    ]);
    const c = await raw(r.path);
    c.sock.write(`${HELLO}DUMP\tcount\tsum\tavg\tvariance\tstddev\t%50\n`);
    const t = await c.waitFor((x) => x.endsWith('\n\n'), 'the dump');
    const lines = t.split('\n');
    expect(lines.slice(1, 4)).toEqual([
      'imap_command\t2\t400\t200.00\t10000.00\t\t100\tnet_in_bytes\t2\t16\t8.00\t1.00\t\t7\tnet_out_bytes\t0\t0\t0.00\t0.00\t\t0',
      'imap_command_UID_FETCH\t2\t400\t200.00\t10000.00\t\t100\tnet_in_bytes\t2\t16\t8.00\t1.00\t\t7\tnet_out_bytes\t0\t0\t0.00\t0.00\t\t0',
      'imap_command_UID_FETCH_OK\t2\t400\t200.00\t10000.00\t\t100\tnet_in_bytes\t2\t16\t8.00\t1.00\t\t7\tnet_out_bytes\t0\t0\t0.00\t0.00\t\t0',
    ]);
    c.sock.destroy();
  });

  const closing: [ReaderErrorReason, string][] = [
    ['bad_handshake', 'DUMP\tcount\n'],
    ['bad_handshake', 'VERSION\tstats-reader-client\t2\n'],
    ['bad_handshake', 'VERSION\tstats-reader-client\t2\tx\n'],
    ['wrong_service', 'VERSION\tstats-server\t2\t0\n'],
    ['bad_version', 'VERSION\tstats-reader-client\t3\t0\n'],
    ['empty_line', '\n'],
    ['empty_line', `${HELLO}\n`],
    ['not_enough_parameters', `${HELLO}METRICS-ADD\ta\tb\tc\td\te\tf\n`],
    ['not_enough_parameters', `${HELLO}METRICS-REMOVE\n`],
    ['line_too_long', `${HELLO}DUMP\t${'x'.repeat(1100)}\n`],
    ['line_too_long', `${HELLO}DUMP\t${'x'.repeat(2000)}`],
  ];
  for (const [reason, input] of closing) {
    it(`closes on ${reason}: ${JSON.stringify(input.length > 60 ? `${input.slice(0, 60)}…` : input)}`, async () => {
      const r = rig as Rig;
      const c = await raw(r.path);
      c.sock.write(input);
      await c.waitClosed();
      expect(c.text()).toBe(READER_VERSION_LINE);
      expect(errors(r)).toEqual(only(reason));
      await until(() => r.reader.counters.connections === 0, 5000, 'the connection to be counted closed');
    });
  }

  it('takes a line of 1023 bytes plus LF, and answers the lines before a too-long one', async () => {
    const r = rig as Rig;
    const c = await raw(r.path);
    const dump = `DUMP\t${'y'.repeat(1023 - 5)}`;
    expect(Buffer.byteLength(dump)).toBe(1023);
    c.sock.write(`${HELLO}${dump}\nMETRICS-REMOVE\tq\n${'z'.repeat(1024)}\n`);
    await c.waitClosed();
    expect(c.text().endsWith("\n\n-metrics 'q' not found\n")).toBe(true);
    expect(errors(r)).toEqual(only('line_too_long'));
  });

  it('ignores an unknown command (no answer, connection kept) and counts it', async () => {
    const r = rig as Rig;
    const c = await raw(r.path);
    c.sock.write(`${HELLO}FOO\tbar\n\t\nMETRICS-REMOVE\tx\n`);
    await c.waitFor((t) => t.endsWith("-metrics 'x' not found\n"), 'the answer after the unknown commands');
    expect(c.text()).toBe(`${READER_VERSION_LINE}-metrics 'x' not found\n`);
    expect(c.closed()).toBe(false);
    expect(r.reader.counters.errors.unknown_command).toBe(2);
    c.sock.destroy();
  });

  it('answers REOPEN with + (2.4; tallyd has no file exporters)', async () => {
    const r = rig as Rig;
    const c = await raw(r.path);
    c.sock.write(`${HELLO}REOPEN\n`);
    await c.waitFor((t) => t === `${READER_VERSION_LINE}+\n`, '+');
    c.sock.destroy();
  });

  it('adds and removes over the wire; errors as -METRICS-ADD: <text>', async () => {
    const r = rig as Rig;
    const c = await raw(r.path);
    const add = (name: string, groupBy: string, filter: string, exporter = ''): string =>
      `METRICS-ADD\t${name}\tdesc\tnet_in_bytes\t${groupBy}\t${filter}\t${exporter}\tname hostname timestamps categories fields\n`;
    c.sock.write(
      HELLO +
        add('x1', 'cmd_name', 'event=imap_command_finished') +
        add('x1', '', 'event=a') +
        add('x2', 'duration:exponential:1:5:7', 'event=a') +
        add('x3', '', 'event=a', 'nosuch') +
        add('x4', '', '') +
        'METRICS-REMOVE\tx1\nMETRICS-REMOVE\tx1\n',
    );
    const t = await c.waitFor((x) => x.split('\n').length >= 8, 'seven answers');
    expect(t.split('\n').slice(1)).toEqual([
      '+',
      '-METRICS-ADD: Metric already exists',
      "-METRICS-ADD: group_by 'exponential' aggregate function base must be one of: 2, 10 (base=7)",
      "-METRICS-ADD: Exporter 'nosuch' does not exist.",
      '-METRICS-ADD: metric x4 { filter } is empty - will not match anything',
      '+',
      "-metrics 'x1' not found",
      '',
    ]);
    c.sock.destroy();
  });

  it('answers a client that half-closes after sending, then closes', async () => {
    const r = rig as Rig;
    const c = await raw(r.path);
    c.sock.end(`${HELLO}METRICS-REMOVE\ta\nDUMP\tcount\n`);
    await c.waitClosed();
    expect(c.text()).toBe(`${READER_VERSION_LINE}-metrics 'a' not found\n${await r.rt.snapshot((s) => renderReaderDump(s, ['count']))}`);
  });

  it('serves many connections at once', async () => {
    const r = rig as Rig;
    await ingest(r.rt, EVENTS.slice(0, 100));
    const want = await r.rt.snapshot((s) => renderReaderDump(s, ['count', '%99']));
    const clients = await Promise.all(Array.from({ length: 60 }, () => raw(r.path)));
    for (const c of clients) c.sock.write(`${HELLO}DUMP\tcount\t%99\n`);
    for (const c of clients) expect(await c.waitFor((t) => t.length >= READER_VERSION_LINE.length + want.length, 'a dump')).toBe(READER_VERSION_LINE + want);
    expect(r.reader.counters.connections).toBe(60);
    for (const c of clients) c.sock.destroy();
    await until(() => r.reader.counters.connections === 0, 5000, 'all closed');
    expect(r.reader.counters.connectionsTotal).toBe(60);
  });

  it('a reader that never reads its answers does not block another', async () => {
    const r = rig as Rig;
    await ingest(r.rt, EVENTS);
    const one = await r.rt.snapshot((s) => renderDump(s, ['count'], { compat: cfg.settings.dovecotCompat }).length);
    expect(one).toBeGreaterThan(2000);
    // a client asking for 400 dumps and reading none: megabytes the kernel cannot buffer
    const slow = createConnection(r.path);
    slow.on('error', () => undefined);
    await new Promise<void>((res) => slow.once('connect', () => res()));
    slow.pause();
    slow.write(HELLO + 'DUMP\tcount\tsum\tmin\tmax\tavg\tmedian\tvariance\t%95\t%99\n'.repeat(400));
    await until(() => r.reader.counters.commands.DUMP > 0, 10_000, 'the slow reader to be answered once');
    await new Promise((res) => setTimeout(res, 300));
    const answered = r.reader.counters.commands.DUMP;
    expect(answered).toBeLessThan(400);
    // another reader is served meanwhile, several times
    for (let i = 0; i < 3; i++) {
      const c = await raw(r.path);
      c.sock.write(`${HELLO}DUMP\tcount\n`);
      await c.waitFor((t) => t.endsWith('\n\n'), 'the second reader\'s dump');
      c.sock.destroy();
    }
    // and ingest and the HTTP-side snapshot too
    await ingest(r.rt, EVENTS.slice(0, 10));
    await r.rt.snapshot(() => undefined);
    // the slow reader was not served further while it read nothing
    expect(r.reader.counters.commands.DUMP).toBeLessThanOrEqual(answered + 3 + 1);
    slow.destroy();
  });
});

// ---- the real doveadm ----------------------------------------------------------

const peers = findPeers(['doveadm']);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function doveadm(dir: string, args: string[]): Promise<Run> {
  return new Promise((res) => {
    execFile(
      peers.paths.doveadm as string,
      ['-c', '/dev/null', '-o', `base_dir=${dir}`, ...args],
      { timeout: 20_000 },
      (err, stdout, stderr) => res({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr }),
    );
  });
}

peerSuite(peers, 'dovecot-core', 'doveadm stats against the stats-reader socket', () => {
  beforeEach(async () => {
    await startRig();
  });
  const compat = cfg.settings.dovecotCompat;
  const FIELD_SETS = [
    null,
    'count sum min max avg median stddev %95 %99.9',
    'count,%99.9, variance  bogus %50 %0 %100 stddev',
  ];

  it('doveadm stats dump prints what renderDump prints, byte for byte', async () => {
    const r = rig as Rig;
    await ingest(r.rt, EVENTS);
    for (const f of FIELD_SETS) {
      const args = ['stats', 'dump', '-s', r.path, ...(f === null ? [] : ['-f', f])];
      const got = await doveadm(r.dir, args);
      expect(got.stderr).toBe('');
      expect(got.code).toBe(0);
      const fields = f === null ? ['count', 'sum', 'min', 'max', 'avg', 'median', 'stddev', '%95'] : f.split(/[ ,]+/).filter((w) => w !== '');
      const want = await r.rt.snapshot((s) => renderDump(s, fields, { compat }));
      expect(got.stdout.split('\n').length).toBeGreaterThan(50);
      expect(got.stdout).toBe(want);
    }
  });

  it('the same in dovecot_compat = 2.3 (its sub-metric names)', async () => {
    const r = rig as Rig;
    // a second socket on a 2.3-compat runtime (the beforeEach one is left unused)
    const rt = await start23(2);
    expect(cfg23.settings.dovecotCompat).toBe('2.3');
    const reader = new ReaderServer(runtimeReaderBackend(rt));
    const path = join(r.dir, 'reader23');
    const server = createServer((s) => reader.accept(s));
    await new Promise<void>((res) => server.listen(path, () => res()));
    try {
      const long = 'L'.repeat(40);
      await ingest(rt, [...EVENTS, { event: 'imap_command_finished', duration: 5, fields: { cmd_name: long, tagged_reply_state: 'OK' } }]);
      const got = await doveadm(r.dir, ['stats', 'dump', '-s', path, '-f', 'count sum min max avg median stddev %95 %99.9']);
      const want = await rt.snapshot((s) => renderDump(s, ['count', 'sum', 'min', 'max', 'avg', 'median', 'stddev', '%95', '%99.9'], { compat: '2.3' }));
      expect(got.stdout).toBe(want);
      expect(got.stdout).toContain(`imap_command_${'L'.repeat(31)}…\tduration\t1\t`);
    } finally {
      reader.close();
      await new Promise<void>((res) => server.close(() => res()));
    }
  });

  it('stddev is doveadm\'s sqrt of the %.02f variance (a documented difference from renderDump)', async () => {
    const r = rig as Rig;
    // 300 × 100 µs and one 101 µs: variance 0.0033 is sent as "0.00"
    const evs = Array.from({ length: 300 }, () => ({ event: 'mail_delivery_finished', duration: 100, fields: {} }));
    evs.push({ event: 'mail_delivery_finished', duration: 101, fields: {} });
    await ingest(r.rt, evs);
    const got = await doveadm(r.dir, ['stats', 'dump', '-s', r.path, '-f', 'count stddev variance']);
    expect(got.stdout.split('\n')).toContain('delivery\tduration\t301\t0.00\t0.00');
    const http = await r.rt.snapshot((s) => renderDump(s, ['count', 'stddev', 'variance'], { compat }));
    expect(http.split('\n')).toContain('delivery\tduration\t301\t0.06\t0.00');
  });

  it('doveadm stats dump -r resets: the next dump shows count 0 on every row, sub-metrics kept', async () => {
    const r = rig as Rig;
    await ingest(r.rt, EVENTS);
    const before = await r.rt.snapshot((s) => renderDump(s, ['count', 'sum', '%95'], { compat }));
    const first = await doveadm(r.dir, ['stats', 'dump', '-r', '-s', r.path, '-f', 'count sum %95']);
    expect(first.stdout).toBe(before);
    const second = await doveadm(r.dir, ['stats', 'dump', '-s', r.path, '-f', 'count sum %95']);
    const rows = (t: string) => t.trimEnd().split('\n').slice(1);
    expect(rows(second.stdout).map((l) => l.split('\t').slice(0, 2))).toEqual(rows(before).map((l) => l.split('\t').slice(0, 2)));
    for (const l of rows(second.stdout)) expect(l.split('\t').slice(2)).toEqual(['0', '0', '0']);
    // counting goes on after the reset
    await ingest(r.rt, EVENTS.slice(0, 20));
    const third = await doveadm(r.dir, ['stats', 'dump', '-s', r.path, '-f', 'count sum %95']);
    expect(third.stdout).toBe(await r.rt.snapshot((s) => renderDump(s, ['count', 'sum', '%95'], { compat })));
    expect(third.stdout).not.toBe(second.stdout);
  });

  it('doveadm stats add / remove, with Dovecot\'s error texts', async () => {
    const r = rig as Rig;
    const add = await doveadm(r.dir, [
      'stats', 'add', '--description', 'added at run time', '--fields', 'net_in_bytes', '--group-by', 'cmd_name duration:exponential:1:5:10',
      'added', 'event=imap_command_finished',
    ]);
    expect(add).toEqual({ code: 0, stdout: '', stderr: '' });
    await ingest(r.rt, EVENTS);
    const dump = await doveadm(r.dir, ['stats', 'dump', '-s', r.path]);
    expect(dump.stdout).toMatch(/^added\tduration\t[1-9]/m);
    expect(dump.stdout).toMatch(/^added_SELECT_duration_ninf_10\t|^added_[A-Z_]+_duration_[0-9a-z_]+\t/m);
    expect(dump.stdout).toBe(await r.rt.snapshot((s) => renderDump(s, ['count', 'sum', 'min', 'max', 'avg', 'median', 'stddev', '%95'], { compat })));

    const again = await doveadm(r.dir, ['stats', 'add', 'added', 'event=x']);
    expect(again.stderr).toBe('Error: METRICS-ADD: Metric already exists\n');
    const badGroup = await doveadm(r.dir, ['stats', 'add', '--group-by', 'size:linear:10:5:1', 'bad', 'event=x']);
    expect(badGroup.stderr).toBe("Error: METRICS-ADD: group_by 'linear' aggregate function min must be < max (10 must be < 5)\n");

    const rm = await doveadm(r.dir, ['stats', 'remove', 'added']);
    expect(rm).toEqual({ code: 0, stdout: '', stderr: '' });
    const after = await doveadm(r.dir, ['stats', 'dump', '-s', r.path]);
    expect(after.stdout).not.toMatch(/^added/m);
    const rm2 = await doveadm(r.dir, ['stats', 'remove', 'added']);
    expect(rm2.stderr).toBe("Error: metrics 'added' not found\n");
    expect(r.reader.counters.errors).toEqual(Object.fromEntries(READER_ERROR_REASONS.map((x) => [x, 0])));
  });
});
