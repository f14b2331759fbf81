/**
 * Child processes of the end-to-end harness: started with a time limit,
 * stopped by their PID only, and read from /proc (RSS, CPU time).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** every child started and not yet reaped: stopped on exit, by PID */
const live = new Set<ChildProcess>();

export function killAll(): void {
  for (const c of live) {
    if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

process.on('exit', killAll);

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** killed because it ran past its limit */
  timedOut: boolean;
}

export interface Child {
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly done: Promise<Finished>;
  /** SIGTERM by PID, SIGKILL after `graceMs` */
  stop(graceMs?: number): Promise<Finished>;
}

/** Starts `node args…`; it is killed (SIGKILL, by PID) after `limitMs`. */
export function startNode(args: readonly string[], limitMs: number, env?: NodeJS.ProcessEnv): Child {
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
  if (proc.pid === undefined) throw new Error(`could not start node ${args.join(' ')}`);
  const pid = proc.pid;
  live.add(proc);
  let stdout = '';
  let stderr = '';
  proc.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    if (stderr.length > 1 << 20) stderr = stderr.slice(-(1 << 19));
  });
  let timedOut = false;
  const limit = setTimeout(() => {
    timedOut = true;
    signal(pid, 'SIGKILL');
  }, limitMs);
  limit.unref();
  const done = new Promise<Finished>((resolve) => {
    proc.on('close', (code, sig) => {
      clearTimeout(limit);
      live.delete(proc);
      resolve({ code, signal: sig, stdout, stderr, timedOut });
    });
  });
  return {
    proc,
    pid,
    done,
    async stop(graceMs = 15_000): Promise<Finished> {
      if (proc.exitCode === null && proc.signalCode === null) {
        signal(pid, 'SIGTERM');
        const t = setTimeout(() => signal(pid, 'SIGKILL'), graceMs);
        t.unref();
        const f = await done;
        clearTimeout(t);
        return f;
      }
      return done;
    },
  };
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** resident set size of a process, bytes (VmRSS) */
export function rssOf(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

/** user + system CPU time of a process (all its threads), seconds */
export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // fields after the ")" of the command name: state is field 3; utime 14, stime 15
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(rest[11]) + Number(rest[12]);
  return ticks / 100;
}
