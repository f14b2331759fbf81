import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pack } from 'msgpackr';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'tallyd.js');
const dir = mkdtempSync(join(tmpdir(), 'tallyd-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tallyd(args: string[], input?: string): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { input, encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function file(name: string, content: string | Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

const CONF = file(
  'imap.conf',
  'metric imap_command {\n  filter = event=imap_command_finished\n  group_by = cmd_name tagged_reply_state\n}\nmetric values {\n  filter = event=v\n}\n',
);
const imap = (cmd: string, d: number) => ({ event: 'imap_command_finished', duration: d, fields: { cmd_name: cmd, tagged_reply_state: 'OK' } });

describe('tallyd aggregate', () => {
  it('prints exactly the contract §5.4 figures for its vector', () => {
    const events = file('ev.ndjson', [imap('SELECT', 100), imap('SELECT', 300), imap('FETCH', 50)].map((e) => JSON.stringify(e)).join('\n'));
    const r = tallyd(['aggregate', '--config', CONF, events]);
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      [
        'metric_name\tfield\tcount\tsum\tmin\tmax\tavg\tmedian\tstddev\t%95',
        'imap_command\tduration\t3\t450\t50\t300\t150.00\t100\t108.01\t300',
        'imap_command_SELECT\tduration\t2\t400\t100\t300\t200.00\t200\t100.00\t300',
        'imap_command_SELECT_OK\tduration\t2\t400\t100\t300\t200.00\t200\t100.00\t300',
        'imap_command_FETCH\tduration\t1\t50\t50\t50\t50.00\t50\t0.00\t50',
        'imap_command_FETCH_OK\tduration\t1\t50\t50\t50\t50.00\t50\t0.00\t50',
        'values\tduration\t0\t0\t0\t0\t0.00\t0\t0.00\t0',
        '',
      ].join('\n'),
    );
  });

  it('computes median, nearest-rank percentiles and stddev as contract §5.4 says', () => {
    const v20 = file('v20.json', JSON.stringify(Array.from({ length: 20 }, (_, i) => ({ event: 'v', duration: i + 1 }))));
    const r = tallyd(['aggregate', '-c', CONF, '-f', 'count median %95 %50,%99.9', v20]);
    expect(r.out.split('\n')).toContain('values\tduration\t20\t10\t19\t10\t20');
    const v8 = file('v8.json', JSON.stringify(Array.from({ length: 8 }, (_, i) => ({ event: 'v', duration: i + 1 }))));
    expect(tallyd(['aggregate', '-c', CONF, '-f', 'stddev avg', v8]).out.split('\n')).toContain('values\tduration\t2.29\t4.50');
  });

  it('reads msgpack by name, JSON or NDJSON by content, and stdin', () => {
    const mp = file('ev.msgpack', pack([imap('SELECT', 10), imap('NOOP', 20)]));
    const r = tallyd(['aggregate', '-c', CONF, '-f', 'count sum', mp, '-'], JSON.stringify(imap('NOOP', 30)) + '\n' + JSON.stringify(imap('NOOP', 1)));
    expect(r.code).toBe(0);
    expect(r.out).toContain('imap_command\tduration\t4\t61\n');
    expect(r.out).toContain('imap_command_NOOP\tduration\t3\t51\n');
  });

  it('prints every export format, and reports rejected events on stderr', () => {
    const events = file('mixed.ndjson', `${JSON.stringify(imap('SELECT', 1000))}\n{"event": 5}\n`);
    const om = tallyd(['aggregate', '-c', CONF, '--format', 'openmetrics', events]);
    expect(om.code).toBe(0);
    expect(om.out).toContain('dovecot_imap_command_total{cmd_name="SELECT",tagged_reply_state="OK"} 1\n');
    expect(om.out.endsWith('# EOF\n')).toBe(true);
    expect(om.err).toContain(`${events}:2: invalid_name`);
    expect(tallyd(['aggregate', '-c', CONF, '--format', 'prometheus', events]).out).toContain('# TYPE dovecot_imap_command_total counter');
    const json = JSON.parse(tallyd(['aggregate', '-c', CONF, '--format', 'json', events]).out) as Record<string, unknown>;
    expect(json).toHaveProperty('dovecot_imap_command_total');
    expect(tallyd(['aggregate', '-c', CONF, '--format', 'dovecot', events]).out).toContain('dovecot_imap_command_count 1');
  });

  it('fails clearly on a bad format, a missing file and an unframeable file', () => {
    expect(tallyd(['aggregate', '--format', 'xml', CONF]).code).toBe(2);
    const missing = tallyd(['aggregate', '-c', CONF, join(dir, 'nope.json')]);
    expect(missing.code).not.toBe(0);
    expect(missing.err).toContain('nope.json');
    const broken = tallyd(['aggregate', '-c', CONF, file('broken.json', '[{"event":"v"},')]);
    expect(broken.code).not.toBe(0);
    expect(broken.err).toMatch(/broken\.json:1: invalid JSON: unexpected end of input/);
  });
});

describe('tallyd check-config', () => {
  it('prints the resolved metrics and exits 0', () => {
    const r = tallyd(['check-config', CONF]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('metric imap_command {');
    expect(r.out).toContain('group_by = cmd_name tagged_reply_state');
  });

  it('exits 1 with file:line:col on an error', () => {
    const bad = file('bad.conf', 'metric m {\n  filter = event=a AND\n}\n');
    const r = tallyd(['check-config', bad]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2:\\d+: .*event filter: syntax error`));
  });
});
