/**
 * `tallyd aggregate --assert`: the real bin over real files; passing,
 * failing and malformed assertions, and the JUnit file read back by a
 * strict XML reader.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'tallyd.js');
const dir = mkdtempSync(join(tmpdir(), 'tallyd-assert-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tallyd(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function file(name: string, content: string): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

const CONF = file(
  'gate.conf',
  [
    'metric imap_command {',
    '  filter = event=imap_command_finished',
    '  fields = net_in_bytes',
    '  group_by = cmd_name',
    '}',
    'metric auth_request_fail {',
    '  filter = event=auth_request_finished AND success=no',
    '}',
    '',
  ].join('\n'),
);
const EVENTS = file(
  'ev.ndjson',
  [
    ...Array.from({ length: 100 }, (_, i) => ({ event: 'imap_command_finished', duration: (i + 1) * 10, fields: { cmd_name: 'SELECT', net_in_bytes: 5 } })),
    { event: 'imap_command_finished', duration: 7, fields: { cmd_name: 'a<b&"c"', net_in_bytes: 1 } },
    { event: 'auth_request_finished', fields: { success: 'yes' } },
  ]
    .map((e) => JSON.stringify(e))
    .join('\n'),
);

interface XmlNode {
  name: string;
  attrs: Record<string, string>;
  children: XmlNode[];
  text: string;
}

/** A strict reader of the XML subset JUnit files use: throws on anything not well-formed. */
function parseXml(xml: string): XmlNode {
  let pos = 0;
  const decode = (s: string): string => {
    if (/&(?!(?:amp|lt|gt|quot|apos|#\d+);)/.test(s) || /[<]/.test(s)) throw new Error(`bad text ${JSON.stringify(s)}`);
    return s.replace(/&(amp|lt|gt|quot|apos|#\d+);/g, (_, e: string) =>
      e.startsWith('#') ? String.fromCodePoint(Number(e.slice(1))) : ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" } as Record<string, string>)[e] as string,
    );
  };
  const decl = /^<\?xml version="1\.0" encoding="UTF-8"\?>\n/.exec(xml);
  if (decl === null) throw new Error('no XML declaration');
  pos = decl[0].length;
  const element = (): XmlNode => {
    const open = /^<([A-Za-z_][\w.-]*)((?:\s+[A-Za-z_][\w.-]*="[^"<]*")*)\s*(\/?)>/.exec(xml.slice(pos));
    if (open === null) throw new Error(`bad tag at ${pos}: ${xml.slice(pos, pos + 40)}`);
    pos += open[0].length;
    const attrs: Record<string, string> = {};
    for (const m of (open[2] as string).matchAll(/([A-Za-z_][\w.-]*)="([^"]*)"/g)) {
      if (m[1] as string in attrs) throw new Error(`duplicate attribute ${m[1]}`);
      attrs[m[1] as string] = decode(m[2] as string);
    }
    const node: XmlNode = { name: open[1] as string, attrs, children: [], text: '' };
    if (open[3] === '/') return node;
    for (;;) {
      const lt = xml.indexOf('<', pos);
      if (lt < 0) throw new Error(`unclosed <${node.name}>`);
      node.text += decode(xml.slice(pos, lt));
      pos = lt;
      if (xml.startsWith(`</${node.name}>`, pos)) {
        pos += node.name.length + 3;
        return node;
      }
      if (xml.startsWith('</', pos)) throw new Error(`mismatched close at ${pos}`);
      node.children.push(element());
    }
  };
  const root = element();
  if (xml.slice(pos).trim() !== '') throw new Error('content after the root element');
  return root;
}

describe('tallyd aggregate --assert', () => {
  it('prints the dump, then a PASS line per assertion, and exits 0 when all pass', () => {
    const r = tallyd([
      'aggregate', '-c', CONF, '-f', 'count %99', EVENTS,
      '--assert', 'imap_command_SELECT duration %99 <= 5000',
      '--assert', 'auth_request_fail count == 0',
      '--assert', 'imap_command_SELECT net_in_bytes sum == 500',
      '--assert', 'imap_command avg > 400.5',
    ]);
    expect(r.code, r.err).toBe(0);
    const lines = r.out.split('\n');
    expect(lines[0]).toBe('metric_name\tfield\tcount\t%99');
    expect(lines).toContain('imap_command_SELECT\tduration\t100\t990');
    const tail = lines.slice(lines.indexOf('auth_request_fail\tduration\t0\t0') + 1);
    expect(tail).toEqual([
      'PASS imap_command_SELECT duration %99 <= 5000 (measured 990)',
      'PASS auth_request_fail count == 0 (measured 0)',
      'PASS imap_command_SELECT net_in_bytes sum == 500 (measured 500)',
      `PASS imap_command avg > 400.5 (measured ${Math.round((50500 + 7) / 101 * 1e6) / 1e6})`,
      '4 assertion(s): 4 passed, 0 failed',
      '',
    ]);
  });

  it('exits 1 when one fails, with the measured value; a missing metric or field fails', () => {
    const r = tallyd([
      'aggregate', '-c', CONF, EVENTS,
      '--assert', 'imap_command_SELECT duration %99 < 990',
      '--assert', 'imap_command count == 101',
      '--assert', 'imap_command_LOGOUT count == 0',
      '--assert', 'imap_command_SELECT bytes_out max < 1',
    ]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('FAIL imap_command_SELECT duration %99 < 990 (measured 990)\n');
    expect(r.out).toContain('PASS imap_command count == 101 (measured 101)\n');
    expect(r.out).toContain('FAIL imap_command_LOGOUT count == 0 (no such metric)\n');
    expect(r.out).toContain("FAIL imap_command_SELECT bytes_out max < 1 (no such field 'bytes_out')\n");
    expect(r.out).toContain('4 assertion(s): 1 passed, 3 failed\n');
  });

  it('exits 2 on a malformed assertion, naming it and the column, before reading any file', () => {
    const cases: [string, RegExp][] = [
      ['imap_command count =< 5', /--assert 'imap_command count =< 5': column 20: unknown operator '=<'/],
      ['imap_command duration p99 <= 5', /column 23: unknown statistic 'p99'/],
      ['imap_command count == five', /column 23: 'five' is not a number/],
      ['imap_command count', /column 19: expected METRIC \[FIELD\] STAT OP VALUE, got 2 word\(s\)/],
      ['imap_command %101 < 1', /column 14: percentile '%101' is above 100/],
    ];
    for (const [expr, msg] of cases) {
      const r = tallyd(['aggregate', '-c', CONF, '--assert', expr, join(dir, 'missing.ndjson')]);
      expect(r.code, expr).toBe(2);
      expect(r.err, expr).toMatch(msg);
      expect(r.out).toBe('');
    }
  });

  it('--junit writes well-formed JUnit XML with a failure element per failed assertion, escaped', () => {
    const out = join(dir, 'junit.xml');
    const r = tallyd([
      'aggregate', '-c', CONF, EVENTS, '--junit', out,
      '--assert', 'imap_command_SELECT duration %99 <= 5000',
      '--assert', 'imap_command_a<b&"c" count > 1',
      '--assert', 'nothing count == 0',
    ]);
    expect(r.code).toBe(1);
    const xml = readFileSync(out, 'utf8');
    const root = parseXml(xml);
    expect(root.name).toBe('testsuites');
    expect(root.attrs).toMatchObject({ tests: '3', failures: '2', errors: '0' });
    const [suite] = root.children;
    expect(suite?.name).toBe('testsuite');
    expect(suite?.attrs).toMatchObject({ name: 'tallyd aggregate', tests: '3', failures: '2' });
    const cases = (suite as XmlNode).children.filter((c) => c.name === 'testcase');
    expect(cases.map((c) => c.attrs.name)).toEqual(['imap_command_SELECT duration %99 <= 5000', 'imap_command_a<b&"c" count > 1', 'nothing count == 0']);
    expect(cases[0]?.children).toEqual([]);
    const f1 = cases[1]?.children[0];
    expect(f1?.name).toBe('failure');
    expect(f1?.attrs.message).toBe('measured 1, expected > 1');
    expect(cases[2]?.children[0]?.attrs.message).toBe('no such metric');
    expect(xml).toContain('a&lt;b&amp;&quot;c&quot;');
  });

  it('--junit without --assert is a usage error, and writes nothing', () => {
    const out = join(dir, 'none.xml');
    const r = tallyd(['aggregate', '-c', CONF, EVENTS, '--junit', out]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--junit needs at least one --assert');
    expect(existsSync(out)).toBe(false);
  });
});
