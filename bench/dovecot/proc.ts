/**
 * Processes of the Dovecot bench: started with a log file and a time limit,
 * stopped by their PID only (SIGTERM, then SIGKILL), CPU time from
 * /proc/<pid>/stat in clock ticks, children found through /proc.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, readdirSync, readFileSync, closeSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The absolute path of an executable on PATH or in the sbin directories, or null. */
export function which(name: string): string | null {
  const dirs = (process.env['PATH'] ?? '').split(delimiter).concat(['/usr/local/sbin', '/usr/sbin', '/sbin']);
  for (const d of dirs) if (d !== '' && existsSync(join(d, name))) return join(d, name);
  return null;
}

/** Runs a command to completion; throws with its output when it fails. */
export function run(cmd: string, args: readonly string[], timeoutMs = 30_000): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs });
  if (r.error !== undefined) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

let clkTck: number | undefined;
/** `getconf CLK_TCK` (the unit of utime/stime in /proc/<pid>/stat), 100 if getconf fails */
export function clockTicks(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(run('getconf', ['CLK_TCK']).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

function statFields(pid: number, tid?: number): string[] {
  const stat = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
  // after the ")" of the command name: field 3 (state) onwards
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** utime + stime of a process (every thread), seconds */
export function cpuSeconds(pid: number): number {
  const f = statFields(pid);
  return (Number(f[11]) + Number(f[12])) / clockTicks();
}

/** utime + stime of each thread of a process, seconds, by thread id (the main thread's id is the PID) */
export function threadCpuSeconds(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const d of readdirSync(`/proc/${pid}/task`)) {
    try {
      const f = statFields(pid, Number(d));
      out.set(Number(d), (Number(f[11]) + Number(f[12])) / clockTicks());
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** PIDs whose parent is `ppid` and whose comm is `comm` */
export function childrenNamed(ppid: number, comm: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const pid = Number(d);
      const f = statFields(pid);
      if (Number(f[1]) !== ppid) continue;
      const name = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (name === comm || cmdline.includes(`/${comm}`)) out.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** every child started and not yet reaped: SIGKILLed by PID if the bench exits early */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) signal(c.pid, 'SIGKILL');
});

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

export interface Child {
  readonly pid: number;
  readonly logFile: string;
  exitedYet(): boolean;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM by PID, SIGKILL after `graceMs`; resolves once it has exited */
  stop(graceMs?: number): Promise<void>;
}

/** Starts `cmd args…` with stdout and stderr in `logFile`; SIGKILLed after `limitMs`. */
export function startChild(cmd: string, args: readonly string[], logFile: string, limitMs: number, cwd?: string): Child {
  const fd = openSync(logFile, 'a');
  const proc = spawn(cmd, args, { stdio: ['ignore', fd, fd], cwd });
  closeSync(fd);
  if (proc.pid === undefined) throw new Error(`${cmd} did not start`);
  const pid = proc.pid;
  live.add(proc);
  let done = false;
  const limit = setTimeout(() => signal(pid, 'SIGKILL'), limitMs);
  limit.unref();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, sig) => {
      done = true;
      clearTimeout(limit);
      live.delete(proc);
      resolve({ code, signal: sig });
    });
  });
  return {
    pid,
    logFile,
    exited,
    exitedYet: () => done,
    async stop(graceMs = 15_000): Promise<void> {
      if (done) return;
      signal(pid, 'SIGTERM');
      const t = setTimeout(() => signal(pid, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(t);
    },
  };
}

export { freePort } from '../e2e/server.js';

/** The last lines of a log file, for failure messages. */
export function tail(file: string, lines = 20): string {
  try {
    return `--- ${file} ---\n${readFileSync(file, 'utf8').split('\n').slice(-lines - 1).join('\n')}`;
  } catch {
    return `--- ${file}: unreadable ---`;
  }
}
