/**
 * `npm run soak` (node dist/scripts/soak.js after the build): a bounded soak
 * of a real `tallyd serve` on loopback.
 *
 * 1. Starts `tallyd serve` (built-in metrics plus a catch-all one) on a free
 *    127.0.0.1 port with --final-dump.
 * 2. Measures the sustained rate: `tallyd load` as fast as it goes for
 *    --calibrate seconds.
 * 3. Runs `tallyd load` at --fraction (80 %) of that rate for --duration
 *    seconds, in segments (one ack-latency report each), scraping /metrics
 *    every second and sampling the server's resident memory.
 * 4. Stops the server with SIGTERM and compares its final dump with what the
 *    load generator had acknowledged.
 *
 * Checks: resident memory flat after the warm-up, ack latency stable from
 * segment to segment, no scrape failed, no batch failed, and the final count
 * equal to what was acknowledged. Exits 0 when every check passes, 1
 * otherwise. The whole run is at most 3 minutes. Not part of `npm test`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG_TEXT } from '../src/config/defaults.js';

const MIB = 1024 * 1024;
const MAX_TOTAL_S = 180;

interface LoadReport {
  events_accepted: number;
  events_failed: number;
  busy_refusals: number;
  errors: number;
  accepted_per_s: number;
  latency_p50_ms: number;
  latency_p99_ms: number;
  latency_max_ms: number;
  elapsed_s: number;
  first_error: string | null;
}

interface Sample {
  t: number;
  rss: number | null;
  selfRss: number | null;
  accepted: number | null;
  scrapeMs: number;
  ok: boolean;
}

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'bin', 'tallyd.js')) && existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the tallyd checkout (bin/tallyd.js) above this script');
    dir = up;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => res(port));
    });
  });
}

function rssOf(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? null : Number(m[1]) * 1024;
  } catch {
    return null;
  }
}

function sampleOf(text: string, name: string): number | null {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `)) return Number(line.slice(name.length + 1));
  }
  return null;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return 0;
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Runs `tallyd load … --json` to completion; resolves with its report. */
function load(bin: string, url: string, args: string[]): Promise<LoadReport> {
  return new Promise((resolvePromise, reject) => {
    const p = spawn(process.execPath, [bin, 'load', '--url', url, '--json', '--quiet', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('exit', () => {
      try {
        resolvePromise(JSON.parse(out.trim().split('\n').pop() ?? '') as LoadReport);
      } catch {
        reject(new Error(`tallyd load gave no report:\n${out}${err}`));
      }
    });
  });
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '120' },
      calibrate: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '20' },
      segment: { type: 'string', default: '10' },
      fraction: { type: 'string', default: '0.8' },
      transport: { type: 'string', default: 'http' },
      connections: { type: 'string', default: '4' },
      shards: { type: 'string' },
      'native-free': { type: 'boolean', default: false },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      [
        'Usage: npm run soak -- [--duration S] [--calibrate S] [--warmup S] [--segment S] [--fraction F]',
        '                      [--transport http|ws] [--connections C] [--shards N] [--native-free] [--json FILE]',
        '',
        'A bounded soak of tallyd serve on 127.0.0.1 (at most 3 minutes in all): calibrate the',
        'sustained rate, run at FRACTION of it with a scrape every second, stop with SIGTERM and',
        'compare the final dump with what was acknowledged. Exit 0 when every check passes.',
        '',
      ].join('\n'),
    );
    return 0;
  }
  const duration = Number(values.duration);
  const calibrate = Number(values.calibrate);
  const warmup = Number(values.warmup);
  const segment = Number(values.segment);
  const fraction = Number(values.fraction);
  for (const [k, v] of [['duration', duration], ['calibrate', calibrate], ['segment', segment]] as const) {
    if (!(v > 0)) throw new Error(`--${k} must be a positive number of seconds`);
  }
  if (!(warmup >= 0 && warmup < duration)) throw new Error('--warmup must be from 0 to less than --duration');
  if (!(fraction > 0 && fraction <= 1)) throw new Error('--fraction must be in (0, 1]');
  if (calibrate + duration + 15 > MAX_TOTAL_S) throw new Error(`--calibrate + --duration must leave room within ${MAX_TOTAL_S} s (start and drain take ~15 s)`);

  const root = repoRoot();
  const bin = join(root, 'bin', 'tallyd.js');
  const dir = mkdtempSync(join(tmpdir(), 'tallyd-soak-'));
  const conf = join(dir, 'soak.conf');
  const finalDump = join(dir, 'final.dump');
  writeFileSync(conf, `${DEFAULT_CONFIG_TEXT}\nmetric soak_all_events {\n  filter = event=*\n  description = every event of the soak\n}\n`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const serveArgs = [bin, 'serve', '--config', conf, '--listen', `127.0.0.1:${port}`, '--final-dump', finalDump, '--log-level', 'warn'];
  if (values.shards !== undefined) serveArgs.push('--shards', values.shards);
  if (values['native-free']) serveArgs.push('--native-free');
  const server: ChildProcess = spawn(process.execPath, serveArgs, { stdio: ['ignore', 'ignore', 'pipe'] });
  let serverErr = '';
  server.stderr?.on('data', (d: Buffer) => (serverErr = (serverErr + d.toString()).slice(-20_000)));
  const exited = new Promise<number | null>((r) => server.once('exit', (code) => r(code)));
  const pid = server.pid as number;
  const stopServer = (): void => {
    if (server.exitCode === null && server.signalCode === null) process.kill(pid, 'SIGKILL');
  };
  process.on('exit', stopServer);
  const t0 = performance.now();
  const log = (s: string): void => {
    process.stderr.write(`[soak ${((performance.now() - t0) / 1000).toFixed(0).padStart(3)} s] ${s}\n`);
  };

  try {
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${url}/readyz`)).status === 200) break;
      } catch {
        // not listening yet
      }
      if (server.exitCode !== null || i > 200) throw new Error(`tallyd serve did not start:\n${serverErr}`);
      await sleep(100);
    }
    log(`tallyd serve pid ${pid} on ${url}${values['native-free'] ? ' (native-free)' : ''}`);
    const loadArgs = ['--transport', values.transport, '--connections', values.connections];

    log(`calibrating: ${calibrate} s as fast as possible`);
    const cal = await load(bin, url, [...loadArgs, '--duration', String(calibrate)]);
    const rate = Math.max(1000, Math.floor(cal.accepted_per_s * fraction));
    log(`sustained ${cal.accepted_per_s} events/s; soaking at ${rate} events/s (${Math.round(fraction * 100)} %) for ${duration} s`);

    // scrapes every second, memory with them
    const samples: Sample[] = [];
    let scraping = true;
    const scraper = (async () => {
      const start = performance.now();
      for (let k = 1; scraping; k++) {
        const s0 = performance.now();
        let ok = false;
        let text = '';
        try {
          const r = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) });
          text = await r.text();
          ok = r.status === 200;
        } catch {
          ok = false;
        }
        samples.push({
          t: (s0 - start) / 1000,
          rss: rssOf(pid),
          selfRss: sampleOf(text, 'process_resident_memory_bytes'),
          accepted: sampleOf(text, 'tallyd_events_accepted_total'),
          scrapeMs: performance.now() - s0,
          ok,
        });
        const wait = start + k * 1000 - performance.now();
        if (wait > 0) await sleep(wait);
      }
    })();

    const segments: (LoadReport & { from: number })[] = [];
    const soakStart = performance.now();
    for (let done = 0; done < duration; ) {
      const len = Math.min(segment, duration - done);
      const r = await load(bin, url, [...loadArgs, '--duration', String(len), '--rate', String(rate)]);
      segments.push({ ...r, from: done });
      log(
        `segment ${String(segments.length).padStart(2)}: ${r.events_accepted} accepted, ${r.accepted_per_s}/s, ack p50 ${r.latency_p50_ms.toFixed(1)} ms p99 ${r.latency_p99_ms.toFixed(1)} ms, busy ${r.busy_refusals}, errors ${r.errors}, rss ${((rssOf(pid) ?? 0) / MIB).toFixed(0)} MiB`,
      );
      done = (performance.now() - soakStart) / 1000;
    }
    scraping = false;
    await scraper;

    log('SIGTERM: draining');
    process.kill(pid, 'SIGTERM');
    const code = await Promise.race([exited, sleep(30_000).then(() => 'timeout' as const)]);
    if (code === 'timeout') throw new Error('tallyd serve did not exit within 30 s of SIGTERM');
    const dumpText = existsSync(finalDump) ? readFileSync(finalDump, 'utf8') : '';
    const row = dumpText.split('\n').find((l) => l.startsWith('soak_all_events\tduration\t'));
    const finalCount = row === undefined ? NaN : Number(row.split('\t')[2]);

    // -- checks ----------------------------------------------------------
    const acked = cal.events_accepted + segments.reduce((n, s) => n + s.events_accepted, 0);
    const failed = cal.events_failed + segments.reduce((n, s) => n + s.events_failed, 0);
    const errors = cal.errors + segments.reduce((n, s) => n + s.errors, 0);
    const after = samples.filter((s) => s.t >= warmup && s.rss !== null).map((s) => s.rss as number);
    const third = Math.max(1, Math.floor(after.length / 3));
    const rssFirst = median(after.slice(0, third));
    const rssLast = median(after.slice(-third));
    const rssMax = Math.max(...after);
    const steady = segments.filter((s) => s.from >= warmup);
    const p99s = steady.map((s) => s.latency_p99_ms);
    const p99Median = median(p99s);
    const p99Worst = Math.max(...p99s);
    const scrapeFailures = samples.filter((s) => !s.ok).length;
    const scrapeMax = Math.max(...samples.map((s) => s.scrapeMs));
    const checks: [string, boolean, string][] = [
      ['server exited 0 on SIGTERM', code === 0, `exit code ${String(code)}`],
      ['final count = acknowledged', finalCount === acked, `final dump ${finalCount}, acknowledged ${acked}`],
      ['no batch failed', errors === 0 && failed === 0, `${errors} errors, ${failed} events failed`],
      ['every scrape answered', scrapeFailures === 0, `${samples.length} scrapes, ${scrapeFailures} failed, slowest ${scrapeMax.toFixed(0)} ms`],
      [
        'resident memory flat after warm-up',
        after.length >= 3 && rssLast <= rssFirst * 1.1 + 16 * MIB,
        `median ${(rssFirst / MIB).toFixed(1)} MiB in the first third, ${(rssLast / MIB).toFixed(1)} MiB in the last, max ${(rssMax / MIB).toFixed(1)} MiB`,
      ],
      [
        'ack latency stable',
        steady.length >= 2 && p99Worst <= 3 * p99Median + 5,
        `p99 per segment ${p99s.map((x) => x.toFixed(1)).join(' ')} ms (median ${p99Median.toFixed(1)}, worst ${p99Worst.toFixed(1)})`,
      ],
    ];
    const report = {
      url,
      transport: values.transport,
      native_free: values['native-free'],
      calibrate_s: calibrate,
      sustained_per_s: cal.accepted_per_s,
      rate_per_s: rate,
      duration_s: duration,
      warmup_s: warmup,
      acknowledged: acked,
      final_count: finalCount,
      busy_refusals: segments.reduce((n, s) => n + s.busy_refusals, 0),
      segments: segments.map((s) => ({
        from_s: Math.round(s.from),
        accepted: s.events_accepted,
        per_s: s.accepted_per_s,
        p50_ms: s.latency_p50_ms,
        p99_ms: s.latency_p99_ms,
        max_ms: s.latency_max_ms,
        busy: s.busy_refusals,
        errors: s.errors,
      })),
      rss_mib: { first_third: rssFirst / MIB, last_third: rssLast / MIB, max: rssMax / MIB },
      scrapes: { count: samples.length, failed: scrapeFailures, slowest_ms: scrapeMax },
      samples: samples.map((s) => ({ t: Math.round(s.t), rss: s.rss, accepted: s.accepted, scrape_ms: Math.round(s.scrapeMs) })),
      checks: checks.map(([name, pass, detail]) => ({ name, pass, detail })),
      elapsed_s: (performance.now() - t0) / 1000,
    };
    if (values.json !== undefined) writeFileSync(resolve(values.json), JSON.stringify(report, null, 2) + '\n');
    process.stdout.write(`\ntallyd soak: ${duration} s at ${rate} events/s (${Math.round(fraction * 100)} % of ${cal.accepted_per_s}), ${values.transport}\n`);
    for (const [name, pass, detail] of checks) process.stdout.write(`  ${pass ? 'PASS' : 'FAIL'}  ${name.padEnd(36)} ${detail}\n`);
    process.stdout.write(`  elapsed ${report.elapsed_s.toFixed(0)} s\n`);
    return checks.every(([, pass]) => pass) ? 0 : 1;
  } finally {
    stopServer();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`tallyd soak: ${(e as Error).message ?? String(e)}\n`);
    process.exit(1);
  },
);
