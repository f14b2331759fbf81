/**
 * `node bin/tallyd.js serve` as a child process, shared by the suites that
 * need a real process (signals, --final-dump, resident memory).
 *
 * The child listens on 127.0.0.1:0: the kernel picks the port and the test
 * reads it back from the "tallyd is serving" log line. (Choosing a free port
 * in the test, releasing it and passing it on left a window in which any
 * other process — a parallel test file, a client's ephemeral port — could
 * take it.) Every wait is bounded by a deadline, never asserted on.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';

export const TALLYD_BIN = fileURLToPath(new URL('../../bin/tallyd.js', import.meta.url));

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServeProcess {
  proc: ChildProcess;
  pid: number;
  /** http://127.0.0.1:port */
  url: string;
  port: number;
  /** stdout and stderr so far (the last 200,000 characters) */
  output(): string;
  exited: Promise<Exit>;
  /** SIGKILL by PID if it is still running */
  kill(): void;
}

/** Every child started here and not yet exited, killed by `killAllServes` (an afterAll safety net). */
const live = new Set<ChildProcess>();

function alive(p: ChildProcess): boolean {
  return p.exitCode === null && p.signalCode === null;
}

function readyz(port: number, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/readyz', agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no answer in time')));
    req.on('error', reject);
    req.end();
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts `tallyd serve --listen 127.0.0.1:0 ...args` (args may override
 * --listen) and resolves once it has said which port it serves on and
 * /readyz answers 200. Throws with the child's output if it exits first or
 * is not ready within `readyMs`.
 */
export async function startServe(args: string[], opts: { env?: Record<string, string>; readyMs?: number } = {}): Promise<ServeProcess> {
  const readyMs = opts.readyMs ?? 60_000;
  // the log line that names the port is at level info
  const proc = spawn(process.execPath, [TALLYD_BIN, 'serve', '--listen', '127.0.0.1:0', '--log-level', 'info', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...opts.env },
  });
  live.add(proc);
  let out = '';
  let port = 0;
  let pending = '';
  proc.stdout?.on('data', (d: Buffer) => {
    const s = d.toString();
    out = (out + s).slice(-200_000);
    if (port !== 0) return;
    pending += s;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      try {
        const o = JSON.parse(line) as { msg?: string; listen?: string };
        if (o.msg === 'tallyd is serving' && typeof o.listen === 'string') port = Number(o.listen.slice(o.listen.lastIndexOf(':') + 1));
      } catch {
        // not a log line
      }
    }
  });
  proc.stderr?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-200_000)));
  const exited = new Promise<Exit>((res) =>
    proc.once('exit', (code, signal) => {
      live.delete(proc);
      res({ code, signal });
    }),
  );
  const pid = proc.pid as number;
  const kill = (): void => {
    if (alive(proc)) process.kill(pid, 'SIGKILL');
  };
  try {
    const deadline = Date.now() + readyMs;
    for (;;) {
      if (!alive(proc)) throw new Error(`tallyd serve exited (${proc.exitCode ?? proc.signalCode}) before it was ready:\n${out}`);
      if (port !== 0) {
        try {
          if ((await readyz(port, 5000)) === 200) break;
        } catch {
          // not answering yet
        }
      }
      if (Date.now() > deadline) throw new Error(`tallyd serve was not ready within ${readyMs} ms (port ${port || 'not reported'}):\n${out}`);
      await sleep(port === 0 ? 25 : 100);
    }
  } catch (e) {
    kill();
    throw e;
  }
  return { proc, pid, url: `http://127.0.0.1:${port}`, port, output: () => out, exited, kill };
}

/** Waits for the child to exit, at most `ms`; rejects with its output after that. */
export function waitExit(c: ServeProcess, ms: number): Promise<Exit> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    c.exited.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`tallyd serve did not exit within ${ms} ms:\n${c.output()}`)), ms);
    }),
  ]);
}

/** SIGKILLs every child `startServe` started that is still running, and waits until they are gone. */
export async function killAllServes(): Promise<void> {
  const procs = [...live];
  const gone = procs.map((p) => (alive(p) ? new Promise<void>((r) => p.once('exit', () => r())) : Promise.resolve()));
  for (const p of procs) if (alive(p) && p.pid !== undefined) process.kill(p.pid, 'SIGKILL');
  await Promise.all(gone);
}
