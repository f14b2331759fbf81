/**
 * Reload with real `tallyd serve` processes, real SIGHUP and real HTTP,
 * under load: while clients send events and count what was acknowledged, a
 * new config keeps one metric (continuous), changes one (restarted),
 * removes one and adds one; then a broken config is refused (SIGHUP: logged,
 * POST /v1/reload: 400 with file:line:col) and the running one keeps serving.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAllServes, startServe, waitExit, type ServeProcess } from '../helpers/serve.js';
import { until } from '../helpers/wait.js';
import { http, parseDump, postEvents, sample } from './helpers.js';

const OLD = `shards = 2
metric keep {
  filter = event=load
}
metric change {
  filter = event=load
  group_by = kind
}
metric gone {
  filter = event=load
}
`;

const NEW = `shards = 3
metric keep {
  filter = event = "load"
  description = the same metric, written differently
}
metric change {
  filter = event=load
  fields = n
  group_by = kind
}
metric fresh {
  filter = event=load
}
`;

const BROKEN = `shards = 3
metric keep {
  filter = event=load
}
metric oops {
  filter = event=load AND (
}
`;

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tallyd-reload-'));
});

afterAll(async () => {
  await killAllServes();
  rmSync(dir, { recursive: true, force: true });
});

const BATCH = 20;
const body = JSON.stringify(Array.from({ length: BATCH }, (_, i) => ({ event: 'load', duration: i, fields: { kind: `k${i % 3}`, n: i } })));

interface Sent {
  sentAt: number;
  ackedAt: number;
  accepted: number;
}

/** `clients` loops posting batches until `stop`; every acknowledged batch is kept with when it went and came back. */
function load(url: string, clients: number): { stop: () => Promise<Sent[]>; acked: () => number } {
  const done: Sent[] = [];
  let running = true;
  let clock = 0;
  const loops = Array.from({ length: clients }, async () => {
    while (running) {
      const sentAt = ++clock;
      const r = await postEvents(url, body, 'application/json');
      if (r.status === 200) done.push({ sentAt, ackedAt: ++clock, accepted: (r.json() as { accepted: number }).accepted });
      else if (r.status !== 503) throw new Error(`ingest answered ${r.status}: ${r.text}`);
    }
  });
  return {
    acked: () => done.reduce((s, x) => s + x.accepted, 0),
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return done;
    },
    // the logical clock, to order acks against the reload
    get now() {
      return clock;
    },
  } as { stop: () => Promise<Sent[]>; acked: () => number; now: number };
}

function logged(c: ServeProcess, text: string, times = 1): Promise<void> {
  return until(() => c.output().split(text).length - 1 >= times, 30_000, `the log line "${text}" (${times})`);
}

async function counts(url: string): Promise<Map<string, number>> {
  const rows = parseDump((await http(url, '/v1/stats/dump?fields=count')).text).rows;
  const out = new Map<string, number>();
  for (const [k, r] of rows) if (k.endsWith(' duration')) out.set(k.slice(0, -' duration'.length), Number(r.count));
  return out;
}

describe('reload under load', () => {
  it('keeps the unchanged metric continuous, restarts the changed one, drops the removed one, starts the added one; a broken config is refused', async () => {
    const conf = join(dir, 'reload.conf');
    writeFileSync(conf, OLD);
    const c = await startServe(['--config', conf]);
    const l = load(c.url, 4) as ReturnType<typeof load> & { now: number };
    await until(() => l.acked() >= 2000, 60_000, 'load before the reload');

    writeFileSync(conf, NEW);
    const hupAt = l.now;
    process.kill(c.pid, 'SIGHUP');
    await logged(c, '"msg":"config reloaded"');
    const reloadedAt = l.now;
    expect(c.output()).toMatch(/"metric":"change"[^\n]*restarts from zero/);
    expect(c.output()).toMatch(/"settings":\["shards"\][^\n]*only after a restart/);
    await until(() => l.acked() >= 6000, 60_000, 'load after the reload');

    // a broken config: refused, by SIGHUP and by POST /v1/reload, while the load goes on
    writeFileSync(conf, BROKEN);
    process.kill(c.pid, 'SIGHUP');
    await logged(c, 'config reload refused');
    expect(c.output()).toMatch(/config reload refused, the running config keeps serving: [^\n]*reload\.conf:6:\d+:/);
    const refused = await http(c.url, '/v1/reload', { method: 'POST' });
    expect(refused.status).toBe(400);
    const err = refused.json() as { error: string; message: string };
    expect(err.error).toBe('ERR_CONFIG_FILTER');
    expect(err.message).toMatch(/reload\.conf:6:\d+: /);
    const n = l.acked();
    await until(() => l.acked() >= n + 2000, 60_000, 'load after the refused reload');

    const sent = await l.stop();
    const acked = sent.reduce((s, x) => s + x.accepted, 0);
    const ackedAfter = (t: number) => sent.filter((x) => x.ackedAt > t).reduce((s, x) => s + x.accepted, 0);
    const sentAfter = (t: number) => sent.filter((x) => x.sentAt > t).reduce((s, x) => s + x.accepted, 0);

    const got = await counts(c.url);
    expect(got.get('keep')).toBe(acked);
    expect(got.has('gone')).toBe(false);
    for (const name of ['change', 'fresh']) {
      const v = got.get(name) as number;
      // restarted/started at the reload: at most what was acknowledged after SIGHUP, at least what was sent after it took effect
      expect(v, name).toBeLessThanOrEqual(ackedAfter(hupAt));
      expect(v, name).toBeGreaterThanOrEqual(sentAfter(reloadedAt));
      expect(v, name).toBeLessThan(acked);
    }
    const listed = (await http(c.url, '/v1/metrics')).json() as { name: string }[];
    expect(listed.map((m) => m.name).sort()).toEqual(['change', 'fresh', 'keep']);

    // fixed again, through the API: nothing changes, the shards setting still waits for a restart
    writeFileSync(conf, NEW);
    const ok = await http(c.url, '/v1/reload', { method: 'POST' });
    expect(ok.status).toBe(200);
    expect(ok.json()).toMatchObject({ status: 'reloaded', unchanged: ['keep', 'change', 'fresh'], changed: [], removed: [], added: [], restartNeeded: ['shards'] });
    expect((await counts(c.url)).get('keep')).toBe(acked);

    const m = (await http(c.url, '/metrics')).text;
    expect(sample(m, 'tallyd_config_reloads_total', 'outcome="reloaded"')).toBe(2);
    expect(sample(m, 'tallyd_config_reloads_total', 'outcome="refused"')).toBe(2);
    expect(sample(m, 'tallyd_shards')).toBe(2);
    process.kill(c.pid, 'SIGTERM');
    expect((await waitExit(c, 60_000)).code).toBe(0);
  });

  it('applies trusted_networks live', async () => {
    const conf = join(dir, 'live.conf');
    writeFileSync(conf, 'metric keep {\n  filter = event=load\n}\n');
    const c = await startServe(['--config', conf]);
    expect((await http(c.url, '/metrics')).status).toBe(200);
    writeFileSync(conf, 'trusted_networks = 10.0.0.0/8\nmetric keep {\n  filter = event=load\n}\n');
    const r = await http(c.url, '/v1/reload', { method: 'POST' });
    expect(r.status).toBe(200);
    expect(r.json()).toMatchObject({ applied: ['trusted_networks'], restartNeeded: [] });
    expect((await http(c.url, '/metrics')).status).toBe(401);
    process.kill(c.pid, 'SIGTERM');
    expect((await waitExit(c, 60_000)).code).toBe(0);
  });

  it('without --config a reload has nothing to read: said clearly, and SIGHUP does not end the process', async () => {
    const c = await startServe([]);
    process.kill(c.pid, 'SIGHUP');
    await logged(c, 'serving without --config');
    expect((await http(c.url, '/readyz')).status).toBe(200);
    const r = await http(c.url, '/v1/reload', { method: 'POST' });
    expect(r.status).toBe(409);
    expect(r.json()).toMatchObject({ error: 'ERR_RELOAD_NO_CONFIG' });
    const m = (await http(c.url, '/metrics')).text;
    expect(sample(m, 'tallyd_config_reloads_total', 'outcome="no_config"')).toBe(2);
    process.kill(c.pid, 'SIGTERM');
    expect((await waitExit(c, 60_000)).code).toBe(0);
  });
});
