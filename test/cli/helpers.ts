/**
 * The CLI suite's pieces: a real server started in-process on port 0, the
 * built CLI run as a child process (so argument parsing and exit codes are
 * what a user gets), a dump parser, and a port nothing listens on.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfigText } from '../../src/config/index.js';
import { startServer, type Server } from '../../src/server/start.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = join(ROOT, 'bin', 'tallyd.js');

/** The CLI runs from the build output: fail with a clear word when it is missing. */
export function requireBuild(): void {
  for (const f of ['load.js', 'replay.js', 'stats.js']) {
    if (!existsSync(join(ROOT, 'dist', 'src', 'cli', f))) {
      throw new Error(`dist/src/cli/${f} is missing: run \`npm run build\` before \`vitest run test/cli\``);
    }
  }
}

export interface Running {
  server: Server;
  url: string;
}

/** Starts a server with `metrics` (config text) on 127.0.0.1:0, one shard, plus `settings` lines. */
export async function startTestServer(metrics: string, settings = ''): Promise<Running> {
  const text = `listen = 127.0.0.1:0\nshards = 1\n${settings}\n${metrics}`;
  const config = parseConfigText(text, 'cli-test.conf', ROOT);
  const server = await startServer({ config, version: '0.0.0-test' });
  return { server, url: `http://127.0.0.1:${server.listener.port}` };
}

export async function stopTestServer(r: Running | undefined): Promise<void> {
  if (r !== undefined) await r.server.stop(() => undefined);
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node bin/tallyd.js ...args` without blocking this process (the
 * server under test runs in it). TALLYD_URL and TALLYD_INGEST_TOKEN are
 * cleared unless given in `env`.
 */
export function cli(args: string[], opts: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.TALLYD_URL;
  delete env.TALLYD_INGEST_TOKEN;
  Object.assign(env, opts.env ?? {});
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tallyd ${args.join(' ')}: still running after ${opts.timeoutMs ?? 20_000} ms\n${stderr}`));
    }, opts.timeoutMs ?? 20_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** Dump rows keyed `name field` → cells by header name. */
export function parseDump(text: string): { header: string[]; rows: Map<string, Record<string, string>> } {
  const lines = text.split('\n').filter((l) => l !== '');
  const header = (lines[0] ?? '').split('\t');
  const rows = new Map<string, Record<string, string>>();
  for (const line of lines.slice(1)) {
    const cells = line.split('\t');
    const row: Record<string, string> = {};
    header.forEach((h, i) => (row[h] = cells[i] ?? ''));
    rows.set(`${cells[0]} ${cells[1]}`, row);
  }
  return { header, rows };
}

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then released). */
export function deadPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Whether something listens on 127.0.0.1:`port` now (it cannot be bound). */
function portTaken(port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', (e: NodeJS.ErrnoException) => (e.code === 'EADDRINUSE' ? resolve(true) : reject(e)));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(false)));
  });
}

/**
 * Runs the CLI against http://127.0.0.1:PORT where nothing listens. Node
 * cannot hold a TCP port without listening on it, so the port is released
 * before the CLI (a process that takes a while to start) connects, and any
 * other process's listen(0) may take it meanwhile. Only then, when the run
 * was not refused and the port is found taken, is it run again on another
 * (bounded); any other answer is returned for the test to judge.
 */
export async function cliOnDeadPort(args: (url: string) => string[], opts: Parameters<typeof cli>[1] = {}): Promise<{ port: number; result: CliResult }> {
  for (let attempt = 1; ; attempt++) {
    const port = await deadPort();
    let result: CliResult;
    try {
      result = await cli(args(`http://127.0.0.1:${port}`), opts);
    } catch (e) {
      // e.g. still running after its time limit, talking to whoever took the port
      if (attempt < 5 && (await portTaken(port))) continue;
      throw e;
    }
    if (result.stderr.includes('ECONNREFUSED') || attempt >= 5 || !(await portTaken(port))) return { port, result };
  }
}

/** POSTs a JSON body to /v1/events and returns the parsed answer. */
export async function postJson(url: string, events: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const r = await fetch(`${url}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(events),
  });
  return { status: r.status, body: await r.json() };
}
