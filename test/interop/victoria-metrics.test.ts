/**
 * remote_write into a real VictoriaMetrics (Debian's victoria-metrics
 * 1.79): two tallyd hosts, each given half of one stream and its own
 * external_labels, push to VictoriaMetrics' Prometheus remote-write endpoint;
 * `sum` over both hosts is the events sent, exactly, and each host's share is
 * its own. (VictoriaMetrics 1.79 keeps the counters; it has no native
 * histograms. Prometheus' receiver is tested in prometheus-native.test.ts.)
 *
 * Peer: `apt-get install victoria-metrics`. Without it the suite is skipped
 * with a message, except with CI set, where it fails.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Fatal, findPeers, httpGet, httpPost, peerSuite, startChild, startOnFreePort, startTallyd, stopChild, tail, waitFor, type Child, type Tallyd } from './peers.js';

const PACKAGES = 'victoria-metrics';
const peers = findPeers(['victoria-metrics']);
const N = 6_000;

function conf(host: string, url: string): string {
  return `shards = 2
external_labels = host=${host}
metric imap_command {
  filter = event=imap_command_finished
  fields = bytes_out
  group_by = cmd_name
}
remote_write vm {
  url = ${url}
  interval = 1s
  timeout = 5s
}
`;
}

peerSuite(peers, PACKAGES, 'remote_write into a real VictoriaMetrics', () => {
  let dir = '';
  const hosts: Tallyd[] = [];
  let vm: Child | undefined;
  let base = '';
  const logs = (): string => [...hosts.map((h) => h.child.logFile), vm?.logFile].filter((f) => f !== undefined).map((f) => tail(f as string, 20)).join('\n');
  const scalar = async (q: string): Promise<number | undefined> => {
    const r = await httpGet(`${base}/api/v1/query?query=${encodeURIComponent(q)}`);
    const body = JSON.parse(r.text) as { status: string; data?: { result: { value: [number, string] }[] }; error?: string };
    if (body.status !== 'success' || body.data === undefined) throw new Error(`${q}: ${body.error ?? r.text}`);
    return body.data.result.length === 1 ? Number((body.data.result[0] as { value: [number, string] }).value[1]) : undefined;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tallyd-interop-vm-'));
    ({ child: vm } = await startOnFreePort(
      (port, attempt) => {
        base = `http://127.0.0.1:${port}`;
        return startChild(
          'victoria-metrics',
          peers.paths['victoria-metrics'] as string,
          [`-httpListenAddr=127.0.0.1:${port}`, `-storageDataPath=${join(dir, `vm-${attempt}`)}`, '-search.latencyOffset=0s', '-search.disableCache', '-loggerLevel=WARN'],
          join(dir, 'vm.out'),
        );
      },
      (p) =>
        waitFor(
          'VictoriaMetrics to be ready',
          async () => {
            if (p.exitedYet()) throw new Fatal('victoria-metrics exited');
            return (await httpGet(`${base}/health`).catch(() => ({ status: 0 }))).status === 200 ? true : undefined;
          },
          { timeoutMs: 60_000, intervalMs: 250, describe: logs },
        ).then(() => undefined),
    ));
    for (const [i, h] of ['a', 'b'].entries()) {
      writeFileSync(join(dir, `tallyd-${h}.conf`), conf(h, `${base}/api/v1/write`));
      hosts.push(await startTallyd(join(dir, `tallyd-${h}.conf`), join(dir, `tallyd-${h}.out`)));
      const batch = Array.from({ length: N / 2 }, (_, j) => ({ event: 'imap_command_finished', duration: 100 + ((j * 7919) % 100_000), fields: { cmd_name: j % 3 === 0 ? 'FETCH' : 'SELECT', bytes_out: j + i } }));
      const r = await httpPost(`${(hosts[i] as Tallyd).url}/v1/events`, JSON.stringify(batch), 'application/json');
      expect(r.status, r.text).toBe(200);
    }
  }, 120_000);

  afterAll(async () => {
    for (const h of hosts) await stopChild(h.child);
    await stopChild(vm);
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  test('sum over both hosts is exact; each host is kept apart by its external label', async () => {
    await waitFor('both hosts in VictoriaMetrics', async () => ((await scalar('sum(dovecot_imap_command_total{host=~"a|b"})')) === N ? true : undefined), {
      timeoutMs: 40_000,
      intervalMs: 250,
      describe: logs,
    });
    expect(await scalar('sum(dovecot_imap_command_total{host="a"})')).toBe(N / 2);
    expect(await scalar('sum(dovecot_imap_command_total{host="b"})')).toBe(N / 2);
    expect(await scalar('sum(dovecot_imap_command_total{host=~"a|b",cmd_name="FETCH"})')).toBe(2 * (N / 2 / 3));
    const bytes = (N / 2) * (N / 2 - 1) + N / 2; // host a: 0..2999, host b: 1..3000
    expect(await scalar('sum(dovecot_imap_command_bytes_out_total{host=~"a|b"})')).toBe(bytes);
    for (const h of hosts) {
      const m = (await httpGet(`${h.url}/metrics`)).text;
      expect(m).toMatch(/^tallyd_remote_write_samples_dropped_total\{remote="vm",reason="rejected"\} 0$/m);
      expect(Number(/^tallyd_remote_write_samples_sent_total\{remote="vm"\} (\d+)$/m.exec(m)?.[1])).toBeGreaterThan(0);
    }
  }, 60_000);
});
