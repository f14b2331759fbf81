/**
 * readInto (src/dovecot/onread.ts): an accepted unix-socket connection read
 * into one reused buffer gives every byte its client sent, in order, across
 * many reads and connections sharing the buffer; pause() stops the reads
 * and resume() starts them again; the end of the stream still closes it.
 * The same holds through 'data' (the fallback), and on this Node.js the
 * one-buffer way is the one taken.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readInto } from '../../src/dovecot/onread.js';
import { until } from '../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'tallyd-onread-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Received {
  socket: Socket;
  parts: Buffer[];
  closed: boolean;
  userBuffer: boolean;
}

async function listen(path: string, userBuffer: boolean, shared: Buffer): Promise<{ server: Server; conns: Received[] }> {
  const conns: Received[] = [];
  const server = createServer({ pauseOnConnect: true }, (socket) => {
    const r: Received = { socket, parts: [], closed: false, userBuffer: false };
    conns.push(r);
    socket.on('close', () => (r.closed = true));
    // what is kept of a read is copied: the next read overwrites the shared buffer
    r.userBuffer = readInto(socket, shared, (chunk) => r.parts.push(Buffer.from(chunk)), userBuffer);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return { server, conns };
}

/** `n` bytes that tell their positions apart (a misplaced or repeated read shows). */
function pattern(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return b;
}

describe.each([true, false])('readInto, one reused buffer asked: %s', (userBuffer) => {
  it('gives every byte of three concurrent clients in order, and the end closes each', async () => {
    const path = join(dir, `many-${userBuffer}.sock`);
    // a small shared buffer: many reads per client, all three landing in it
    const { server, conns } = await listen(path, userBuffer, Buffer.alloc(4096));
    const sent = [pattern(300_000, 1), pattern(123_457, 2), pattern(1, 3)];
    const clients = sent.map((data) => {
      const c = connect(path);
      // in pieces of odd sizes, so reads and writes do not line up
      for (let at = 0; at < data.length; at += 7919) c.write(data.subarray(at, at + 7919));
      c.end();
      return c;
    });
    await until(() => conns.length === 3 && conns.every((r) => r.closed), 10_000, 'three clients read to their end');
    for (const r of conns) expect(r.userBuffer).toBe(userBuffer);
    const got = conns.map((r) => Buffer.concat(r.parts)).sort((a, b) => b.length - a.length);
    expect(got.map((g) => g.length)).toEqual([300_000, 123_457, 1]);
    expect(got[0]!.equals(sent[0]!)).toBe(true);
    expect(got[1]!.equals(sent[1]!)).toBe(true);
    expect(got[2]!.equals(sent[2]!)).toBe(true);
    clients.forEach((c) => c.destroy());
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('reads nothing while paused and the rest once resumed', async () => {
    const path = join(dir, `pause-${userBuffer}.sock`);
    const { server, conns } = await listen(path, userBuffer, Buffer.alloc(65536));
    const c = connect(path);
    c.write(pattern(1000, 4));
    await until(() => conns.length === 1 && conns[0]!.parts.length > 0, 5000, 'the first read');
    const r = conns[0]!;
    await until(() => Buffer.concat(r.parts).length === 1000, 5000, 'the first 1000 bytes');
    r.socket.pause();
    c.write(pattern(5000, 5));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(Buffer.concat(r.parts).length).toBe(1000);
    r.socket.resume();
    await until(() => Buffer.concat(r.parts).length === 6000, 5000, 'the bytes sent while paused');
    expect(Buffer.concat(r.parts).subarray(1000).equals(pattern(5000, 5))).toBe(true);
    c.end();
    await until(() => r.closed, 5000, 'the close after the end');
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});
