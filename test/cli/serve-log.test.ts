/**
 * `tallyd serve`'s log as a person and a collector read it: the real bin,
 * JSON lines and pino-pretty lines, the start line's fields, rejected
 * batches logged once per peer and reason per window, metric add/remove and
 * resets, and a bad --log-level as a usage error.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAllServes, startServe, TALLYD_BIN, type ServeProcess } from '../helpers/serve.js';
import { cli, requireBuild, ROOT } from './helpers.js';

requireBuild();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The JSON log lines of a child so far. */
function jsonLines(c: ServeProcess): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of c.output().split('\n')) {
    try {
      const o = JSON.parse(line) as unknown;
      if (typeof o === 'object' && o !== null && 'msg' in o) out.push(o as Record<string, unknown>);
    } catch {
      // not a log line
    }
  }
  return out;
}

async function waitFor<T>(what: string, f: () => T | undefined, c: ServeProcess, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`no ${what} within ${ms} ms:\n${c.output()}`);
    await sleep(25);
  }
}

/** Sends stats-reader commands after the handshake; resolves with what came back once `answers` lines did. */
function readerSession(path: string, commands: string[], answers: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    let text = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      text += d;
      const lines = text.split('\n').filter((l) => l !== '');
      // the server's VERSION line first, then the answers
      if (lines.length >= answers + 1) {
        sock.destroy();
        resolve(lines.slice(1));
      }
    });
    sock.on('error', reject);
    sock.write(`VERSION\tstats-reader-client\t2\t0\n${commands.map((c) => `${c}\n`).join('')}`);
  });
}

describe('tallyd serve --log-format json', () => {
  let c: ServeProcess;
  let dir: string;
  let reader: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tallyd-log-'));
    reader = join(dir, 'stats-reader');
    c = await startServe(['--log-format', 'json', '--log-level', 'debug', '--shards', '2', '--drain-timeout', '5s', '--dovecot-reader-socket', reader]);
  }, 60_000);
  afterAll(async () => {
    await killAllServes();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts with one line naming version, revision, config, listen address, shards and sockets', () => {
    const start = jsonLines(c).find((o) => o.msg === 'tallyd is serving');
    expect(start).toMatchObject({
      level: 30,
      name: 'tallyd',
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      revision: expect.any(String),
      config: 'built-in',
      listen: `127.0.0.1:${c.port}`,
      shards: 2,
      dovecotWriterSocket: null,
      dovecotReaderSocket: reader,
    });
  });

  it("logs the stats-reader's METRICS-ADD, METRICS-REMOVE and DUMP-RESET", async () => {
    const answers = await readerSession(
      reader,
      ['METRICS-ADD\treader_metric\tdesc\tnet_in_bytes\tcmd_name\tevent=ok\t\t', 'METRICS-REMOVE\treader_metric', 'DUMP-RESET'],
      3,
    );
    expect(answers.slice(0, 2)).toEqual(['+', '+']);
    const lines = await waitFor(
      'stats-reader lines',
      () => {
        const l = jsonLines(c).filter((o) => o.via === 'stats-reader');
        return l.length >= 3 ? l : undefined;
      },
      c,
    );
    expect(lines.map((o) => o.msg)).toEqual(['metric added', 'metric removed', 'statistics reset (dump and zero)']);
    expect(lines[0]).toMatchObject({ level: 30, metric: 'reader_metric', filter: 'event=ok', fields: 'net_in_bytes', group_by: 'cmd_name' });
  });

  it('logs a rejected batch once per window, with the peer and the reason', async () => {
    const post = (body: string) =>
      fetch(`${c.url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).then((r) => r.status);
    // five batches with an event without a name, five that cannot be framed
    for (let i = 0; i < 5; i++) expect(await post('[{"duration":1},{"event":"ok"}]')).toBe(200);
    for (let i = 0; i < 5; i++) expect(await post('[{"event":')).toBe(400);
    // a later line: everything logged for the batches above is out by then
    const add = await fetch(`${c.url}/v1/metrics`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'logged_metric', filter: 'event=ok', group_by: 'cmd_name' }),
    });
    expect(add.status).toBe(201);
    const added = await waitFor('metric added line', () => jsonLines(c).find((o) => o.msg === 'metric added' && o.via === 'http'), c);
    expect(added).toMatchObject({ level: 30, metric: 'logged_metric', via: 'http', peer: '127.0.0.1', filter: 'event=ok', group_by: 'cmd_name' });
    const lines = jsonLines(c);
    const events = lines.filter((o) => o.msg === 'events rejected');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ level: 40, peer: '127.0.0.1', via: 'http', reason: 'missing_name', status: 200, events: 2, rejected: 1 });
    const batches = lines.filter((o) => o.msg === 'batch rejected');
    expect(batches).toHaveLength(1);
    expect(batches[0]).toMatchObject({ level: 40, peer: '127.0.0.1', via: 'http', reason: 'ERR_INGEST_FRAMING', status: 400 });
  });

  it('logs removes and resets at info, other 4xx answers at debug', async () => {
    expect((await fetch(`${c.url}/v1/metrics/logged_metric`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(`${c.url}/v1/stats/dump?reset=1`, { method: 'POST' })).status).toBe(200);
    expect((await fetch(`${c.url}/no/such/route`)).status).toBe(404);
    await waitFor('request refused line', () => jsonLines(c).find((o) => o.msg === 'request refused'), c);
    const lines = jsonLines(c);
    expect(lines.find((o) => o.msg === 'metric removed' && o.via === 'http')).toMatchObject({ level: 30, metric: 'logged_metric', via: 'http', peer: '127.0.0.1' });
    expect(lines.find((o) => o.msg === 'statistics reset (dump and zero)' && o.via === 'http')).toMatchObject({ level: 30, via: 'http', peer: '127.0.0.1' });
    expect(lines.find((o) => o.msg === 'request refused')).toMatchObject({ level: 20, status: 404, path: '/no/such/route', error: 'ERR_HTTP_NOT_FOUND' });
  });
});

describe('tallyd serve --log-format pretty', () => {
  it("writes pino-pretty's lines, not JSON, even when stdout is not a terminal", async () => {
    const child = spawn(process.execPath, [TALLYD_BIN, 'serve', '--listen', '127.0.0.1:0', '--log-format', 'pretty'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const deadline = Date.now() + 30_000;
      while (!/tallyd is serving.*\n/.test(out)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no start line:\n${out}`);
        await sleep(25);
      }
      const line = out.split('\n').find((l) => l.includes('tallyd is serving')) as string;
      expect(line).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] INFO: tallyd is serving \{/);
      expect(line).toContain('"config":"built-in"');
      expect(line).toMatch(/"listen":"127\.0\.0\.1:\d+"/);
      expect(line).toContain('"shards":');
      expect(() => JSON.parse(line) as unknown).toThrow();
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(out).toMatch(/INFO: drained; final merge taken/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 60_000);
});

describe('bad log options are usage errors', () => {
  it('a bad --log-level exits 2 with the valid levels and the usage, no stack trace', async () => {
    const r = await cli(['serve', '--log-level', 'loud']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("tallyd serve: --log-level must be one of fatal, error, warn, info, debug, trace, silent, not 'loud'");
    expect(r.stderr).toContain('Usage: tallyd serve');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('a bad TALLYD_LOG_LEVEL or TALLYD_LOG_FORMAT too', async () => {
    const [level, format] = await Promise.all([
      cli(['serve'], { env: { TALLYD_LOG_LEVEL: 'verbose' } }),
      cli(['serve', '--log-format', 'xml']),
    ]);
    expect(level.code).toBe(2);
    expect(level.stderr).toContain("--log-level must be one of fatal, error, warn, info, debug, trace, silent, not 'verbose'");
    expect(format.code).toBe(2);
    expect(format.stderr).toContain("--log-format must be pretty or json, not 'xml'");
  });
});

