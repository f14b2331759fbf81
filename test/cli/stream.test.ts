/**
 * `tallyd aggregate` reads its files as streams: the peak RSS of the real
 * bin over a file much larger than the bound stays under it, counts are
 * exact across chunk boundaries, and rejections name FILE:LINE (FILE: event
 * I for msgpack) however deep into the file they are.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'tallyd.js');
const dir = mkdtempSync(join(tmpdir(), 'tallyd-stream-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Prints the child's peak RSS (bytes) to stderr at exit. */
const RSS_HOOK = `data:text/javascript,process.on("exit",()=>process.stderr.write("maxrss="+process.resourceUsage().maxRSS*1024+"\\n"))`;

function tallyd(args: string[], timeout = 120_000): { code: number | null; out: string; err: string; maxRss: number } {
  const r = spawnSync(process.execPath, ['--max-old-space-size=96', '--import', RSS_HOOK, BIN, ...args], { encoding: 'utf8', timeout, maxBuffer: 64 << 20 });
  const m = /maxrss=(\d+)/.exec(r.stderr);
  return { code: r.status, out: r.stdout, err: r.stderr, maxRss: m === null ? NaN : Number(m[1]) };
}

const CONF = join(dir, 'imap.conf');
writeFileSync(CONF, 'metric imap_command {\n  filter = event=imap_command_finished\n  group_by = cmd_name\n}\n');
const CMDS = ['SELECT', 'FETCH', 'NOOP', 'IDLE'];
const ev = (i: number) => ({ event: 'imap_command_finished', duration: i % 1000, fields: { cmd_name: CMDS[i % 4], user: `user${i % 997}@example.com`, pad: 'x'.repeat(40) } });

/** Writes `mb` MiB of events in `kind` layout; returns how many events. */
function generate(path: string, mb: number, kind: 'ndjson' | 'json'): number {
  const fd = openSync(path, 'w');
  let bytes = 0;
  let i = 0;
  if (kind === 'json') writeSync(fd, '[\n');
  while (bytes < mb * 1024 * 1024) {
    const parts: string[] = [];
    for (let k = 0; k < 4000; k++, i++) parts.push((kind === 'json' && i > 0 ? ',\n' : '') + JSON.stringify(ev(i)) + (kind === 'ndjson' ? '\n' : ''));
    const s = parts.join('');
    writeSync(fd, s);
    bytes += s.length;
  }
  if (kind === 'json') writeSync(fd, '\n]\n');
  closeSync(fd);
  return i;
}

describe('tallyd aggregate streams its input', () => {
  it('aggregates a 320 MiB NDJSON file with a peak RSS under 160 MiB', { timeout: 180_000 }, () => {
    const path = join(dir, 'big.ndjson');
    const n = generate(path, 320, 'ndjson');
    const r = tallyd(['aggregate', '-c', CONF, '-f', 'count', path]);
    rmSync(path);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`imap_command\tduration\t${n}\n`);
    expect(r.out).toContain(`imap_command_FETCH\tduration\t${Math.floor((n + 2) / 4)}\n`);
    expect(r.maxRss).toBeLessThan(160 * 1024 * 1024);
  });

  it('aggregates a 320 MiB JSON array with a peak RSS under 160 MiB', { timeout: 180_000 }, () => {
    const path = join(dir, 'big.json');
    const n = generate(path, 320, 'json');
    const r = tallyd(['aggregate', '-c', CONF, '-f', 'count', path]);
    rmSync(path);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`imap_command\tduration\t${n}\n`);
    expect(r.maxRss).toBeLessThan(160 * 1024 * 1024);
  });

  it('aggregates a 256 MiB msgpack array with a peak RSS under 160 MiB', { timeout: 180_000 }, () => {
    const path = join(dir, 'big.msgpack');
    const packr = new Packr({ useRecords: false });
    // one top-level array header (0xdd, u32 count), then its elements, written as they are encoded
    const per = 4000;
    const one = packr.pack(ev(0)).length;
    const n = Math.ceil((256 * 1024 * 1024) / one / per) * per;
    const fd = openSync(path, 'w');
    const head = Buffer.alloc(5);
    head[0] = 0xdd;
    head.writeUInt32BE(n, 1);
    writeSync(fd, head);
    for (let i = 0; i < n; i += per) writeSync(fd, Buffer.concat(Array.from({ length: per }, (_, k) => packr.pack(ev(i + k)))));
    closeSync(fd);
    const r = tallyd(['aggregate', '-c', CONF, '-f', 'count', path]);
    rmSync(path);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`imap_command\tduration\t${n}\n`);
    expect(r.maxRss).toBeLessThan(160 * 1024 * 1024);
  });

  it('names FILE:LINE of rejected events past the first chunks, in NDJSON and in a JSON array', () => {
    const lines = Array.from({ length: 30_000 }, (_, i) => JSON.stringify(ev(i)));
    lines[24_999] = '{"event": 5}';
    lines[29_000] = 'not json';
    const nd = join(dir, 'bad.ndjson');
    writeFileSync(nd, lines.join('\n') + '\n');
    const r = tallyd(['aggregate', '-c', CONF, '-f', 'count', nd]);
    expect(r.code).toBe(0);
    expect(r.err).toContain(`${nd}:25000: invalid_name`);
    expect(r.err).toMatch(new RegExp(`${nd.replace(/[.]/g, '\\.')}:29001: invalid_json: Unexpected token`));
    expect(r.out).toContain('imap_command\tduration\t29998\n');

    const js = join(dir, 'bad.json');
    writeFileSync(js, '[\n' + lines.slice(0, 28_000).join(',\n') + '\n]\n');
    const a = tallyd(['aggregate', '-c', CONF, '-f', 'count', js]);
    expect(a.code).toBe(0);
    expect(a.err).toContain(`${js}:25001: invalid_name`);
    expect(a.out).toContain('imap_command\tduration\t27999\n');

    const cut = join(dir, 'cut.json');
    writeFileSync(cut, '[\n' + lines.slice(0, 100).join(',\n') + ',\n{"event": "imap_command_finished",\n');
    const c = tallyd(['aggregate', '-c', CONF, cut]);
    expect(c.code).toBe(1);
    expect(c.err).toContain(`${cut}:102: invalid JSON: unexpected end of input`);
  });

  it('names FILE: event I in msgpack, and a file cut inside a value is an error', () => {
    const packr = new Packr({ useRecords: false });
    const events: unknown[] = Array.from({ length: 10_000 }, (_, i) => ev(i));
    events[9_000] = { event: 17 };
    const path = join(dir, 'bad.msgpack');
    const bytes = Buffer.concat([packr.pack(events.slice(0, 5000)), packr.pack(events.slice(5000))]);
    writeFileSync(path, bytes);
    const r = tallyd(['aggregate', '-c', CONF, '-f', 'count', path]);
    expect(r.code).toBe(0);
    expect(r.err).toContain(`${path}: event 9000: invalid_name`);
    expect(r.out).toContain('imap_command\tduration\t9999\n');
    const cut = join(dir, 'cut.msgpack');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 3));
    const c = tallyd(['aggregate', '-c', CONF, cut]);
    expect(c.code).toBe(1);
    expect(c.err).toContain(`${cut}: event 9999 (byte `);
    expect(c.err).toContain('the file ends inside a value');
  });

  it('reads a pretty-printed JSON event, and stdin', () => {
    const pretty = join(dir, 'pretty.json');
    writeFileSync(pretty, JSON.stringify(ev(1), null, 2) + '\n' + JSON.stringify(ev(2), null, 2));
    const r = tallyd(['aggregate', '-c', CONF, '-f', 'count', pretty]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('imap_command\tduration\t2\n');
    const s = spawnSync(process.execPath, [BIN, 'aggregate', '-c', CONF, '-f', 'count', '-'], { input: `${JSON.stringify(ev(1))}\n{"event":1}\n`, encoding: 'utf8' });
    expect(s.status).toBe(0);
    expect(s.stderr).toContain('(stdin):2: invalid_name');
    expect(s.stdout).toContain('imap_command\tduration\t1\n');
  });
});
