/**
 * The command line's rough edges, through the real bin: every command turns
 * an unknown flag, a flag without its value and a bad value into exit 2 with
 * its usage; durations take the config's syntax; `tallyd stats` alone lists
 * its subcommands; `replay` draws a progress line on a terminal only.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, requireBuild, ROOT, startTestServer, stopTestServer, type Running } from './helpers.js';

requireBuild();

const USAGE: Record<string, string> = {
  serve: 'Usage: tallyd serve',
  'check-config': 'Usage: tallyd check-config',
  aggregate: 'Usage: tallyd aggregate',
  'stats dump': 'Usage: tallyd stats dump',
  'stats add': 'Usage: tallyd stats add',
  'stats remove': 'Usage: tallyd stats remove',
  load: 'Usage: tallyd load',
  replay: 'Usage: tallyd replay',
};

describe('usage errors: exit 2 with the command’s usage', () => {
  const url = 'http://127.0.0.1:1';
  const cases: [string, string[], string][] = [
    ['serve', ['--bogus'], "unknown option '--bogus'"],
    ['serve', ['--config'], "option '-c, --config <value>' needs a value"],
    ['serve', ['--shards', 'abc'], "--shards: must be an integer from 1 to 1024, not 'abc'"],
    ['serve', ['--listen', 'nowhere'], '--listen:'],
    ['serve', ['--drain-timeout', '10x'], "--drain-timeout must be a duration of more than 0 (e.g. 10s, 500ms, 2m; a bare number is seconds), not '10x'"],
    ['serve', ['stray'], "unexpected argument 'stray'"],
    ['check-config', ['--bogus', 'x.conf'], "unknown option '--bogus'"],
    ['check-config', [], 'expected exactly one FILE'],
    ['aggregate', ['--fields'], "option '-f, --fields <value>' needs a value"],
    ['aggregate', ['--format', 'xml', 'x.jsonl'], '--format must be one of'],
    ['stats dump', ['--bogus', '--url', url], "unknown option '--bogus'"],
    ['stats dump', ['--url'], "option '--url <value>' needs a value"],
    ['stats add', ['--url', url], 'missing name parameter'],
    ['stats remove', ['m', '--url', 'ftp://x'], "--url: 'ftp://x' is not an http:// or https:// URL"],
    ['load', ['--url', url, '--duration', 'soon'], "--duration must be a duration of more than 0 (e.g. 10s, 500ms, 2m; a bare number is seconds), not 'soon'"],
    ['load', ['--url', url, '--events', '10', '--timeout', '0'], '--timeout must be a duration of more than 0'],
    ['load', ['--url', url], 'refusing to run unbounded'],
    ['load', ['--url', url, '--events', 'many'], "--events must be an integer >= 1 (k and M suffixes allowed), not 'many'"],
    ['replay', ['--bogus'], "unknown option '--bogus'"],
    ['replay', ['x.jsonl', '--url', url, '--timeout', '3 fortnights'], "--timeout must be a duration of more than 0 (e.g. 10s, 500ms, 2m; a bare number is seconds), not '3 fortnights'"],
    ['replay', [], 'missing FILE parameter'],
  ];
  it.each(cases)('tallyd %s %j', async (cmd, args, message) => {
    const r = await cli([...cmd.split(' '), ...args]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const [first, blank, usage] = r.stderr.split('\n');
    expect(first).toContain(`tallyd ${cmd}: ${message}`);
    expect(blank).toBe('');
    expect(usage).toContain(USAGE[cmd]);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('a file that cannot be read is exit 2 without the usage', async () => {
    const r = await cli(['replay', join(tmpdir(), 'no-such-file-tallyd.jsonl'), '--url', url]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`tallyd replay: ${join(tmpdir(), 'no-such-file-tallyd.jsonl')}: No such file or directory\n`);
  });
});

describe('tallyd stats', () => {
  it('alone lists its subcommands, exit 2', async () => {
    const r = await cli(['stats']);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/^Usage: tallyd stats <subcommand> \[options\]\n/);
    for (const sub of ['dump', 'add', 'remove']) expect(r.stdout).toMatch(new RegExp(`^  ${sub} +\\S`, 'm'));
  });

  it('with --help lists them, exit 0; an unknown one is named, exit 2', async () => {
    const [help, unknown] = await Promise.all([cli(['stats', '--help']), cli(['stats', 'frobnicate'])]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Subcommands:');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^tallyd stats: unknown subcommand 'frobnicate'\n\nUsage: tallyd stats/);
  });
});

describe('durations in the config’s syntax, and replay’s progress line', () => {
  let srv: Running;
  let dir: string;
  beforeAll(async () => {
    srv = await startTestServer('metric ev {\n  filter = event=ev\n}\n');
    dir = mkdtempSync(join(tmpdir(), 'tallyd-usage-'));
  });
  afterAll(async () => {
    await stopTestServer(srv);
    rmSync(dir, { recursive: true, force: true });
  });

  it('load takes --duration 500ms and --timeout 10s', async () => {
    const r = await cli(['load', '--url', srv.url, '--duration', '500ms', '--timeout', '10s', '--rate', '2000', '--batch', '100', '--json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { stopped_by: string; elapsed_s: number; events_accepted: number };
    expect(report.stopped_by).toBe('duration');
    expect(report.events_accepted).toBeGreaterThan(0);
    expect(report.elapsed_s).toBeLessThan(5);
  });

  it('replay takes --timeout 2s; without a terminal it prints no progress line', async () => {
    const file = join(dir, 'few.jsonl');
    writeFileSync(file, '{"event":"ev","duration":1}\n'.repeat(10));
    const r = await cli(['replay', file, '--url', srv.url, '--timeout', '2s']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${file}: 10 events, 10 accepted, 0 rejected (1 batches, ${/\(1 batches, ([0-9.]+) s\)/.exec(r.stdout)?.[1]} s)\n`);
    expect(r.stderr).toBe('');
  });

  it('replay draws its progress line on a terminal (a pty from script(1))', async () => {
    const file = join(dir, 'many.jsonl');
    writeFileSync(file, '{"event":"ev","duration":1}\n'.repeat(300_000));
    const cmd = `${process.execPath} ${join(ROOT, 'bin', 'tallyd.js')} replay ${file} --url ${srv.url} --batch 500`;
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn('script', ['-qfec', cmd, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (text += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (text += d));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`replay under script(1) still running:\n${text}`));
      }, 120_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve(text);
        else reject(new Error(`exit ${code}:\n${text}`));
      });
    });
    expect(out).toMatch(/\r\x1b\[K\S+many\.jsonl: \d+ events sent \(\d+ accepted, 0 rejected\), \d+ events\/s, \d+\.\d s/);
    expect(out).toContain(`${file}: 300000 events, 300000 accepted, 0 rejected`);
  }, 130_000);
});
