/**
 * Pieces shared by the hardening suite: raw sockets that misbehave on
 * purpose, `tallyd serve` as a child process (stopped by PID), its resident
 * memory, and bounded waits (a deadline, never a timing assertion).
 */
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { startServe, waitExit, type ServeProcess } from '../helpers/serve.js';

export { until } from '../helpers/wait.js';

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

/** Resident memory of a process, bytes (Linux /proc), or null elsewhere. */
export function rssOf(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? null : Number(m[1]) * 1024;
  } catch {
    return null;
  }
}

/** `tallyd serve` as a child process (see test/helpers/serve.ts). */
export type ServeChild = ServeProcess;

/** `tallyd serve` on a port the kernel picks, resolved once /readyz answers 200. */
export function serve(args: string[], env: Record<string, string> = {}): Promise<ServeChild> {
  return startServe(args, { env });
}

export { waitExit };
