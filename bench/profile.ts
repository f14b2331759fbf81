/**
 * CPU profiles behind the findings in bench/README.md.
 *
 *   node dist/bench/profile.js server [--shards 2] [--seconds 6] [--transport http|ws] [--top 15]
 *       tallyd serve under node --cpu-prof, driven by tallyd load; one profile
 *       per thread (main thread, then each shard worker), summarized.
 *   node dist/bench/profile.js engine [--seconds 6] [--top 15]
 *       tallyd's Engine on one thread over tallyd load's events (the "engine"
 *       reference of bench:e2e) under node --cpu-prof.
 *
 * Profiles are written to a temporary directory (printed) and kept.
 */
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchConfigText } from './fixtures/config.js';
import { closeClient, request, sleep } from './e2e/client.js';
import { runLoad } from './e2e/load.js';
import { killAll, startNode } from './e2e/proc.js';
import { TALLYD_BIN, freePort } from './e2e/server.js';
import { formatSummary, summarize } from './lib/cpuprofile.js';

async function profileServer(dir: string, shards: number, seconds: number, transport: 'http' | 'ws'): Promise<string> {
  const port = await freePort();
  const listen = `127.0.0.1:${port}`;
  const conf = join(dir, 'bench.conf');
  writeFileSync(conf, benchConfigText(listen, shards));
  const server = startNode(
    ['--cpu-prof', `--cpu-prof-dir=${dir}`, TALLYD_BIN, 'serve', '--config', conf, '--shards', String(shards), '--listen', listen, '--log-level', 'warn'],
    (seconds + 120) * 1000,
  );
  try {
    const deadline = performance.now() + 30_000;
    for (;;) {
      try {
        if ((await request(`http://${listen}/readyz`, { timeoutMs: 2000 })).status === 200) break;
      } catch {
        // not yet
      }
      if (performance.now() > deadline) throw new Error('tallyd serve was not ready within 30 s');
      await sleep(100);
    }
    const load = await runLoad({ url: `http://${listen}`, transport, seconds });
    return `tallyd load ${transport}, ${shards} shards: ${Math.round(load.acceptedPerSec)} events/s, ack p50 ${load.ackP50Ms.toFixed(1)} ms, p99 ${load.ackP99Ms.toFixed(1)} ms`;
  } finally {
    await server.stop();
    closeClient();
  }
}

async function profileEngine(dir: string, seconds: number): Promise<string> {
  const ref = fileURLToPath(new URL('./e2e/reference.js', import.meta.url));
  const f = await startNode(['--cpu-prof', `--cpu-prof-dir=${dir}`, ref, 'engine', '--seconds', String(seconds)], (seconds + 60) * 1000).done;
  if (f.code !== 0) throw new Error(`engine reference exited ${f.code ?? f.signal}: ${f.stderr}`);
  const r = JSON.parse(f.stdout.trim()) as { eventsPerSec: number; nsPerEvent: number };
  return `Engine, one thread: ${Math.round(r.eventsPerSec)} events/s (${Math.round(r.nsPerEvent)} ns/event)`;
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      shards: { type: 'string', default: '2' },
      seconds: { type: 'string', default: '6' },
      transport: { type: 'string', default: 'http' },
      top: { type: 'string', default: '15' },
    },
  });
  const what = positionals[0];
  if (what !== 'server' && what !== 'engine') {
    process.stderr.write('usage: node dist/bench/profile.js server|engine [--shards 2] [--seconds 6] [--transport http|ws] [--top 15]\n');
    return 2;
  }
  const dir = mkdtempSync(join(tmpdir(), 'tallyd-prof-'));
  const seconds = Number(values.seconds);
  const head =
    what === 'server'
      ? await profileServer(dir, Number(values.shards), seconds, values.transport === 'ws' ? 'ws' : 'http')
      : await profileEngine(dir, seconds);
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort();
  const out = [`${head}; profiles in ${dir}`, ''];
  files.forEach((f, i) => {
    const title = what === 'server' ? (i === 0 ? 'main thread' : `shard worker ${i}`) : 'engine reference';
    out.push(formatSummary(`${title} (${f})`, summarize(join(dir, f)), Number(values.top)), '');
  });
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`profile: ${(e as Error).stack ?? String(e)}\n`);
    killAll();
    process.exitCode = 1;
  },
);
