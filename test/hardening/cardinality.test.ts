/**
 * Cardinality and memory (issue item 4): a producer that sends a new user
 * name in every event, 1,000,000 of them, into a real `tallyd serve` with a
 * small max_sub_metrics. The cap and `__overflow__` hold, the overflow shows
 * in tallyd_sub_metrics_overflow_total{metric}, and the resident memory of
 * the server process stays flat: its growth from warm-up to the end is
 * bounded by a generous factor (no timing involved).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, parseDump, sample } from '../server/helpers.js';
import { rssOf, serve, type ServeChild } from './helpers.js';

const CAP = 1000;
const TOTAL = 1_000_000;
const BATCH = 10_000;
const CONFIG = `
shards = 2
max_sub_metrics = ${CAP}
metric users {
  filter = event=login
  group_by = user
}
metric domain_user {
  filter = event=login
  group_by = user:discrete:%{domain} user
}
metric logins {
  filter = event=login
}
`;

const MIB = 1024 * 1024;

describe('a new user name in every event', () => {
  let dir: string;
  let child: ServeChild | undefined;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tallyd-cardinality-'));
    writeFileSync(join(dir, 'tallyd.conf'), CONFIG);
  });
  afterAll(async () => {
    // SIGKILL, and wait until it is gone: no child outlives its test file
    child?.kill();
    if (child !== undefined) await child.exited;
    rmSync(dir, { recursive: true, force: true });
  });

  it(`${TOTAL} unique users, max_sub_metrics ${CAP}: the cap holds, the overflow is counted, memory stays flat`, async () => {
    child = await serve(['--config', join(dir, 'tallyd.conf')]);
    const c = child;
    if (rssOf(c.pid) === null) console.warn('no /proc on this machine: resident memory is not checked');
    const packr = new Packr({ useRecords: false });
    const agent = new Agent({ keepAlive: true, maxSockets: 2 });
    const post = (body: Buffer) =>
      new Promise<{ status: number; accepted: number }>((resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', port: c.port, path: '/v1/events', method: 'POST', agent, headers: { 'content-type': 'application/msgpack', 'content-length': body.length } },
          (res) => {
            let t = '';
            res.on('data', (d: Buffer) => (t += d.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, accepted: res.statusCode === 200 ? (JSON.parse(t).accepted as number) : 0 }));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    let next = 0;
    let accepted = 0;
    const rss: { events: number; bytes: number }[] = [];
    const sendUpTo = async (limit: number): Promise<void> => {
      const worker = async (): Promise<void> => {
        while (next < limit) {
          const base = next;
          next += BATCH;
          const events = Array.from({ length: BATCH }, (_, i) => ({ event: 'login', fields: { user: `user${base + i}@d${(base + i) % 7}.example` } }));
          const body = packr.pack(events);
          for (;;) {
            const r = await post(body);
            if (r.status === 200) {
              accepted += r.accepted;
              break;
            }
            expect(r.status, 'only backpressure may refuse a batch').toBe(503);
            await new Promise((res) => setTimeout(res, 20));
          }
        }
      };
      await Promise.all([worker(), worker()]);
      // a scrape flushes every shard: the state is merged when memory is read
      expect((await http(c.url, '/metrics')).status).toBe(200);
      const b = rssOf(c.pid);
      if (b !== null) rss.push({ events: next, bytes: b });
    };

    // warm-up: the cap fills, the overflow children exist, the heaps have grown to their working size
    await sendUpTo(TOTAL / 5);
    for (let k = 2; k <= 5; k++) await sendUpTo((TOTAL / 5) * k);
    agent.destroy();
    expect(accepted).toBe(TOTAL);

    const m = (await http(c.url, '/metrics')).text;
    const d = parseDump((await http(c.url, '/v1/stats/dump?fields=count')).text);
    // every event is counted once at the root and once below it
    expect(Number(d.rows.get('logins duration')?.count)).toBe(TOTAL);
    expect(Number(d.rows.get('users duration')?.count)).toBe(TOTAL);
    let children = 0;
    let inChildren = 0;
    for (const [key, row] of d.rows) {
      if (!key.startsWith('users_') || key === 'users___overflow__ duration') continue;
      children++;
      inChildren += Number(row.count);
    }
    const overflowRow = Number(d.rows.get('users___overflow__ duration')?.count);
    expect(children).toBeLessThanOrEqual(CAP);
    expect(inChildren + overflowRow).toBe(TOTAL);
    expect(overflowRow).toBeGreaterThanOrEqual(TOTAL - CAP);
    // the overflow is visible per metric
    expect(sample(m, 'tallyd_sub_metrics_overflow_total', 'metric="users"')).toBe(overflowRow);
    expect(sample(m, 'tallyd_sub_metrics_overflow_total', 'metric="domain_user"')).toBeGreaterThanOrEqual(TOTAL - CAP);
    expect(sample(m, 'tallyd_sub_metrics', 'metric="users"')).toBeLessThanOrEqual(CAP);
    expect(sample(m, 'tallyd_sub_metrics', 'metric="domain_user"')).toBeLessThanOrEqual(CAP);

    if (rss.length > 0) {
      const warm = rss[0] as { bytes: number };
      const end = rss[rss.length - 1] as { bytes: number };
      const figures = rss.map((r) => `${r.events}: ${(r.bytes / MIB).toFixed(0)} MiB`).join(', ');
      console.log(`[hardening] resident memory of tallyd serve by events sent: ${figures}`);
      // 800,000 more unique users after warm-up: flat, within a generous factor
      expect(end.bytes, figures).toBeLessThan(warm.bytes * 1.5 + 64 * MIB);
    }
  }, 120_000);
});
