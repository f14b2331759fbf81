/**
 * Pieces shared by the hardening suite: raw sockets that misbehave on
 * purpose, `tallyd serve` as a child process (stopped by PID), its resident
 * memory, and bounded waits (a deadline, never a timing assertion).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { http, sleep } from '../server/helpers.js';

export const BIN = fileURLToPath(new URL('../../bin/tallyd.js', import.meta.url));

/** Resolves once `cond()` holds; throws with `what` after `ms` (a bound on the wait, not an assertion on time). */
export async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string, stepMs = 50): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`gave up after ${ms} ms waiting for: ${what}`);
    await sleep(stepMs);
  }
}

/** A TCP connection to host:port that records what it receives and when it is closed. */
export class RawClient {
  readonly socket: Socket;
  received = '';
  closed = false;
  private opened: Promise<void>;

  constructor(port: number, host = '127.0.0.1') {
    this.socket = connect(port, host);
    this.socket.on('data', (d: Buffer) => {
      // cap what is kept: a client that floods must not grow the test's memory
      if (this.received.length < 1 << 16) this.received += d.toString('latin1');
    });
    this.socket.on('close', () => (this.closed = true));
    this.socket.on('error', () => undefined);
    this.opened = new Promise((resolve) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('close', () => resolve());
    });
  }

  ready(): Promise<void> {
    return this.opened;
  }

  write(data: string | Buffer): void {
    if (!this.socket.destroyed) this.socket.write(data);
  }

  /** First line of what was received (`HTTP/1.1 408 Request Timeout`), or ''. */
  get statusLine(): string {
    return this.received.split('\r\n')[0] ?? '';
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Opens `n` raw connections and waits until each is established. */
export async function openMany(n: number, port: number, host = '127.0.0.1'): Promise<RawClient[]> {
  const out: RawClient[] = [];
  for (let i = 0; i < n; i++) out.push(new RawClient(port, host));
  await Promise.all(out.map((c) => c.ready()));
  return out;
}

/** The handshake of a WebSocket client, as raw bytes. */
export function wsHandshake(path: string, extra = ''): string {
  return (
    `GET ${path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`
  );
}

/** One masked (mask 0, so the payload is as is) client frame. */
export function wsFrame(payload: Buffer, opcode = 0x2): Buffer {
  const n = payload.length;
  const head =
    n < 126
      ? Buffer.from([0x80 | opcode, 0x80 | n])
      : n < 65536
        ? Buffer.from([0x80 | opcode, 0x80 | 126, n >> 8, n & 0xff])
        : Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | 127, 0, 0, 0, 0]), Buffer.from([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff])]);
  return Buffer.concat([head, Buffer.alloc(4), payload]);
}

export function freePort(): Promise<number> {
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

/** Resident memory of a process, bytes (Linux /proc), or null elsewhere. */
export function rssOf(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? null : Number(m[1]) * 1024;
  } catch {
    return null;
  }
}

export interface ServeChild {
  proc: ChildProcess;
  pid: number;
  url: string;
  port: number;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL by PID if it is still running */
  kill(): void;
}

/** `tallyd serve` on a free loopback port, resolved once /readyz answers 200. */
export async function serve(args: string[], env: Record<string, string> = {}): Promise<ServeChild> {
  const port = await freePort();
  const proc = spawn(process.execPath, [BIN, 'serve', '--listen', `127.0.0.1:${port}`, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TALLYD_LOG_LEVEL: 'info', ...env },
  });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-200_000)));
  proc.stderr?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-200_000)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    proc.once('exit', (code, signal) => res({ code, signal })),
  );
  const pid = proc.pid as number;
  const child: ServeChild = {
    proc,
    pid,
    url: `http://127.0.0.1:${port}`,
    port,
    output: () => out,
    exited,
    kill: () => {
      if (proc.exitCode === null && proc.signalCode === null) process.kill(pid, 'SIGKILL');
    },
  };
  try {
    await until(
      async () => {
        if (proc.exitCode !== null) throw new Error(`tallyd serve exited with ${proc.exitCode}:\n${out}`);
        try {
          return (await http(child.url, '/readyz', { timeoutMs: 2000 })).status === 200;
        } catch {
          return false;
        }
      },
      30_000,
      `tallyd serve to become ready:\n${out}`,
      100,
    );
  } catch (e) {
    child.kill();
    throw e;
  }
  return child;
}

/** Waits for the child to exit, at most `ms`. */
export function waitExit(c: ServeChild, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    c.exited.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`tallyd serve did not exit within ${ms} ms:\n${c.output()}`)), ms);
    }),
  ]);
}
