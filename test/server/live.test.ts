/**
 * `GET /v1/live` (the event stream of the page at `/`) over both
 * transports, read by a real HTTP client: what it streams reflects what was
 * sent, its rates are true time windows, rejections show up with their
 * reasons, and the sampler stops with the last client.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../helpers/wait.js';
import { ev, http, postEvents, start, stop, TRANSPORTS, type Running } from './helpers.js';
import { SseClient } from './sse.js';

const JSON_CT = 'application/json';

function series(point: any, metric: string, name: string): any {
  const m = point.metrics.find((x: any) => x.name === metric);
  if (m === undefined) return undefined;
  return name === metric ? m.total : m.subs.find((s: any) => s.name === name);
}

describe.each(TRANSPORTS)('the live stream over $name', (transport) => {
  let main: Running;
  const clients: SseClient[] = [];
  const open = async (): Promise<SseClient> => {
    const c = await SseClient.open(main.url);
    clients.push(c);
    return c;
  };
  beforeAll(async () => {
    main = await start(transport);
  });
  afterAll(async () => {
    await stop(main);
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });

  it('is an event stream: an init event, then a point every second', async () => {
    const c = await open();
    expect(c.status).toBe(200);
    expect(c.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    await until(() => c.all('point').length >= 2, 10_000, 'two points');
    const [init] = c.all('init');
    expect(init.info).toMatchObject({ version: '0.0.0-test', shards: 1, metrics: 3, readiness: 'ready', configFile: null });
    expect(init.info.transport).toContain(transport.name === 'uws' ? 'uWebSockets.js' : 'native-free');
    expect(init.windowSeconds).toBe(60);
    expect(init.topSubMetrics).toBe(20);
    const pts = c.points();
    const last = pts[pts.length - 1];
    expect(last.t).toBeGreaterThan(pts[pts.length - 2].t);
    expect(last.metrics.map((m: any) => m.name)).toEqual(['by_test', 'imap_command', 'deliveries']);
    expect(last.shards).toHaveLength(1);
    expect(last.shards[0]).toMatchObject({ index: 0, restarts: 0 });
  });

  it('shows what was sent: counts, and the duration percentiles of the last minute per sub-metric', async () => {
    const c = await open();
    const events = Array.from({ length: 100 }, (_, i) => ev('live_pct', { duration: i + 1 }));
    expect((await postEvents(main.url, JSON.stringify(events), JSON_CT)).status).toBe(200);
    await until(() => series(c.last() ?? { metrics: [] }, 'by_test', 'by_test_live_pct')?.count === 100, 10_000, 'the sub-metric in a point');
    const s = series(c.last(), 'by_test', 'by_test_live_pct');
    // exact for integers below 2048: nearest rank of 1..100
    expect([s.p50, s.p95, s.p99]).toEqual([50, 95, 99]);
    expect(series(c.last(), 'by_test', 'by_test').count).toBeGreaterThanOrEqual(100);
  });

  it('gives true window rates: events/s falls to 0 once sending stops, while the counts stay', async () => {
    const c = await open();
    // the first point is the window's start
    await until(() => c.points().length >= 1, 10_000, 'a first point');
    const startAccepted = c.points()[0].accepted;
    let sent = 0;
    const stopAt = Date.now() + 2500;
    while (Date.now() < stopAt) {
      const batch = Array.from({ length: 20 }, () => ev('live_rate'));
      expect((await postEvents(main.url, JSON.stringify(batch), JSON_CT)).status).toBe(200);
      sent += batch.length;
      await new Promise((r) => setTimeout(r, 50));
    }
    await until(() => series(c.last(), 'by_test', 'by_test_live_rate')?.count === sent, 10_000, 'every event counted');
    const busy = c.points().find((p) => series(p, 'by_test', 'by_test_live_rate')?.eps > 0);
    expect(busy, 'a point while events flowed has events/s > 0').toBeDefined();
    expect(busy.eps.s1).toBeGreaterThan(0);
    // within a second of the last event the 1-s rate is 0; the 10-s rate within 10 s; the counts stay
    await until(() => c.last().eps.s1 === 0 && series(c.last(), 'by_test', 'by_test_live_rate').eps === 0, 10_000, 'the 1-s rate at 0');
    const quiet = c.last();
    expect(series(quiet, 'by_test', 'by_test_live_rate').count).toBe(sent);
    // the minute window still holds every event sent: rate × window length = events in it
    expect(quiet.eps.s60 * quiet.span).toBeCloseTo(quiet.accepted - startAccepted, 6);
    expect(quiet.accepted - startAccepted).toBe(sent);
    await until(() => c.last().eps.s10 === 0, 20_000, 'the 10-s rate at 0');
    const later = c.last();
    expect(later.accepted).toBe(quiet.accepted);
    expect(series(later, 'by_test', 'by_test_live_rate').count).toBe(sent);
    expect(later.eps.s60).toBeGreaterThan(0);
  });

  it('shows rejected events by reason, and the rejection among the recent warnings', async () => {
    const c = await open();
    await until(() => c.points().length >= 1, 10_000, 'a first point');
    const before = c.last().rejected.missing_name ?? 0;
    const r = await postEvents(main.url, JSON.stringify([ev('live_rej'), { fields: { test: 'live_rej' } }, { fields: {} }]), JSON_CT);
    expect(r.json()).toMatchObject({ accepted: 1, rejected: 2 });
    await until(() => (c.last().rejected.missing_name ?? 0) === before + 2, 10_000, 'the rejections in a point');
    expect(c.last().rejected60.missing_name).toBe(2);
    const recent = c.all('point').filter((p) => p.recent !== undefined).pop()?.recent ?? c.all('init')[0].recent;
    const entry = recent.find((e: any) => e.message.includes('2 of 3 events rejected'));
    expect(entry).toMatchObject({ level: 'warn', source: 'ingest' });
    expect(entry.message).toContain('HTTP from 127.0.0.1');
    expect(entry.message).toContain('missing_name');
    // a page opened now gets the recent list in its init
    const late = await open();
    await until(() => late.all('init').length === 1, 10_000, 'an init');
    expect(late.all('init')[0].recent.some((e: any) => e.message.includes('2 of 3 events rejected'))).toBe(true);
  });

  it('samples only while a client is connected', async () => {
    const c = await open();
    await until(() => c.points().length >= 1, 10_000, 'a first point');
    expect(main.server.app.live.clientCount).toBeGreaterThanOrEqual(1);
    for (const x of clients.splice(0)) x.close();
    await until(() => main.server.app.live.clientCount === 0, 10_000, 'no live client left');
    // a new client starts a new history: its init has at most the point taken on connecting
    const again = await open();
    await until(() => again.all('init').length === 1 || again.all('point').length > 0, 10_000, 'an event');
    expect(again.all('init')[0]?.points.length ?? 0).toBeLessThanOrEqual(1);
  });

  it('serves the page, its script and uPlot from tallyd itself', async () => {
    const page = await http(main.url, '/');
    expect(page.text).toContain('<script src="/assets/uPlot.iife.min.js"></script>');
    expect(page.text).toContain('<script src="/assets/live.js"></script>');
    for (const [path, type, marker] of [
      ['/assets/uPlot.iife.min.js', 'text/javascript; charset=utf-8', 'uPlot'],
      ['/assets/uPlot.min.css', 'text/css; charset=utf-8', '.uplot'],
      ['/assets/live.js', 'text/javascript; charset=utf-8', "new EventSource('/v1/live')"],
      ['/assets/live.css', 'text/css; charset=utf-8', '.totals'],
    ] as const) {
      const r = await http(main.url, path);
      expect(r.status, path).toBe(200);
      expect(r.headers['content-type'], path).toBe(type);
      expect(r.text, path).toContain(marker);
    }
    const none = await http(main.url, '/assets/nope.js');
    expect(none.status).toBe(404);
    expect(none.json().error).toBe('ERR_HTTP_NOT_FOUND');
  });
});

describe.each(TRANSPORTS)('the live stream and the server over $name', (transport) => {
  it('shows a shard death among the recent errors, and the restart in the shard figures', async () => {
    const r = await start(transport);
    const c = await SseClient.open(r.url);
    try {
      await until(() => c.points().length >= 1, 10_000, 'a first point');
      const rt = r.server.runtime;
      let victim = rt.piscina.threads.find((t) => t.threadId === rt.threadIds[0]);
      await until(() => (victim = rt.piscina.threads.find((t) => t.threadId === rt.threadIds[0])) !== undefined, 20_000, "shard 0's worker");
      await victim?.terminate();
      await until(() => c.last().shards[0].restarts === 1, 20_000, 'the restart in a point');
      const recent = c.all('point').filter((p) => p.recent !== undefined).pop()?.recent ?? [];
      const death = recent.find((e: any) => e.source === 'shard');
      expect(death).toMatchObject({ level: 'error', count: 1 });
      expect(death.message).toMatch(/^shard 0 worker died \(.*\); restarting it$/);
    } finally {
      c.close();
      await stop(r);
    }
  });

  it('ends the open streams when the server stops, and the stop completes', async () => {
    const r = await start(transport);
    const c = await SseClient.open(r.url);
    await until(() => c.points().length >= 1, 10_000, 'a first point');
    await stop(r);
    await until(() => c.ended, 10_000, 'the stream to end');
    expect(r.server.app.live.clientCount).toBe(0);
  });
});

describe.each(TRANSPORTS)('the live stream outside trusted_networks over $name', (transport) => {
  let outside: Running;
  beforeAll(async () => {
    outside = await start(transport, { trusted_networks: '10.0.0.0/8' });
  });
  afterAll(async () => {
    await stop(outside);
  });

  it('answers 401 on /v1/live and the assets', async () => {
    for (const path of ['/v1/live', '/assets/live.js', '/assets/uPlot.iife.min.js']) {
      const r = await http(outside.url, path);
      expect(r.status, path).toBe(401);
      expect(r.json().error).toBe('ERR_HTTP_UNAUTHORIZED');
    }
    expect(outside.server.app.live.clientCount).toBe(0);
  });
});
