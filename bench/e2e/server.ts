/**
 * A tallyd server for the harness: `node bin/tallyd.js serve` as a child
 * process on 127.0.0.1 with the bench config, N shards, stopped by PID.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchConfigText } from '../fixtures/config.js';
import { packBatch, seriesEvents } from '../fixtures/mail.js';
import { request, sleep } from './client.js';
import { cpuSecondsOf, rssOf, startNode, type Child } from './proc.js';

export const TALLYD_BIN = fileURLToPath(new URL('../../../bin/tallyd.js', import.meta.url));

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export class TallydServer {
  readonly url: string;
  readonly shards: number;
  private readonly child: Child;
  private readonly dir: string;
  /** series created by prefill so far */
  series: number;

  private constructor(url: string, shards: number, child: Child, dir: string) {
    this.url = url;
    this.shards = shards;
    this.child = child;
    this.dir = dir;
    this.series = 0;
  }

  /** Starts a server and resolves once /readyz answers 200; `limitMs` bounds its whole life. */
  static async start(shards: number, limitMs: number, nativeFree = false): Promise<TallydServer> {
    const port = await freePort();
    const listen = `127.0.0.1:${port}`;
    const dir = mkdtempSync(join(tmpdir(), 'tallyd-bench-'));
    const conf = join(dir, 'bench.conf');
    writeFileSync(conf, benchConfigText(listen, shards));
    const args = [TALLYD_BIN, 'serve', '--config', conf, '--shards', String(shards), '--listen', listen, '--log-level', 'warn'];
    if (nativeFree) args.push('--native-free');
    const child = startNode(args, limitMs);
    const server = new TallydServer(`http://${listen}`, shards, child, dir);
    const deadline = performance.now() + 30_000;
    for (;;) {
      const exited = await Promise.race([child.done.then(() => true), sleep(100).then(() => false)]);
      if (exited) {
        const f = await child.done;
        rmSync(dir, { recursive: true, force: true });
        throw new Error(`tallyd serve exited (${f.code ?? f.signal}) before it was ready:\n${f.stderr}`);
      }
      try {
        if ((await request(`${server.url}/readyz`, { timeoutMs: 2000 })).status === 200) return server;
      } catch {
        // not listening yet
      }
      if (performance.now() > deadline) {
        await server.stop();
        throw new Error('tallyd serve was not ready within 30 s');
      }
    }
  }

  get pid(): number {
    return this.child.pid;
  }

  rss(): number {
    return rssOf(this.child.pid);
  }

  cpuSeconds(): number {
    return cpuSecondsOf(this.child.pid);
  }

  /** Creates `series` sub-metrics in all (3 values each, sparse), 1000 events per batch. */
  async prefill(series: number): Promise<void> {
    const perBatch = 333;
    for (let from = this.series; from < series; from += perBatch) {
      const to = Math.min(series, from + perBatch);
      const body = packBatch(seriesEvents(from, to, 3));
      for (let attempt = 0; ; attempt++) {
        const r = await request(`${this.url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/msgpack' }, body });
        if (r.status === 200) break;
        if (r.status !== 503 || attempt > 100) throw new Error(`prefill: POST /v1/events answered ${r.status}: ${r.body.toString()}`);
        await sleep(20);
      }
    }
    this.series = Math.max(this.series, series);
  }

  /** GET /metrics as OpenMetrics (or Prometheus text) */
  scrape(openMetrics = true): ReturnType<typeof request> {
    const headers: Record<string, string> = openMetrics ? { accept: 'application/openmetrics-text; version=1.0.0' } : {};
    return request(`${this.url}/metrics`, { headers, timeoutMs: 60_000 });
  }

  async stop(): Promise<void> {
    try {
      const f = await this.child.stop();
      if (f.code !== 0 && f.code !== null) process.stderr.write(`tallyd serve exited ${f.code}: ${f.stderr.slice(-2000)}\n`);
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}
