/**
 * Two tallyd hosts, one Prometheus (Debian's 2.42 with native histograms and
 * the remote-write receiver): each tallyd takes half of one deterministic
 * stream. Prometheus scrapes both (the protobuf exposition is negotiated)
 * and takes their remote writes (external_labels host=a, host=b); either way
 * PromQL's sum over the native histograms merges the hosts exactly:
 * `sum(histogram_count(...))` is the events sent and
 * `histogram_quantile(0.99, sum(...))` is within 1% of the stream's exact p99.
 *
 * Peer: `apt-get install prometheus`. Without it the suite is skipped with a
 * message, except with CI set, where it fails.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Fatal, findPeers, httpGet, httpPost, peerSuite, startChild, startOnFreePort, startTallyd, stopChild, tail, waitFor, type Child, type Tallyd } from './peers.js';

const PACKAGES = 'prometheus';
const peers = findPeers(['prometheus']);
const N = 20_000;

/** µs: mostly 100 µs–50 ms, a long tail up to ~20 s (a small LCG: every run sends the same). */
function durations(): number[] {
  let x = 987654321;
  const rnd = (): number => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
  const out: number[] = [];
  for (let i = 0; i < N; i++) {
    const u = rnd();
    out.push(Math.round(u < 0.95 ? 100 + 50_000 * rnd() ** 2 : 50_000 + 20_000_000 * rnd() ** 3));
  }
  return out;
}

function conf(host: string, remote: string): string {
  return `shards = 2
external_labels = host=${host}
metric imap_command {
  filter = event=imap_command_finished
  fields = bytes_out
  group_by = cmd_name
}
${remote === '' ? '' : `remote_write prom {\n  url = ${remote}\n  interval = 1s\n  timeout = 5s\n}\n`}`;
}

interface PromVector {
  metric: Record<string, string>;
  value: [number, string];
}

peerSuite(peers, PACKAGES, 'a real Prometheus merges two tallyd hosts through native histograms', () => {
  let dir = '';
  const hosts: Tallyd[] = [];
  let prometheus: Child | undefined;
  let prom = '';
  const sent = durations();
  const sorted = [...sent].sort((a, b) => a - b);
  const p99 = (sorted[Math.ceil(N * 0.99) - 1] as number) / 1e6;
  const sumSeconds = sent.reduce((a, b) => a + b, 0) / 1e6;

  const query = async (q: string): Promise<PromVector[]> => {
    const r = await httpGet(`${prom}/api/v1/query?query=${encodeURIComponent(q)}`);
    const body = JSON.parse(r.text) as { status: string; data?: { result: PromVector[] }; error?: string };
    if (body.status !== 'success' || body.data === undefined) throw new Error(`${q}: ${body.error ?? r.text}`);
    return body.data.result;
  };
  const scalar = async (q: string): Promise<number | undefined> => {
    const v = await query(q);
    return v.length === 1 ? Number((v[0] as PromVector).value[1]) : undefined;
  };
  const logs = (): string => [...hosts.map((h) => h.child.logFile), prometheus?.logFile].filter((f) => f !== undefined).map((f) => tail(f as string, 20)).join('\n');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tallyd-interop-native-'));
    ({ child: prometheus } = await startOnFreePort(
      async (port, attempt) => {
        prom = `http://127.0.0.1:${port}`;
        const remote = `${prom}/api/v1/write`;
        // hosts of an attempt whose port was taken push to the wrong place: start over
        for (const h of hosts.splice(0)) await stopChild(h.child);
        for (const [i, h] of ['a', 'b'].entries()) {
          writeFileSync(join(dir, `tallyd-${h}.conf`), conf(h, remote));
          hosts.push(await startTallyd(join(dir, `tallyd-${h}.conf`), join(dir, `tallyd-${h}.out`)));
          // each host takes every other event of the one stream
          const mine = sent.filter((_, j) => j % 2 === i);
          for (let k = 0; k < mine.length; k += 5000) {
            const batch = mine.slice(k, k + 5000).map((d, j) => ({ event: 'imap_command_finished', duration: d, fields: { cmd_name: j % 3 === 0 ? 'FETCH' : 'SELECT', bytes_out: j } }));
            const r = await httpPost(`${(hosts[i] as Tallyd).url}/v1/events`, JSON.stringify(batch), 'application/json');
            expect(r.status, r.text).toBe(200);
          }
        }
        writeFileSync(
          join(dir, 'prometheus.yml'),
          `global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: tallyd
    static_configs:
      - targets: [${hosts.map((h) => `'127.0.0.1:${h.port}'`).join(', ')}]
`,
        );
        return startChild(
          'prometheus',
          peers.paths['prometheus'] as string,
          [
            `--config.file=${join(dir, 'prometheus.yml')}`,
            `--storage.tsdb.path=${join(dir, `data-${attempt}`)}`,
            `--web.listen-address=127.0.0.1:${port}`,
            '--enable-feature=native-histograms',
            '--web.enable-remote-write-receiver',
            '--log.level=warn',
          ],
          join(dir, 'prometheus.out'),
        );
      },
      (p) =>
        waitFor(
          'Prometheus to be ready',
          async () => {
            if (p.exitedYet()) throw new Fatal('prometheus exited');
            return (await httpGet(`${prom}/-/ready`).catch(() => ({ status: 0 }))).status === 200 ? true : undefined;
          },
          { timeoutMs: 60_000, intervalMs: 250, describe: logs },
        ).then(() => undefined),
    ));
  }, 120_000);

  afterAll(async () => {
    await stopChild(prometheus);
    for (const h of hosts) await stopChild(h.child);
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  const merged = async (selector: string): Promise<void> => {
    const count = `sum(histogram_count(dovecot_imap_command_duration_seconds{${selector}}))`;
    await waitFor('both hosts in Prometheus', async () => ((await scalar(count)) === N ? true : undefined), { timeoutMs: 40_000, intervalMs: 250, describe: logs });
    const sum = (await scalar(`sum(histogram_sum(dovecot_imap_command_duration_seconds{${selector}}))`)) as number;
    expect(Math.abs(sum - sumSeconds)).toBeLessThan(1e-6 * sumSeconds);
    const q = (await scalar(`histogram_quantile(0.99, sum(dovecot_imap_command_duration_seconds{${selector}}))`)) as number;
    const err = Math.abs(q - p99) / p99;
    console.info(`interop native (${selector}): p99 exact ${p99} s, PromQL ${q} s, error ${(err * 100).toFixed(3)}%`);
    expect(err).toBeLessThan(0.01);
    const f = (await scalar(`sum(histogram_count(dovecot_imap_command_bytes_out{${selector}}))`)) as number;
    expect(f).toBe(N);
    expect(await scalar(`sum(dovecot_imap_command_total{${selector}})`)).toBe(N);
  };

  test('scraped (protobuf negotiated): sum over both hosts is exact, p99 within 1%', async () => {
    await merged('job="tallyd"');
    const r = await httpGet(`${prom}/api/v1/targets?state=active`);
    const targets = (JSON.parse(r.text) as { data: { activeTargets: { health: string; lastError: string }[] } }).data.activeTargets;
    expect(targets.map((t) => [t.health, t.lastError])).toEqual([
      ['up', ''],
      ['up', ''],
    ]);
  }, 60_000);

  test('remote-written (protobuf + snappy, external_labels keep the hosts apart): sum is exact, p99 within 1%', async () => {
    // only remote-written series carry the external label host
    await merged('host=~"a|b"');
    for (const h of ['a', 'b']) expect(await scalar(`sum(histogram_count(dovecot_imap_command_duration_seconds{host="${h}"}))`)).toBe(N / 2);
    for (const h of hosts) {
      const m = await httpGet(`${h.url}/metrics`);
      const dropped = [...m.text.matchAll(/^tallyd_remote_write_samples_dropped_total\{remote="prom",reason="rejected"\} (\d+)/gm)].map((x) => Number(x[1]));
      expect(dropped).toEqual([0]);
    }
  }, 60_000);
});
