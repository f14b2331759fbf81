/**
 * remote_write against a real receiver on 127.0.0.1 (docs/scaling.md), from a
 * real server with real shards: what is pushed, with which headers; retries
 * with backoff on 5xx, 429 (Retry-After), dropped connections and timeouts;
 * a 4xx dropped and counted, not retried; a bounded queue; the final push
 * after the drain; a reload that changes the block.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startServer } from '../../src/server/start.js';
import { QUEUE_MAX } from '../../src/remote/writer.js';
import { until } from '../helpers/wait.js';
import { API_CONFIG, ev, http, makeConfig, postEvents, sample, start, stop, TRANSPORTS, type Running } from '../server/helpers.js';
import { Receiver, valueOf, type Received } from './receiver.js';

const uws = TRANSPORTS[0] as (typeof TRANSPORTS)[number];
let running: Running | undefined;
let receivers: Receiver[] = [];

afterEach(async () => {
  await stop(running);
  running = undefined;
  for (const r of receivers) await r.close();
  receivers = [];
});

async function receiver(): Promise<Receiver> {
  const r = await new Receiver().listen();
  receivers.push(r);
  return r;
}

function block(url: string, extra = 'interval = 200ms'): string {
  return `remote_write rw {\n  url = ${url}\n  ${extra.split(';').join('\n  ')}\n}\n`;
}

async function serve(text: string): Promise<Running> {
  running = await start(uws, {}, text);
  return running;
}

async function send(r: Running, test: string, n: number): Promise<void> {
  const batch = Array.from({ length: n }, (_, i) => ev(test, { duration: 1000 + i }, { bytes: i }));
  const res = await postEvents(r.url, JSON.stringify(batch), 'application/json');
  expect(res.status, res.text).toBe(200);
}

const self = async (r: Running, name: string, labels = 'remote="rw"'): Promise<number> => sample((await http(r.url, '/metrics')).text, name, labels) ?? NaN;

describe('remote_write', () => {
  it('pushes counters and native histograms every interval, with the protocol headers, the bearer token and external_labels', async () => {
    const rc = await receiver();
    const r = await serve(`external_labels = host=mx1 dc=eu\n${API_CONFIG}\n${block(rc.url, 'interval = 200ms;bearer_token = tok3n')}`);
    await send(r, 'pushed', 120);
    await until(() => valueOf(rc.accepted().at(-1)?.series ?? [], 'dovecot_by_test_total', { test: 'pushed', host: 'mx1', dc: 'eu' }) === 120, 10_000, 'a push carrying the 120 events');
    const last = rc.accepted().at(-1) as Received;
    expect(last.headers['content-encoding']).toBe('snappy');
    expect(last.headers['content-type']).toBe('application/x-protobuf');
    expect(last.headers['x-prometheus-remote-write-version']).toBe('0.1.0');
    expect(last.headers.authorization).toBe('Bearer tok3n');
    const labels = { test: 'pushed', host: 'mx1', dc: 'eu' };
    expect(valueOf(last.series, 'dovecot_by_test_bytes_total', labels)).toBe((119 * 120) / 2);
    // the native histograms: every event in the duration's and the field's
    expect(valueOf(last.series, 'dovecot_by_test_duration_seconds', labels)).toBe(120);
    expect(valueOf(last.series, 'dovecot_by_test_bytes', labels)).toBe(120);
    const h = last.series.find((s) => s.labels.some((l) => l.value === 'dovecot_by_test_duration_seconds'))?.histograms?.[0] as Record<string, number>;
    expect(h.schema).toBe(8);
    expect(h.sum).toBeCloseTo((1000 * 120 + (119 * 120) / 2) / 1e6, 9);
    for (const w of rc.accepted()) {
      for (const s of w.series) {
        // labels sorted, external ones on every series
        const names = s.labels.map((l) => l.name);
        expect(names).toEqual([...names].sort());
        expect(s.labels).toContainEqual({ name: 'host', value: 'mx1' });
        const ts = s.samples?.[0]?.timestamp ?? (s.histograms?.[0] as { timestamp: number }).timestamp;
        expect(Math.abs(ts - w.at)).toBeLessThan(5_000);
      }
    }
    // pushes follow the interval, and a scrape has no external label
    await until(() => rc.accepted().length >= 3, 10_000, 'three pushes');
    const scrape = (await http(r.url, '/metrics')).text;
    expect(scrape).not.toMatch(/host="mx1"/);
    expect(sample(scrape, 'tallyd_remote_write_samples_sent_total', 'remote="rw"')).toBeGreaterThan(0);
    expect(sample(scrape, 'tallyd_remote_write_queue_length', 'remote="rw"')).toBeDefined();
  }, 30_000);

  it('retries 5xx and dropped connections with a doubling backoff, then delivers the same write', async () => {
    const rc = await receiver();
    rc.script = [503, 'drop', 500];
    const r = await serve(`${API_CONFIG}\n${block(rc.url, 'interval = 5s')}`);
    await send(r, 'retried', 10);
    // the first push happens at the first interval; its three failures wait 250, 500, 1000 ms
    await until(() => rc.accepted().length >= 1, 20_000, 'the write delivered after three failures');
    const answered = rc.got.map((g) => g.at);
    expect(rc.got.map((g) => g.status)).toEqual([503, 500, 200]);
    // the 'drop' attempt is not in rc.got (no answer); the gap from 503 to 500 spans two backoffs (250 + 500 ms)
    expect((answered[1] as number) - (answered[0] as number)).toBeGreaterThanOrEqual(700);
    expect((answered[2] as number) - (answered[1] as number)).toBeGreaterThanOrEqual(950);
    const samples = rc.accepted()[0]?.series.length as number;
    expect(valueOf(rc.accepted()[0]?.series ?? [], 'dovecot_by_test_total', { test: 'retried' })).toBe(10);
    expect(await self(r, 'tallyd_remote_write_samples_failed_total')).toBe(3 * samples);
    expect(await self(r, 'tallyd_remote_write_samples_retried_total')).toBe(3 * samples);
    expect(await self(r, 'tallyd_remote_write_samples_sent_total')).toBe(samples);
    expect(await self(r, 'tallyd_remote_write_requests_total')).toBe(4);
    expect(await self(r, 'tallyd_remote_write_samples_dropped_total', 'remote="rw",reason="rejected"')).toBe(0);
  }, 30_000);

  it("honours a 429's Retry-After", async () => {
    const rc = await receiver();
    rc.script = [{ status: 429, retryAfter: '2' }];
    await serve(`${API_CONFIG}\n${block(rc.url, 'interval = 5s')}`);
    await until(() => rc.accepted().length >= 1, 20_000, 'the write after the 429');
    expect(rc.got.map((g) => g.status)).toEqual([429, 200]);
    expect((rc.got[1] as Received).at - (rc.got[0] as Received).at).toBeGreaterThanOrEqual(1_950);
  }, 30_000);

  it('a 4xx is dropped and counted, not retried; the next interval pushes again', async () => {
    const rc = await receiver();
    rc.script = [400];
    const r = await serve(`${API_CONFIG}\n${block(rc.url, 'interval = 300ms')}`);
    await until(() => rc.accepted().length >= 1, 10_000, 'the push after the refused one');
    const first = rc.got[0] as Received;
    expect(first.status).toBe(400);
    expect(await self(r, 'tallyd_remote_write_samples_dropped_total', 'remote="rw",reason="rejected"')).toBe(first.series.length);
    expect(await self(r, 'tallyd_remote_write_samples_failed_total')).toBe(0);
    expect(await self(r, 'tallyd_remote_write_samples_retried_total')).toBe(0);
    // what came next is a new push (a later snapshot), not the refused one again
    const ts = (w: Received): number => w.series[0]?.samples?.[0]?.timestamp ?? 0;
    expect(ts(rc.got[1] as Received)).toBeGreaterThan(ts(first));
  }, 30_000);

  it('a timeout is a failure that is retried', async () => {
    const rc = await receiver();
    rc.script = ['hang'];
    const r = await serve(`${API_CONFIG}\n${block(rc.url, 'interval = 5s;timeout = 300ms')}`);
    await until(() => rc.accepted().length >= 1, 20_000, 'the write after the timeout');
    expect(await self(r, 'tallyd_remote_write_requests_total')).toBe(2);
    expect(await self(r, 'tallyd_remote_write_samples_failed_total')).toBe(rc.accepted()[0]?.series.length);
  }, 30_000);

  it('keeps at most QUEUE_MAX writes while the receiver is down, drops the oldest, and catches up with the newest state', async () => {
    const rc = await receiver();
    rc.then = 'drop';
    const r = await serve(`${API_CONFIG}\n${block(rc.url, 'interval = 100ms')}`);
    await until(async () => (await self(r, 'tallyd_remote_write_samples_dropped_total', 'remote="rw",reason="queue_full"')) > 0, 20_000, 'the queue to overflow');
    const len = await self(r, 'tallyd_remote_write_queue_length');
    expect(len).toBeLessThanOrEqual(QUEUE_MAX);
    expect(len).toBeGreaterThan(1);
    await send(r, 'caught_up', 7);
    rc.then = 200;
    // the backoff is at most a few seconds here; the queue empties, the newest write has the 7 events
    await until(async () => (await self(r, 'tallyd_remote_write_queue_length')) <= 1 && valueOf(rc.accepted().at(-1)?.series ?? [], 'dovecot_by_test_total', { test: 'caught_up' }) === 7, 30_000, 'the queue to drain');
    expect(await self(r, 'tallyd_remote_write_samples_failed_total')).toBeGreaterThan(0);
  }, 60_000);

  it('the drain pushes the final state: events sent just before the stop reach the receiver', async () => {
    const rc = await receiver();
    const r = await serve(`${API_CONFIG}\n${block(rc.url, 'interval = 1h')}`);
    await send(r, 'final', 33);
    expect(rc.got).toEqual([]);
    await stop(r);
    running = undefined;
    expect(rc.accepted().length).toBe(1);
    expect(valueOf(rc.accepted()[0]?.series ?? [], 'dovecot_by_test_total', { test: 'final' })).toBe(33);
  }, 30_000);

  it('a reload that changes the block sends to the new URL from then on; the writer\'s counters continue', async () => {
    const a = await receiver();
    const b = await receiver();
    let text = `${API_CONFIG}\n${block(a.url, 'interval = 200ms')}`;
    const config = makeConfig({}, text);
    const server = await startServer({ config, version: '0.0.0-test', reloadConfig: () => makeConfig({}, text) });
    running = { server, url: `http://127.0.0.1:${server.listener.port}`, ws: '', host: '127.0.0.1', port: server.listener.port };
    const r = running;
    await send(r, 'moved', 5);
    await until(() => a.accepted().length >= 1, 10_000, 'a write to the first URL');
    const sentBefore = await self(r, 'tallyd_remote_write_samples_sent_total');
    // unchanged: the same writer keeps going
    expect((await server.reload('http')).status).toBe('reloaded');
    text = `${API_CONFIG}\n${block(b.url, 'interval = 200ms')}`;
    expect((await server.reload('http')).status).toBe('reloaded');
    const aCount = a.got.length;
    await until(() => b.accepted().length >= 2, 10_000, 'writes to the new URL');
    expect(valueOf(b.accepted().at(-1)?.series ?? [], 'dovecot_by_test_total', { test: 'moved' })).toBe(5);
    // at most the write that was on the wire still reached the old URL
    expect(a.got.length).toBeLessThanOrEqual(aCount + 1);
    expect(await self(r, 'tallyd_remote_write_samples_sent_total')).toBeGreaterThan(sentBefore);
    // a block removed by a reload stops pushing
    text = API_CONFIG;
    expect((await server.reload('http')).status).toBe('reloaded');
    const bCount = b.got.length;
    await new Promise((res) => setTimeout(res, 700));
    expect(b.got.length).toBeLessThanOrEqual(bCount + 1);
  }, 30_000);
});
