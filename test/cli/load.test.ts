/**
 * `tallyd load` against a real server over HTTP and WebSocket: the report's
 * accepted count is what the server's dump counts, runs are bounded and
 * deterministic, failures are clear and set the exit code.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, cliOnDeadPort, parseDump, requireBuild, startTestServer, stopTestServer, type Running } from './helpers.js';

const TOKEN = 'load-test-token';

// `all` counts every event; the others check that the events look like mail traffic
const CONFIG = `
metric all {
  filter = event=*
}
metric imap_command {
  filter = event=imap_command_finished
  fields = net_in_bytes net_out_bytes
  group_by = cmd_name tagged_reply_state
}
metric auth {
  filter = event=auth_request_finished
  group_by = success
}
metric delivery {
  filter = event=mail_delivery_finished
  fields = message_size
}
`;

const REPORT_KEYS = [
  'transport', 'format', 'url', 'connections', 'window', 'batch', 'rate', 'seed',
  'events_sent', 'events_accepted', 'events_rejected', 'events_failed',
  'batches_sent', 'batches_acked', 'busy_refusals', 'errors', 'bytes_sent',
  'elapsed_s', 'accepted_per_s', 'latency_p50_ms', 'latency_p99_ms', 'latency_max_ms',
  'stopped_by', 'first_error',
];

let srv: Running | undefined;
let url = '';

beforeAll(async () => {
  requireBuild();
  srv = await startTestServer(CONFIG, `ingest_token = ${TOKEN}`);
  url = srv.url;
});

afterAll(async () => {
  await stopTestServer(srv);
});

/** Dumps count and sum with -r: what came in since the last call, and zeroed for the next test. */
async function takeDump(): Promise<Map<string, Record<string, string>>> {
  const r = await cli(['stats', 'dump', '-r', '-f', 'count sum', '--url', url]);
  expect(r.code, r.stderr).toBe(0);
  return parseDump(r.stdout).rows;
}

async function load(args: string[]): Promise<{ code: number | null; report: Record<string, unknown>; stderr: string }> {
  const r = await cli(['load', '--url', url, '--token', TOKEN, '--json', ...args], { timeoutMs: 30_000 });
  let report: Record<string, unknown> = {};
  try {
    report = JSON.parse(r.stdout) as Record<string, unknown>;
  } catch {
    throw new Error(`load printed no JSON report (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  return { code: r.code, report, stderr: r.stderr };
}

describe('tallyd load', () => {
  it('over http (msgpack): the accepted count is what the dump shows', async () => {
    await takeDump();
    const { code, report, stderr } = await load(['--events', '20000', '--batch', '500', '--connections', '3']);
    expect(stderr).toBe('');
    expect(code, stderr).toBe(0);
    expect(Object.keys(report)).toEqual(REPORT_KEYS);
    expect(report).toMatchObject({
      transport: 'http',
      format: 'msgpack',
      connections: 3,
      window: null,
      batch: 500,
      events_sent: 20000,
      events_accepted: 20000,
      events_rejected: 0,
      events_failed: 0,
      batches_sent: 40,
      batches_acked: 40,
      errors: 0,
      stopped_by: 'events',
      first_error: null,
    });
    expect(report.accepted_per_s).toBeGreaterThan(0);
    expect(report.latency_p50_ms).toBeGreaterThan(0);
    expect(report.latency_p99_ms as number).toBeGreaterThanOrEqual(report.latency_p50_ms as number);
    expect(report.latency_max_ms as number).toBeGreaterThanOrEqual(report.latency_p99_ms as number);

    const rows = await takeDump();
    expect(rows.get('all duration')?.count).toBe('20000');
    // realistic mail traffic: mostly IMAP commands, some logins and deliveries
    const imap = Number(rows.get('imap_command duration')?.count);
    const auth = Number(rows.get('auth duration')?.count);
    const delivery = Number(rows.get('delivery duration')?.count);
    expect(imap + auth + delivery).toBe(20000);
    expect(imap).toBeGreaterThan(14000);
    expect(auth).toBeGreaterThan(1000);
    expect(delivery).toBeGreaterThan(1000);
    expect(rows.get('imap_command_UID_FETCH_OK duration')).toBeDefined();
    expect(rows.get('auth_yes duration')).toBeDefined();
  });

  it('over ws (json, a short last batch): the accepted count is what the dump shows', async () => {
    const { code, report, stderr } = await load(['--transport', 'ws', '--format', 'json', '--events', '12345', '--batch', '1000', '--connections', '2', '--window', '4']);
    expect(code, stderr).toBe(0);
    expect(report).toMatchObject({
      transport: 'ws',
      format: 'json',
      connections: 2,
      window: 4,
      events_sent: 12345,
      events_accepted: 12345,
      batches_acked: 13,
      errors: 0,
    });
    const rows = await takeDump();
    expect(rows.get('all duration')?.count).toBe('12345');
  });

  it('is deterministic: the same seed sends the same events, over either transport', async () => {
    const a = await load(['--events', '3000', '--seed', '42']);
    expect(a.code, a.stderr).toBe(0);
    const first = await takeDump();
    const b = await load(['--events', '3000', '--seed', '42', '--transport', 'ws']);
    expect(b.code, b.stderr).toBe(0);
    const second = await takeDump();
    expect([...second.entries()]).toEqual([...first.entries()]);
    expect(first.get('all duration')?.count).toBe('3000');
  });

  it('stops after --duration at the --rate asked', async () => {
    const { code, report, stderr } = await load(['--duration', '1', '--rate', '4000', '--batch', '200']);
    expect(code, stderr).toBe(0);
    expect(report.stopped_by).toBe('duration');
    const sent = report.events_sent as number;
    // paced: batches are due at 0, 50, ... 950 ms; none after the second is up (the bound that
    // matters). The run must not be much slower than asked either, but on a busy machine some
    // round trips stall and a late batch may fall past the end: a quarter of the 20 due is the floor
    expect(sent).toBeGreaterThanOrEqual(1000);
    expect(sent).toBeLessThanOrEqual(4000);
    expect(report.elapsed_s).toBeGreaterThanOrEqual(1);
    expect(report.events_accepted).toBe(sent);
    expect((await takeDump()).get('all duration')?.count).toBe(String(sent));
  });

  it('fails clearly: dead port, unbounded run, missing token', async () => {
    const [{ port, result: dead }, unbounded, noToken] = await Promise.all([
      cliOnDeadPort((u) => ['load', '--url', u, '--events', '1000']),
      cli(['load', '--url', url]),
      cli(['load', '--url', url, '--events', '50000', '--batch', '500', '--json']),
    ]);
    expect(dead.code).toBe(1);
    expect(dead.stdout).toBe('');
    expect(dead.stderr).toBe(`tallyd load: cannot reach http://127.0.0.1:${port}: ECONNREFUSED\n`);

    expect(unbounded.code).toBe(2);
    expect(unbounded.stderr).toContain('refusing to run unbounded');

    expect(noToken.code).toBe(1);
    const r = JSON.parse(noToken.stdout) as Record<string, unknown>;
    expect(r.errors).toBeGreaterThan(0);
    expect(r.events_accepted).toBe(0);
    // the first 401 stops the run: it would be every batch's answer
    expect(r.stopped_by).toBe('errors');
    expect(r.events_sent).toBeLessThan(50000);
    expect(r.events_failed).toBe(r.events_sent);
    expect(String(r.first_error)).toContain('401');
    expect(noToken.stderr).toContain('ingest needs "Authorization: Bearer <ingest_token>"');
  });
});

describe('tallyd load --scrapers', () => {
  it('scrapes /metrics from N clients while sending, and reports latency, bytes and series per scrape', async () => {
    const { code, report, stderr } = await load(['--events', '20000', '--rate', '20000', '--scrapers', '3', '--scrape-interval', '100ms']);
    expect(code, stderr).toBe(0);
    expect(report.events_accepted).toBe(20000);
    const s = report.scrape as Record<string, any>;
    expect(s).toMatchObject({ scrapers: 3, interval_s: 0.1, format: 'text', failed: 0 });
    expect(s.scrapes).toBeGreaterThanOrEqual(3);
    expect(s.content_types[0]).toMatch(/^text\/plain; version=0\.0\.4/);
    // what one scrape of the server now holds, counted here the same way
    const body = await (await fetch(`${url}/metrics`)).text();
    const lines = body.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    expect(s.series_max).toBeLessThanOrEqual(lines.length + 64);
    expect(s.series_max).toBeGreaterThan(0);
    expect(s.bytes_max).toBeGreaterThan(0);
    expect(s.latency_max_ms).toBeGreaterThanOrEqual(s.latency_p99_ms);
    expect(s.latency_p99_ms).toBeGreaterThanOrEqual(s.latency_p50_ms);
    await takeDump();
  });

  it('with --events 0 only scrapes, for the duration, in the format asked', async () => {
    const { code, report, stderr } = await load(['--events', '0', '--duration', '1', '--scrapers', '2', '--scrape-interval', '200ms', '--scrape-format', 'openmetrics']);
    expect(code, stderr).toBe(0);
    expect(report.events_sent).toBe(0);
    expect(report.stopped_by).toBe('duration');
    const s = report.scrape as Record<string, any>;
    expect(s.scrapes).toBeGreaterThanOrEqual(4);
    expect(s.failed).toBe(0);
    expect(s.content_types[0]).toMatch(/^application\/openmetrics-text/);
    const body = await (await fetch(`${url}/metrics`, { headers: { accept: 'application/openmetrics-text; version=1.0.0' } })).text();
    // `# EOF` is a comment: not a series. The process metrics (prom-client's
    // handles and requests by type) may differ by a few series between two scrapes;
    // tallyd's own series may not.
    const lines = body.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    const stable = lines.filter((l) => !l.startsWith('nodejs_') && !l.startsWith('process_')).length;
    expect(s.series_max).toBeGreaterThanOrEqual(stable);
    expect(Math.abs(s.series_max - lines.length)).toBeLessThanOrEqual(lines.length - stable);
  });

  it('asks for protobuf and counts the series of whatever type the server answers', async () => {
    const { code, report, stderr } = await load(['--events', '0', '--duration', '0.5', '--scrapers', '1', '--scrape-interval', '100ms', '--scrape-format', 'protobuf']);
    expect(code, stderr).toBe(0);
    const s = report.scrape as Record<string, any>;
    expect(s.failed).toBe(0);
    expect(s.content_types.length).toBeGreaterThan(0);
    expect(s.series_max).toBeGreaterThan(0);
  });

  it('counts failed scrapes and exits 1 when /metrics refuses', async () => {
    const other = await startTestServer(CONFIG, 'trusted_networks = 10.0.0.0/8');
    try {
      const r = await cli(['load', '--url', other.url, '--json', '--events', '0', '--duration', '0.5', '--scrapers', '1', '--scrape-interval', '100ms'], { timeoutMs: 30_000 });
      expect(r.code).toBe(1);
      const s = (JSON.parse(r.stdout) as { scrape: Record<string, any> }).scrape;
      expect(s.failed).toBe(s.scrapes);
      expect(s.first_error).toMatch(/^HTTP 401: 127.0.0.1 is not in trusted/);
    } finally {
      await stopTestServer(other);
    }
  });

  it('refuses --events 0 without a duration, and a bad interval or format', async () => {
    expect((await cli(['load', '--url', url, '--events', '0', '--scrapers', '1'])).code).toBe(2);
    expect((await cli(['load', '--url', url, '--events', '1', '--scrapers', '1', '--scrape-interval', 'soon'])).stderr).toContain('--scrape-interval');
    expect((await cli(['load', '--url', url, '--events', '1', '--scrapers', '1', '--scrape-format', 'xml'])).code).toBe(2);
  });
});
