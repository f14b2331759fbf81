/**
 * state_file with real `tallyd serve` processes and real signals: N events,
 * SIGTERM, a new process on the same state file, M events — the dump equals
 * one uninterrupted run of N+M events, cell for cell, and no counter of
 * /metrics goes back. Bad state files are moved aside, logged and counted;
 * a metric whose definition changed is not restored.
 */
import { existsSync, mkdirSync, mkdtempSync, statSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pack } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAllServes, startServe, waitExit, type ServeProcess } from '../helpers/serve.js';
import { until } from '../helpers/wait.js';
import { http, parseDump, postEvents, sample } from './helpers.js';

const METRICS = `
metric all_events {
  filter = event=*
  fields = n
}
metric by_kind {
  filter = event=load
  group_by = kind
}
metric by_size {
  filter = event=load
  fields = n
  group_by = kind n:exponential:1:3:2
}
`;

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tallyd-state-'));
});

afterAll(async () => {
  await killAllServes();
  rmSync(dir, { recursive: true, force: true });
});

/** Event i of the one deterministic stream. */
function event(i: number): Record<string, unknown> {
  return { event: i % 11 === 0 ? 'other' : 'load', duration: (i * 7919) % 5000, fields: { kind: `k${(i * 31) % 13}`, n: (i * 104729) % 300 } };
}

async function send(url: string, from: number, to: number): Promise<void> {
  for (let a = from; a < to; a += 250) {
    const batch = [];
    for (let i = a; i < Math.min(to, a + 250); i++) batch.push(event(i));
    const r = await postEvents(url, pack(batch), 'application/msgpack');
    expect(r.status, r.text).toBe(200);
  }
}

function writeConfig(name: string, extra: string, metrics = METRICS): string {
  const p = join(dir, name);
  writeFileSync(p, `shards = 2\n${extra}\n${metrics}`);
  return p;
}

async function dump(url: string): Promise<string> {
  const r = await http(url, '/v1/stats/dump');
  expect(r.status).toBe(200);
  return r.text;
}

async function term(c: ServeProcess): Promise<void> {
  process.kill(c.pid, 'SIGTERM');
  expect((await waitExit(c, 60_000)).code).toBe(0);
}

const COUNTERS = ['dovecot_all_events_total', 'tallyd_events_accepted_total', 'tallyd_events_received_total'];

describe('state_file across a restart', () => {
  it('N events, SIGTERM, restart, M events: the dump equals one run of N+M, and counters never go back', async () => {
    const N = 3100;
    const M = 1900;
    const stateFile = join(dir, 'restart.state');
    const conf = writeConfig('restart.conf', `state_file = ${stateFile}`);

    const a = await startServe(['--config', conf]);
    expect(a.output()).toContain('no state file yet');
    await send(a.url, 0, N);
    const before = (await http(a.url, '/metrics')).text;
    await term(a);
    expect(existsSync(stateFile)).toBe(true);
    expect(a.output()).toContain('state saved');

    const b = await startServe(['--config', conf]);
    expect(b.output()).toContain('state restored');
    const restored = (await http(b.url, '/metrics')).text;
    for (const name of COUNTERS) {
      expect(sample(restored, name), name).toBe(sample(before, name));
    }
    expect(sample(restored, 'tallyd_state_restored_metrics')).toBe(3);
    await send(b.url, N, N + M);
    const afterRestart = await dump(b.url);
    const after = (await http(b.url, '/metrics')).text;
    for (const name of COUNTERS) expect(sample(after, name) as number, name).toBeGreaterThanOrEqual(sample(restored, name) as number);
    await term(b);

    const oneConf = writeConfig('one.conf', '');
    const one = await startServe(['--config', oneConf]);
    await send(one.url, 0, N + M);
    const uninterrupted = await dump(one.url);
    await term(one);

    const x = parseDump(afterRestart);
    const y = parseDump(uninterrupted);
    expect(x.header).toEqual(y.header);
    expect([...x.rows.keys()]).toEqual([...y.rows.keys()]);
    expect(x.rows.size).toBeGreaterThan(20);
    for (const [k, row] of y.rows) expect(x.rows.get(k), k).toEqual(row);
    expect(Number(x.rows.get('all_events duration')?.count)).toBe(N + M);
    // the whole table, in order, byte for byte
    expect(afterRestart).toBe(uninterrupted);
  });

  it('saves every state_interval, and the save-time self-metrics say so', async () => {
    const stateFile = join(dir, 'periodic.state');
    const conf = writeConfig('periodic.conf', `state_file = ${stateFile}\nstate_interval = 1s`);
    const c = await startServe(['--config', conf]);
    await send(c.url, 0, 100);
    await until(async () => (sample((await http(c.url, '/metrics')).text, 'tallyd_state_saves_total') ?? 0) >= 2, 30_000, 'two periodic saves');
    const m = (await http(c.url, '/metrics')).text;
    expect(sample(m, 'tallyd_state_last_save_timestamp_seconds') as number).toBeGreaterThan(Date.now() / 1000 - 60);
    expect(sample(m, 'tallyd_state_save_failures_total')).toBe(0);
    expect(existsSync(stateFile)).toBe(true);
    // killed without a drain: what the last periodic save held is restored
    c.kill();
    await waitExit(c, 30_000);
    const d = await startServe(['--config', conf]);
    const n = sample((await http(d.url, '/metrics')).text, 'dovecot_all_events_total');
    expect(n).toBe(100);
    await term(d);
  });

  it('a metric whose definition changed is not restored (logged); the unchanged ones are', async () => {
    const stateFile = join(dir, 'changed.state');
    const conf = writeConfig('changed.conf', `state_file = ${stateFile}`);
    const a = await startServe(['--config', conf]);
    await send(a.url, 0, 500);
    await term(a);
    // by_kind groups by something else now; all_events is only re-spaced (same canonical filter)
    const changed = METRICS.replace('group_by = kind\n', 'group_by = duration:linear:0:5000:500\n').replace('filter = event=*', 'filter =   event = "*"');
    writeConfig('changed.conf', `state_file = ${stateFile}`, changed);
    const b = await startServe(['--config', conf]);
    const out = b.output();
    expect(out).toContain('a saved metric changed its definition: not restored');
    expect(out).toMatch(/"metric":"by_kind"[^\n]*changed its definition/);
    const rows = parseDump(await dump(b.url)).rows;
    expect(Number(rows.get('all_events duration')?.count)).toBe(500);
    expect(Number(rows.get('by_size duration')?.count)).toBeGreaterThan(0);
    expect(Number(rows.get('by_kind duration')?.count ?? 0)).toBe(0);
    const m = (await http(b.url, '/metrics')).text;
    expect(sample(m, 'tallyd_state_skipped_metrics')).toBe(1);
    await term(b);
  });
});

describe('a bad state file', () => {
  const cases: { name: string; reason: string; spoil: (good: Buffer) => Buffer }[] = [
    { name: 'truncated', reason: 'truncated', spoil: (g) => g.subarray(0, g.length - 100) },
    { name: 'a flipped byte', reason: 'checksum', spoil: (g) => {
      const b = Buffer.from(g);
      const i = Math.floor(b.length / 2);
      b[i] = (b[i] as number) ^ 0x40;
      return b;
    } },
    { name: 'an unknown version', reason: 'unknown_version', spoil: (g) => {
      const b = Buffer.from(g);
      b.writeUInt32LE(99, 8);
      return b;
    } },
    { name: 'not a state file', reason: 'not_a_state_file', spoil: () => Buffer.from('metric all_events {\n  filter = event=*\n}\n') },
  ];
  let good: Buffer;

  beforeAll(async () => {
    const stateFile = join(dir, 'good.state');
    const conf = writeConfig('good.conf', `state_file = ${stateFile}`);
    const c = await startServe(['--config', conf]);
    await send(c.url, 0, 1000);
    await term(c);
    good = readFileSync(stateFile);
  }, 120_000);

  it('a state_file that cannot be read is left in place, logged, counted, and not saved over', async () => {
    const sub = mkdtempSync(join(dir, 'unreadable-'));
    const stateFile = join(sub, 'tallyd.state');
    mkdirSync(stateFile);
    const conf = join(sub, 'tallyd.conf');
    writeFileSync(conf, `shards = 2\nstate_file = ${stateFile}\nstate_interval = 1s\n${METRICS}`);
    const c = await startServe(['--config', conf]);
    expect(c.output()).toContain('the state file cannot be read');
    const m = (await http(c.url, '/metrics')).text;
    expect(sample(m, 'tallyd_state_restore_failures_total', 'reason="unreadable"')).toBe(1);
    await term(c);
    expect(statSync(stateFile).isDirectory()).toBe(true);
    expect(readdirSync(sub).sort()).toEqual(['tallyd.conf', 'tallyd.state']);
    expect(c.output()).not.toContain('the state could not be saved');
  });

  it.each(cases)('$name: tallyd starts from zero, the file is kept aside, the error is logged and counted', async ({ name, reason, spoil }) => {
    const sub = mkdtempSync(join(dir, 'bad-'));
    const stateFile = join(sub, 'tallyd.state');
    const spoiled = spoil(good);
    writeFileSync(stateFile, spoiled);
    const conf = join(sub, 'tallyd.conf');
    writeFileSync(conf, `shards = 2\nstate_file = ${stateFile}\n${METRICS}`);
    const c = await startServe(['--config', conf]);
    const aside = readdirSync(sub).filter((f) => f.startsWith('tallyd.state.bad-'));
    expect(aside, name).toHaveLength(1);
    expect(readFileSync(join(sub, aside[0] as string)).equals(spoiled)).toBe(true);
    expect(existsSync(stateFile)).toBe(false);
    const log = c.output();
    expect(log).toMatch(new RegExp(`"level":50[^\\n]*"reason":"${reason}"[^\\n]*the state file is not restored`));
    const m = (await http(c.url, '/metrics')).text;
    expect(sample(m, 'tallyd_state_restore_failures_total', `reason="${reason}"`)).toBe(1);
    expect(sample(m, 'dovecot_all_events_total')).toBe(0);
    await send(c.url, 0, 10);
    await term(c);
    // the next save is a new, good file; the bad one stays aside
    expect(existsSync(stateFile)).toBe(true);
    expect(readdirSync(sub).filter((f) => f.startsWith('tallyd.state.bad-'))).toHaveLength(1);
  });
});
