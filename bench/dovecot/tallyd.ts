/**
 * `tallyd serve` on the bench's metrics, fed the same events as Dovecot's
 * event exporter sends them, as msgpack batches over keep-alive HTTP
 * connections; CPU of the whole process (every thread) from /proc.
 */
import { Agent, request } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuSeconds, threadCpuSeconds, freePort, sleep, startChild, tail, type Child } from './proc.js';
import { countOf, parseDump } from './tally.js';

/** this checkout's tallyd; TALLYD_BENCH_BIN points the bench at another build (before/after comparisons) */
const TALLYD_BIN = process.env['TALLYD_BENCH_BIN'] ?? fileURLToPath(new URL('../../../bin/tallyd.js', import.meta.url));
/** node options for tallyd's process, e.g. TALLYD_BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=DIR' for one profile per thread */
const NODE_ARGS = (process.env['TALLYD_BENCH_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== '');

export interface TallydRun {
  readonly pid: number;
  readonly port: number;
  cpu(): number;
  /** CPU seconds of each of its threads, by thread id */
  threads(): Map<number, number>;
  /** POSTs every batch (in order, over `connections` connections); resolves with the events accepted */
  send(batches: readonly Buffer[], connections: number): Promise<number>;
  dump(): Promise<string>;
  /** waits until the root of imap_command counts `events` (0: until two dumps in a row agree), and returns that dump */
  settle(events: number, timeoutMs?: number): Promise<string>;
  /** dump, then zero every figure (doveadm stats dump -r) */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

function call(agent: Agent, port: number, method: string, path: string, body?: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = {};
    if (body !== undefined) {
      headers['content-type'] = 'application/msgpack';
      headers['content-length'] = body.length;
    }
    const req = request({ host: '127.0.0.1', port, method, path, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export async function startTallyd(dir: string, metrics: string, shards: number, extraSettings = ''): Promise<TallydRun> {
  const port = await freePort();
  const confFile = join(dir, 'tallyd.conf');
  writeFileSync(confFile, `listen = 127.0.0.1:${port}\nshards = ${shards}\n${extraSettings}\n${metrics}\n`);
  const log = join(dir, 'tallyd.log');
  const child: Child = startChild(process.execPath, [...NODE_ARGS, TALLYD_BIN, 'serve', '--config', confFile], log, 30 * 60_000);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitedYet()) throw new Error(`tallyd exited at start\n${tail(log)}`);
    try {
      if ((await call(agent, port, 'GET', '/readyz')).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`tallyd not ready within 20 s\n${tail(log)}`);
    await sleep(100);
  }
  const dump = async (): Promise<string> => {
    const r = await call(agent, port, 'GET', '/v1/stats/dump?fields=count,sum');
    if (r.status !== 200) throw new Error(`GET /v1/stats/dump: ${r.status} ${r.text}`);
    return r.text;
  };
  return {
    pid: child.pid,
    dump,
    port,
    cpu: () => cpuSeconds(child.pid),
    threads: () => threadCpuSeconds(child.pid),
    async send(batches, connections) {
      let next = 0;
      let accepted = 0;
      const worker = async (): Promise<void> => {
        while (next < batches.length) {
          const body = batches[next++] as Buffer;
          for (;;) {
            const r = await call(agent, port, 'POST', '/v1/events', body);
            if (r.status === 503) continue; // rings full: the same batch again
            if (r.status !== 200) throw new Error(`POST /v1/events: ${r.status} ${r.text}`);
            accepted += (JSON.parse(r.text) as { accepted: number }).accepted;
            break;
          }
        }
      };
      await Promise.all(Array.from({ length: connections }, worker));
      return accepted;
    },
    async settle(events, timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      let last = '';
      for (;;) {
        const text = await dump();
        const n = countOf(parseDump(text), 'imap_command');
        if (events > 0 ? n >= events : text === last) return text;
        if (Date.now() > deadline) throw new Error(`tallyd counted ${n} of ${events} events within ${timeoutMs} ms\n${tail(log)}`);
        last = text;
        await sleep(events > 0 ? 20 : 200);
      }
    },
    async reset() {
      const r = await call(agent, port, 'POST', '/v1/stats/dump?reset=1');
      if (r.status !== 200) throw new Error(`POST /v1/stats/dump?reset=1: ${r.status} ${r.text}`);
    },
    async stop() {
      agent.destroy();
      await child.stop();
    },
  };
}
