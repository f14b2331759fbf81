/**
 * Shared pieces of the interop suite: finding the peer binaries (skip
 * outside CI, fail under CI), starting and stopping child processes by PID,
 * free loopback ports, bounded polling, HTTP, and parsers for the dump table
 * and for text expositions.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'vitest';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const TALLYD_BIN = join(REPO, 'bin', 'tallyd.js');
const TALLYD_MAIN = join(REPO, 'dist', 'src', 'cli', 'main.js');

/** CI set (and not empty or `false`): a missing peer fails instead of skipping. */
export const CI_REQUIRED = process.env['CI'] !== undefined && process.env['CI'] !== '' && process.env['CI'] !== 'false';

/** The absolute path of an executable on PATH (or in the sbin directories), or null. */
export function which(name: string): string | null {
  const dirs = (process.env['PATH'] ?? '').split(delimiter).concat(['/usr/local/sbin', '/usr/sbin', '/sbin']);
  for (const d of dirs) {
    if (d === '') continue;
    const p = join(d, name);
    if (existsSync(p)) return p;
  }
  return null;
}

export interface Peers {
  /** binary name → absolute path */
  paths: Record<string, string>;
  /** binaries not found */
  missing: string[];
}

export function findPeers(names: string[]): Peers {
  const paths: Record<string, string> = {};
  const missing: string[] = [];
  for (const n of names) {
    const p = which(n);
    if (p === null) missing.push(n);
    else paths[n] = p;
  }
  return { paths, missing };
}

/**
 * The suite when every peer binary is there. Otherwise: outside CI it is
 * skipped with a message naming the Debian packages; under CI one test
 * stands in for it and fails with that message.
 */
export function peerSuite(p: Peers, packages: string, title: string, body: () => void): void {
  if (p.missing.length === 0) {
    describe(title, body);
    return;
  }
  const what = `${p.missing.join(', ')} not found (apt-get install ${packages})`;
  if (CI_REQUIRED) {
    test(`${title}: the peer binaries are installed`, () => {
      throw new Error(`${what}; CI must install them`);
    });
    return;
  }
  console.warn(`interop: ${what}: "${title}" skipped; with CI set it fails`);
  describe.skip(title, body);
}

/** tallyd is run from dist/, like `node bin/tallyd.js`: the build must exist. */
export function requireBuild(): void {
  if (!existsSync(TALLYD_MAIN)) throw new Error(`${TALLYD_MAIN} is missing: run \`npm run build\` first (npm test does)`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * `n` distinct TCP ports on 127.0.0.1 that were free a moment ago (the kernel
 * picks them; all are held until each is chosen, so none is picked twice).
 * Another process may take one before the peer binds it: a peer told such a
 * port is restarted on others when it says so (see `portTaken`). tallyd
 * itself needs none: it listens on port 0 and reports the port.
 */
export async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < n; i++) {
      const s = createServer();
      servers.push(s);
      ports.push(
        await new Promise<number>((res, rej) => {
          s.once('error', rej);
          s.listen(0, '127.0.0.1', () => {
            const a = s.address();
            res(typeof a === 'object' && a !== null ? a.port : 0);
          });
        }),
      );
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((res) => (s.listening ? s.close(() => res()) : res()))));
  }
}

/** Whether a peer's log says it could not listen because a port was taken meanwhile (Dovecot, Prometheus). */
export function portTaken(...logFiles: string[]): boolean {
  return logFiles.some((f) => {
    try {
      return /address already in use/i.test(readFileSync(f, 'utf8'));
    } catch {
      return false;
    }
  });
}

/** How many times a peer is started on fresh ports when the ones it was given were taken. */
export const PORT_ATTEMPTS = 5;

/** Thrown by a probe: stop polling at once (a peer died). */
export class Fatal extends Error {}

/**
 * Starts a peer on a free port and waits until `ready` resolves; when it
 * failed because the port was taken before the peer bound it (its log says
 * so), starts it again on another port, up to PORT_ATTEMPTS times. `ready`
 * throws (or times out) when the peer is not up.
 */
export async function startOnFreePort(
  start: (port: number, attempt: number) => Promise<Child> | Child,
  ready: (child: Child, port: number) => Promise<void>,
): Promise<{ child: Child; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const [port] = (await freePorts(1)) as [number];
    const child = await start(port, attempt);
    try {
      await ready(child, port);
      return { child, port };
    } catch (e) {
      await stopChild(child);
      if (attempt >= PORT_ATTEMPTS || !portTaken(child.logFile)) throw e;
      console.info(`interop ${child.name}: port ${port} was taken before it bound it; trying another`);
      rmSync(child.logFile, { force: true });
    }
  }
}

/**
 * Polls `probe` until it returns something other than undefined, or throws
 * after `timeoutMs` with the last state `describe` gives. A probe that
 * throws is retried, unless it throws `Fatal`.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  opts: { timeoutMs: number; intervalMs?: number; describe?: () => string },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
      lastError = undefined;
    } catch (e) {
      if (e instanceof Fatal) throw new Error(`${what}: ${e.message}${opts.describe === undefined ? '' : `\n${opts.describe()}`}`);
      lastError = e;
    }
    if (Date.now() >= deadline) {
      const state = opts.describe?.() ?? '';
      const err = lastError === undefined ? '' : ` (last error: ${(lastError as Error).message})`;
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${what}${err}${state === '' ? '' : `\n${state}`}`);
    }
    await sleep(opts.intervalMs ?? 200);
  }
}

// ---- child processes ---------------------------------------------------

export interface Child {
  name: string;
  proc: ChildProcess;
  pid: number;
  /** file holding the child's stdout and stderr */
  logFile: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exitedYet(): boolean;
}

/** Starts a child process with stdout and stderr appended to `logFile`. */
export function startChild(name: string, cmd: string, args: string[], logFile: string, opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Child {
  const out = createWriteStream(logFile, { flags: 'a' });
  const proc = spawn(cmd, args, { cwd: opts.cwd ?? REPO, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout?.pipe(out, { end: false });
  proc.stderr?.pipe(out, { end: false });
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    proc.once('exit', (code, signal) => {
      done = true;
      res({ code, signal });
    });
    proc.once('error', (err) => {
      done = true;
      out.write(`spawn error: ${err.message}\n`);
      res({ code: null, signal: null });
    });
  });
  if (proc.pid === undefined) throw new Error(`${name}: ${cmd} did not start`);
  return { name, proc, pid: proc.pid, logFile, exited, exitedYet: () => done };
}

/** SIGTERM to the child's PID, SIGKILL after `graceMs`; resolves once it has exited. */
export async function stopChild(c: Child | undefined, graceMs = 15_000): Promise<void> {
  if (c === undefined || c.exitedYet()) return;
  try {
    process.kill(c.pid, 'SIGTERM');
  } catch {
    return;
  }
  const timer = sleep(graceMs).then(() => 'timeout' as const);
  if ((await Promise.race([c.exited.then(() => 'exited' as const), timer])) === 'timeout') {
    try {
      process.kill(c.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    await c.exited;
  }
}

/** The last lines of a log file, for failure messages. */
export function tail(file: string, lines = 30): string {
  try {
    const all = readFileSync(file, 'utf8').split('\n');
    return `--- ${file} (last ${lines} lines) ---\n${all.slice(-lines - 1).join('\n')}`;
  } catch {
    return `--- ${file}: unreadable ---`;
  }
}

/** Runs a command to completion; throws with its output when it fails. */
export function run(cmd: string, args: string[], timeoutMs = 30_000): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs });
  if (r.error !== undefined) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

// ---- tallyd ------------------------------------------------------------

export interface Tallyd {
  child: Child;
  url: string;
  port: number;
}

/**
 * `node bin/tallyd.js serve --config FILE --listen HOST:PORT`. By default
 * the kernel picks the port (127.0.0.1:0: no race with other listeners); the
 * port is read back from the "tallyd is serving" log line. Resolves once
 * /readyz answers 200.
 */
export async function startTallyd(config: string, logFile: string, opts: { listen?: string; args?: string[] } = {}): Promise<Tallyd> {
  requireBuild();
  const listen = opts.listen ?? '127.0.0.1:0';
  const args = [TALLYD_BIN, 'serve', '--config', config, '--listen', listen, '--log-level', 'info', ...(opts.args ?? [])];
  const child = startChild('tallyd', process.execPath, args, logFile);
  const port = await new Promise<number>((res, rej) => {
    let buf = '';
    const timer = setTimeout(() => rej(new Error(`tallyd did not report its port within 60 s\n${tail(logFile)}`)), 60_000);
    const onData = (d: Buffer): void => {
      buf += d.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const o = JSON.parse(line) as { msg?: string; listen?: string };
          if (o.msg === 'tallyd is serving' && typeof o.listen === 'string') {
            clearTimeout(timer);
            child.proc.stdout?.off('data', onData);
            res(Number(o.listen.slice(o.listen.lastIndexOf(':') + 1)));
            return;
          }
        } catch {
          /* not a log line */
        }
      }
    };
    child.proc.stdout?.on('data', onData);
    void child.exited.then(({ code, signal }) => {
      clearTimeout(timer);
      rej(new Error(`tallyd exited (${code ?? signal}) before serving\n${tail(logFile)}`));
    });
  });
  const wanted = Number(listen.slice(listen.lastIndexOf(':') + 1));
  if (wanted !== 0 && wanted !== port) throw new Error(`tallyd serves on ${port}, not on the ${wanted} asked for`);
  const url = `http://127.0.0.1:${port}`;
  await waitFor('tallyd /readyz', async () => ((await httpGet(`${url}/readyz`)).status === 200 ? true : undefined), {
    timeoutMs: 30_000,
    describe: () => tail(logFile),
  });
  return { child, url, port };
}

// ---- HTTP --------------------------------------------------------------

export interface Got {
  status: number;
  contentType: string;
  text: string;
}

export async function httpGet(url: string, headers: Record<string, string> = {}, timeoutMs = 15_000): Promise<Got> {
  const r = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
  return { status: r.status, contentType: r.headers.get('content-type') ?? '', text: await r.text() };
}

export async function httpPost(url: string, body: string, contentType: string, timeoutMs = 15_000): Promise<Got> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': contentType }, body, signal: AbortSignal.timeout(timeoutMs) });
  return { status: r.status, contentType: r.headers.get('content-type') ?? '', text: await r.text() };
}

// ---- dump table --------------------------------------------------------

export interface DumpRow {
  /** `metric_name` and `field` */
  key: string;
  cells: Record<string, string>;
}

export interface Dump {
  header: string[];
  rows: DumpRow[];
  byKey: Map<string, Record<string, string>>;
}

/** `doveadm stats dump`'s table (and tallyd's): tab-separated, header first. */
export function parseDump(text: string): Dump {
  const lines = text.split('\n').filter((l) => l !== '');
  const header = (lines[0] ?? '').split('\t');
  const rows: DumpRow[] = [];
  const byKey = new Map<string, Record<string, string>>();
  for (const line of lines.slice(1)) {
    const cells = line.split('\t');
    const row: Record<string, string> = {};
    header.forEach((h, i) => (row[h] = cells[i] ?? ''));
    const key = `${cells[0] ?? ''}\t${cells[1] ?? ''}`;
    rows.push({ key, cells: row });
    byKey.set(key, row);
  }
  return { header, rows, byKey };
}

/** The count of one row (`name` / `duration` by default), 0 when absent. */
export function countOf(d: Dump, name: string, field = 'duration'): number {
  return Number(d.byKey.get(`${name}\t${field}`)?.['count'] ?? 0);
}

// ---- text expositions --------------------------------------------------

export interface Exposition {
  /** `name{labels}` → value text, in order */
  samples: Map<string, string>;
  /** family → type */
  types: Map<string, string>;
  /** family → help text */
  helps: Map<string, string>;
  /** sample lines with a nameless label (`{"x"}`, `{="x"}`), kept apart */
  nameless: string[];
  /** sample keys seen more than once */
  duplicates: string[];
}

/**
 * Samples of an OpenMetrics/text exposition keyed by `name{labels}` with the
 * labels as printed (both peers print them in group_by order). A label with
 * no name (`{"duration_11_100"}`, `{="x"}`) — what Dovecot 2.3.19 prints
 * when a histogram's bucket sub-metrics leak into the next metric — goes to
 * `nameless`.
 */
export function parseExposition(text: string): Exposition {
  const samples = new Map<string, string>();
  const types = new Map<string, string>();
  const helps = new Map<string, string>();
  const nameless: string[] = [];
  const duplicates: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line === '# EOF') continue;
    const meta = /^# (TYPE|HELP) (\S+) ?(.*)$/.exec(line);
    if (meta !== null) {
      (meta[1] === 'TYPE' ? types : helps).set(meta[2] as string, meta[3] as string);
      continue;
    }
    if (line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    const key = line.slice(0, sp);
    if (/[{,](=|")/.test(key)) {
      nameless.push(line);
      continue;
    }
    if (samples.has(key)) duplicates.push(key);
    samples.set(key, line.slice(sp + 1));
  }
  return { samples, types, helps, nameless, duplicates };
}
