/**
 * A real Prometheus (Debian's 2.42) scrapes tallyd every 5 seconds on loopback.
 *
 * tallyd starts with a known set of events in it (POSTed before Prometheus
 * starts, so the first scrape already has all of them); through Prometheus'
 * HTTP API the test checks that the target is up without a scrape error,
 * that OpenMetrics 1.0 was negotiated (the family metadata Prometheus keeps:
 * `info` types and units exist only in OpenMetrics), that Prometheus stored
 * every series without complaint, and that PromQL sums over tallyd's
 * families equal what was sent.
 *
 * Peer: `apt-get install prometheus`. Without it the suite is skipped with a
 * message, except with CI set, where it fails.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import {
  Fatal,
  findPeers,
  freePorts,
  httpGet,
  httpPost,
  peerSuite,
  PORT_ATTEMPTS,
  portTaken,
  startChild,
  startTallyd,
  stopChild,
  tail,
  waitFor,
  type Child,
  type Tallyd,
} from './peers.js';

const PACKAGES = 'prometheus';
const peers = findPeers(['prometheus']);

const TALLYD_CONF = `shards = 2

metric imap_command {
  filter = event=imap_command_finished
  fields = bytes_in
  group_by = cmd_name tagged_reply_state
  description = IMAP commands
}

metric auth_request {
  filter = event=auth_request_finished
}

metric imap_cmd_duration {
  filter = event=imap_command_finished
  group_by = cmd_name duration:exponential:1:5:10
}

# the histogram's _sum and _count need the quantized field among the fields
metric imap_out_bytes {
  filter = event=imap_command_finished
  fields = bytes_out
  group_by = bytes_out:linear:0:1000:100
}
`;

interface Sent {
  event: string;
  duration: number;
  fields: Record<string, string | number>;
}

/** A fixed, varied set of events (a small LCG, so every run sends the same). */
function events(): Sent[] {
  let x = 12345;
  const rnd = (n: number): number => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x % n;
  };
  const cmds = ['SELECT', 'FETCH', 'UID FETCH', 'APPEND', 'NOOP', 'LOGOUT', 'unknown'];
  const out: Sent[] = [];
  for (let i = 0; i < 240; i++) {
    const cmd = cmds[rnd(cmds.length)] as string;
    const state = cmd === 'unknown' ? 'BAD' : rnd(10) === 0 ? 'NO' : 'OK';
    const fields: Record<string, string | number> = { cmd_name: cmd, tagged_reply_state: state, bytes_in: rnd(2000) };
    if (i % 37 !== 5) fields['bytes_out'] = rnd(1300); // a few events without the histogram's field
    out.push({ event: 'imap_command_finished', duration: ([5, 50, 500, 5000, 50_000, 500_000][rnd(6)] as number) + rnd(40), fields });
  }
  for (let i = 0; i < 25; i++) out.push({ event: 'auth_request_finished', duration: 100 + rnd(5_000_000), fields: { user: `u${i}@example.com` } });
  out.push({ event: 'unrelated_event', duration: 7, fields: {} });
  return out;
}

const EXP_BOUNDS = [10, 100, 1000, 10_000, 100_000]; // duration:exponential:1:5:10, µs
const LIN_BOUNDS = [0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]; // bytes_out:linear:0:1000:100

/** A bucket bound as Prometheus returns it (`+Inf`, `0.0001`, `1e-05`). */
function le(text: string | undefined): number {
  return text === '+Inf' ? Infinity : Number(text);
}

interface PromVector {
  metric: Record<string, string>;
  value: [number, string];
}

peerSuite(peers, PACKAGES, 'a real Prometheus scrapes tallyd', () => {
  let dir = '';
  let tallyd: Tallyd | undefined;
  let prometheus: Child | undefined;
  let prom = '';
  const sent = events();
  const imap = sent.filter((e) => e.event === 'imap_command_finished');
  const auth = sent.filter((e) => e.event === 'auth_request_finished');

  const query = async (q: string): Promise<PromVector[]> => {
    const r = await httpGet(`${prom}/api/v1/query?query=${encodeURIComponent(q)}`);
    const body = JSON.parse(r.text) as { status: string; data?: { resultType: string; result: PromVector[] }; error?: string };
    if (body.status !== 'success' || body.data === undefined) throw new Error(`${q}: ${body.error ?? r.text}`);
    return body.data.result;
  };
  /** The value of a query that yields one sample. */
  const scalar = async (q: string): Promise<number> => {
    const v = await query(q);
    expect(v.length, q).toBe(1);
    return Number((v[0] as PromVector).value[1]);
  };
  const logs = (): string => [tallyd?.child.logFile, prometheus?.logFile].filter((f) => f !== undefined).map((f) => tail(f as string, 20)).join('\n');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tallyd-interop-prometheus-'));
    writeFileSync(join(dir, 'tallyd.conf'), TALLYD_CONF);
    tallyd = await startTallyd(join(dir, 'tallyd.conf'), join(dir, 'tallyd.out'));

    // three batches, two encodings; every event acknowledged (so counted) before Prometheus starts
    const thirds = [sent.slice(0, 90), sent.slice(90, 180), sent.slice(180)];
    for (const [i, batch] of thirds.entries()) {
      const ndjson = i === 1;
      const r = await httpPost(
        `${tallyd.url}/v1/events`,
        ndjson ? batch.map((e) => JSON.stringify(e)).join('\n') : JSON.stringify(batch),
        ndjson ? 'application/x-ndjson' : 'application/json',
      );
      expect(r.status, r.text).toBe(200);
      expect(JSON.parse(r.text)).toMatchObject({ accepted: batch.length, rejected: 0 });
    }

    // Prometheus must be told its port: a free one, and started again on another should it be taken
    // before Prometheus binds it. scrape_timeout (at most the interval) is 5 s, not 1 s: a scrape
    // slowed by a busy machine must not be cut off, since the target's last error is checked
    for (let attempt = 1; ; attempt++) {
      const [port] = await freePorts(1);
      prom = `http://127.0.0.1:${port}`;
      writeFileSync(
        join(dir, 'prometheus.yml'),
        `global:
  scrape_interval: 5s
  scrape_timeout: 5s
  evaluation_interval: 5s
scrape_configs:
  - job_name: tallyd
    static_configs:
      - targets: ['127.0.0.1:${tallyd.port}']
`,
      );
      prometheus = startChild(
        'prometheus',
        peers.paths['prometheus'] as string,
        [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, `data-${attempt}`)}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
        join(dir, 'prometheus.out'),
      );
      const p = prometheus;
      try {
        // discovery hands targets over after a few seconds; then one scrape is enough
        await waitFor(
          'Prometheus to have scraped tallyd',
          async () => {
            if (p.exitedYet()) throw new Fatal('prometheus exited');
            return (await query('dovecot_auth_request_total')).length === 1 ? true : undefined;
          },
          { timeoutMs: 90_000, intervalMs: 500, describe: logs },
        );
        break;
      } catch (e) {
        await stopChild(p);
        if (attempt >= PORT_ATTEMPTS || !portTaken(p.logFile)) throw e;
        console.info(`interop prometheus: port ${port} was taken before Prometheus bound it; trying another`);
        rmSync(p.logFile, { force: true });
      }
    }
  }, 150_000);

  afterAll(async () => {
    await stopChild(prometheus);
    await stopChild(tallyd?.child);
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  test('the target is up, with no scrape error', async () => {
    const r = await httpGet(`${prom}/api/v1/targets?state=active`);
    const targets = (JSON.parse(r.text) as { data: { activeTargets: { scrapeUrl: string; health: string; lastError: string }[] } }).data.activeTargets;
    expect(targets.map((t) => ({ url: t.scrapeUrl, health: t.health, lastError: t.lastError }))).toEqual([
      { url: `${(tallyd as Tallyd).url}/metrics`, health: 'up', lastError: '' },
    ]);
    expect(await scalar('up{job="tallyd"}')).toBe(1);
    expect(await scalar('scrape_samples_scraped{job="tallyd"}')).toBeGreaterThan(100);
  });

  test('OpenMetrics was negotiated (info type and units reach Prometheus)', async () => {
    const r = await httpGet(`${prom}/api/v1/targets/metadata?match_target=${encodeURIComponent('{job="tallyd"}')}`);
    const meta = (JSON.parse(r.text) as { data: { metric: string; type: string; unit: string }[] }).data;
    const of = (m: string) => meta.find((x) => x.metric === m);
    expect(of('tallyd_build')).toMatchObject({ type: 'info' }); // a gauge in text 0.0.4
    expect(of('dovecot_imap_command_duration_seconds')).toMatchObject({ type: 'counter', unit: 'seconds' }); // no units in text 0.0.4
    expect(of('dovecot_imap_command')).toMatchObject({ type: 'counter' }); // the stem, not ..._total
    expect(of('dovecot_imap_cmd_duration_duration_seconds')).toMatchObject({ type: 'histogram', unit: 'seconds' });
    expect(await scalar('tallyd_build_info{job="tallyd"}')).toBe(1);
    expect(await scalar('process_cpu_seconds_total{job="tallyd"}')).toBeGreaterThan(0);
  });

  test('Prometheus stored every sample without complaint', async () => {
    // duplicate label sets, out-of-order or out-of-bounds samples would show here
    const own = (await httpGet(`${prom}/metrics`)).text;
    for (const name of [
      'prometheus_target_scrapes_sample_duplicate_timestamp_total',
      'prometheus_target_scrapes_sample_out_of_order_total',
      'prometheus_target_scrapes_sample_out_of_bounds_total',
      'prometheus_target_scrapes_exceeded_sample_limit_total',
    ]) {
      const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(own);
      expect(m, `${name} in Prometheus' own /metrics`).not.toBeNull();
      expect(`${name} ${Number((m as RegExpExecArray)[1])}`).toBe(`${name} 0`);
    }
  });

  test('PromQL sums equal the events sent', async () => {
    const close = (got: number, want: number): void => expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(want)));
    const usum = (es: Sent[]): number => es.reduce((a, e) => a + e.duration, 0);
    const fsum = (es: Sent[], f: string): number => es.reduce((a, e) => a + (typeof e.fields[f] === 'number' ? (e.fields[f] as number) : 0), 0);

    expect(await scalar('sum(dovecot_imap_command_total)')).toBe(imap.length);
    close(await scalar('sum(dovecot_imap_command_duration_seconds_total)'), usum(imap) / 1e6);
    expect(await scalar('sum(dovecot_imap_command_bytes_in_total)')).toBe(fsum(imap, 'bytes_in'));
    expect(await scalar('dovecot_auth_request_total')).toBe(auth.length);
    close(await scalar('dovecot_auth_request_duration_seconds_total'), usum(auth) / 1e6);

    // per label value: sum by (cmd_name, tagged_reply_state)
    const want = new Map<string, number>();
    for (const e of imap) {
      const k = `${e.fields['cmd_name']}/${e.fields['tagged_reply_state']}`;
      want.set(k, (want.get(k) ?? 0) + 1);
    }
    const got = new Map((await query('sum by (cmd_name, tagged_reply_state) (dovecot_imap_command_total)')).map((v) => [`${v.metric['cmd_name']}/${v.metric['tagged_reply_state']}`, Number(v.value[1])]));
    expect(Object.fromEntries([...got].sort())).toEqual(Object.fromEntries([...want].sort()));

    // the duration histogram, summed over commands
    expect(await scalar('sum(dovecot_imap_cmd_duration_total)')).toBe(imap.length);
    expect(await scalar('sum(dovecot_imap_cmd_duration_duration_seconds_count)')).toBe(imap.length);
    close(await scalar('sum(dovecot_imap_cmd_duration_duration_seconds_sum)'), usum(imap) / 1e6);
    const buckets = new Map((await query('sum by (le) (dovecot_imap_cmd_duration_duration_seconds_bucket)')).map((v) => [le(v.metric['le']), Number(v.value[1])]));
    expect(buckets.get(Infinity)).toBe(imap.length);
    for (const b of EXP_BOUNDS) expect(buckets.get(b / 1e6), `le=${b / 1e6}`).toBe(imap.filter((e) => e.duration <= b).length);

    // the linear histogram over a field: _count is the events that have the field
    const withOut = imap.filter((e) => typeof e.fields['bytes_out'] === 'number');
    expect(withOut.length).toBeLessThan(imap.length);
    expect(await scalar('dovecot_imap_out_bytes_total')).toBe(imap.length);
    close(await scalar('dovecot_imap_out_bytes_duration_seconds_total'), usum(imap) / 1e6);
    expect(await scalar('dovecot_imap_out_bytes_bytes_out_count')).toBe(withOut.length);
    expect(await scalar('dovecot_imap_out_bytes_bytes_out_sum')).toBe(fsum(withOut, 'bytes_out'));
    const lin = new Map((await query('dovecot_imap_out_bytes_bytes_out_bucket')).map((v) => [le(v.metric['le']), Number(v.value[1])]));
    expect(lin.get(Infinity)).toBe(withOut.length);
    for (const b of LIN_BOUNDS) expect(lin.get(b), `le=${b}`).toBe(withOut.filter((e) => (e.fields['bytes_out'] as number) <= b).length);

    // tallyd's own account of it
    expect(await scalar('tallyd_events_accepted_total')).toBe(sent.length);
    expect(await query('tallyd_events_rejected_total')).toEqual([]);
  });
});
