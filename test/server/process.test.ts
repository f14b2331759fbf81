/**
 * `tallyd serve` as a real child process: readiness, streaming over a
 * WebSocket with acks, scraping while streaming, SIGTERM mid-stream with a
 * graceful drain into --final-dump, a second signal exiting at once, and a
 * SIGTERM sent the instant the start line is read.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pack } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAllServes, startServe, TALLYD_BIN, waitExit, type ServeProcess } from '../helpers/serve.js';
import { http, parseDump, sample, TRANSPORTS, WsClient } from './helpers.js';

const CONFIG = `
shards = 2
metric all_events {
  filter = event=*
  description = every event
}
metric by_kind {
  filter = event=load
  group_by = kind
}
`;

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tallyd-serve-'));
  writeFileSync(join(dir, 'tallyd.conf'), CONFIG);
});

afterAll(async () => {
  await killAllServes();
  rmSync(dir, { recursive: true, force: true });
});

/** `tallyd serve --config tallyd.conf` on a port the kernel picks, ready. */
function serve(args: string[]): Promise<ServeProcess> {
  return startServe(['--config', join(dir, 'tallyd.conf'), ...args]);
}

describe.each(TRANSPORTS)('tallyd serve over $name as a process', (transport) => {
  const flags = transport.nativeFree ? ['--native-free'] : [];

  it('drains on SIGTERM mid-stream: exit 0, and every acknowledged event is in the final dump', async () => {
    const out = join(dir, `final-${transport.name}.dump`);
    const c = await serve([...flags, '--final-dump', out]);
    expect(c.output()).toContain(`"transport":"${transport.name}"`);

    const MESSAGES = 400;
    const EVENTS = 500;
    const messages = Array.from({ length: 8 }, (_, m) =>
      pack(Array.from({ length: EVENTS }, (_, i) => ({ event: 'load', duration: i, fields: { kind: `k${(i + m) % 7}`, n: i } }))),
    );
    const ws = await WsClient.open(`ws://127.0.0.1:${c.port}/v1/events/stream?ack=1`);
    let sent = 0;
    let acked = 0;
    let scraped = false;
    let signalled = false;
    const WINDOW = 16;
    while (ws.closed === null) {
      // keep WINDOW messages in flight
      while (sent < MESSAGES && sent - ws.received < WINDOW && ws.closed === null) {
        ws.send(messages[sent % messages.length] as Buffer, true);
        sent++;
      }
      if (sent >= MESSAGES && ws.received >= sent) break;
      await ws.waitFor(ws.received + 1, 10_000);
      acked = ws
        .all()
        .filter((r) => r.busy !== true && r.error === undefined)
        .reduce((s, r) => s + r.accepted, 0);
      if (!scraped && ws.received >= 40) {
        scraped = true;
        const m = await http(c.url, '/metrics');
        expect(m.status).toBe(200);
        expect(sample(m.text, 'tallyd_events_accepted_total')).toBeGreaterThan(0);
        expect(sample(m.text, 'dovecot_all_events_total')).toBeGreaterThan(0);
        expect(sample(m.text, 'tallyd_websocket_connections')).toBe(1);
      }
      if (!signalled && ws.received >= 120) {
        signalled = true;
        c.proc.kill('SIGTERM');
      }
    }
    expect(signalled).toBe(true);
    const { code, signal } = await waitExit(c, 20_000);
    expect(signal).toBeNull();
    expect(code, c.output()).toBe(0);

    const replies = ws.all();
    ws.close();
    for (const [i, r] of replies.entries()) expect(r.seq, 'acks in order').toBe(i + 1);
    acked = replies.filter((r) => r.busy !== true && r.error === undefined).reduce((s, r) => s + r.accepted, 0);
    const refused = replies.filter((r) => r.busy === true).length;
    const unanswered = sent - replies.length;
    expect(acked).toBeGreaterThanOrEqual(120 * EVENTS);
    expect(acked).toBeLessThan(MESSAGES * EVENTS);
    expect(c.output()).toContain('drained; final merge taken');

    const dump = parseDump(readFileSync(out, 'utf8'));
    expect(dump.header).toEqual(['metric_name', 'field', 'count', 'sum', 'min', 'max', 'avg', 'median', 'stddev', '%95']);
    const total = Number(dump.rows.get('all_events duration')?.count);
    // every acknowledged event is counted; beyond that at most the events of messages never answered
    expect(total).toBeGreaterThanOrEqual(acked);
    expect(total).toBeLessThanOrEqual(acked + unanswered * EVENTS);
    expect(total).toBeLessThanOrEqual((sent - refused) * EVENTS);
    let kinds = 0;
    for (let k = 0; k < 7; k++) kinds += Number(dump.rows.get(`by_kind_k${k} duration`)?.count ?? 0);
    expect(kinds).toBe(total);
    // the waits above are bounded (readiness 60 s, exit 20 s): the test's own limit must not cut them short
  }, 120_000);

  it('exits at once, non-zero, on a second signal', async () => {
    // a drain timeout far beyond the wait below: a non-zero exit in time is the second signal's
    const c = await serve([...flags, '--drain-timeout', '120s']);
    // two different signals (the same one twice may merge while pending), sent while the child is
    // stopped: both are pending when it resumes, so the second is handled while the drain runs even
    // if this process is descheduled between two kill() calls long enough for an idle server's
    // drain to finish
    c.proc.kill('SIGSTOP');
    c.proc.kill('SIGTERM');
    c.proc.kill('SIGINT');
    c.proc.kill('SIGCONT');
    const { code, signal } = await waitExit(c, 15_000);
    expect(signal).toBeNull();
    expect(code).not.toBe(0);
    expect(c.output()).toContain('second signal: exiting now');
  }, 120_000);
});

describe('a supervisor that signals on the start line', () => {
  // systemd and test harnesses stop a server as soon as it says it serves:
  // by then SIGTERM must drain, never take the default action (death by signal)
  it('SIGTERM sent from the very chunk that carries "tallyd is serving" drains and exits 0, every time', async () => {
    const TRIES = 12;
    for (let i = 0; i < TRIES; i++) {
      const child = spawn(process.execPath, [TALLYD_BIN, 'serve', '--listen', '127.0.0.1:0', '--log-level', 'info', '--log-format', 'json'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let sent = false;
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (!sent && out.includes('"msg":"tallyd is serving"')) {
          sent = true;
          child.kill('SIGTERM');
        }
      });
      child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
      const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
        child.once('exit', (code, signal) => r({ code, signal })),
      );
      expect(sent, out).toBe(true);
      expect(exit, `try ${i + 1}:\n${out}`).toEqual({ code: 0, signal: null });
      expect(out).toContain('drained; final merge taken');
    }
  }, 120_000);
});
