/**
 * `tallyd replay` against a real server: an NDJSON export log with a broken
 * line, blank lines and a rejected event; a JSON array; the totals, the
 * reasons on stderr with their line numbers, and what the dump counts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, cliOnDeadPort, parseDump, requireBuild, startTestServer, stopTestServer, type Running } from './helpers.js';

const CONFIG = `
metric imap_command {
  filter = event=imap_command_finished
  fields = net_in_bytes
  group_by = cmd_name tagged_reply_state
}
`;

// Dovecot's event exporter (format = json) writes one event per line; this
// log has a truncated line (3), a blank line (4), an event without a name
// (5) and a non-map (7)
const LOG = [
  '{"event":"imap_command_finished","hostname":"mx1","start_time":"2024-05-01T10:00:00.100000Z","end_time":"2024-05-01T10:00:00.200000Z","categories":["imap"],"fields":{"user":"a@example.com","cmd_name":"SELECT","tagged_reply_state":"OK","duration":100,"net_in_bytes":10}}',
  '{"event":"imap_command_finished","hostname":"mx1","categories":["imap"],"fields":{"user":"b@example.com","cmd_name":"SELECT","tagged_reply_state":"OK","duration":300,"net_in_bytes":30}}',
  '{"event":"imap_command_finished","fields":{"cmd_name":"FETCH","tagged_reply_sta',
  '',
  '{"hostname":"mx1","fields":{"cmd_name":"FETCH"}}',
  '{"event":"imap_command_finished","fields":{"cmd_name":"FETCH","tagged_reply_state":"OK","duration":50,"net_in_bytes":5}}',
  '42',
  '',
].join('\n');

let srv: Running | undefined;
let url = '';
let dir = '';

beforeAll(async () => {
  requireBuild();
  dir = mkdtempSync(join(tmpdir(), 'tallyd-replay-'));
  srv = await startTestServer(CONFIG);
  url = srv.url;
});

afterAll(async () => {
  await stopTestServer(srv);
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

async function dumpReset(): Promise<Map<string, Record<string, string>>> {
  const r = await cli(['stats', 'dump', '-r', '--url', url]);
  expect(r.code, r.stderr).toBe(0);
  return parseDump(r.stdout).rows;
}

describe('tallyd replay', () => {
  it('replays an NDJSON log with a broken line: each line on its own, reasons by line', async () => {
    const file = join(dir, 'export.jsonl');
    writeFileSync(file, LOG);
    // batches of 2, so the rejected events sit in different batches than their line numbers suggest
    const r = await cli(['replay', file, '--url', url, '--batch', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: 6 events, 3 accepted, 3 rejected \\(3 batches, [\\d.]+ s\\)\\n$`));
    const errs = r.stderr.split('\n').filter((l) => l !== '');
    expect(errs).toHaveLength(3);
    expect(errs[0]).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3: invalid JSON`));
    expect(errs[1]).toMatch(/:5: .*event/);
    expect(errs[2]).toMatch(/:7: .*not a map/);

    const rows = await dumpReset();
    // contract §5.4's vector: the duration comes from fields.duration
    expect(rows.get('imap_command duration')).toMatchObject({ count: '3', sum: '450', min: '50', max: '300', avg: '150.00', median: '100', stddev: '108.01' });
    expect(rows.get('imap_command_SELECT_OK net_in_bytes')).toMatchObject({ count: '2', sum: '40' });
    expect(rows.get('imap_command_FETCH_OK duration')).toMatchObject({ count: '1', sum: '50' });
  });

  it('replays a JSON array, and standard input, with --json totals', async () => {
    const events = [
      { event: 'imap_command_finished', duration: 7, fields: { cmd_name: 'NOOP', tagged_reply_state: 'OK' } },
      { name: 'imap_command_finished', duration: 9, fields: { cmd_name: 'NOOP', tagged_reply_state: 'OK' } },
      { event: 'imap_command_finished', duration: 1, fields: { cmd_name: { nested: true } } },
    ];
    const file = join(dir, 'events.json');
    writeFileSync(file, JSON.stringify(events, null, 2));
    const [fromFile, fromStdin] = await Promise.all([
      cli(['replay', file, '--url', url, '--json']),
      cli(['replay', '-', '--url', url, '--json'], { input: LOG }),
    ]);
    expect(fromFile.code, fromFile.stderr).toBe(0);
    expect(JSON.parse(fromFile.stdout)).toMatchObject({ events: 3, accepted: 2, rejected: 1, batches: 1 });
    expect(fromFile.stderr).toMatch(/events\.json: event 2: /);
    expect(fromStdin.code, fromStdin.stderr).toBe(0);
    expect(JSON.parse(fromStdin.stdout)).toMatchObject({ file: '(stdin)', events: 6, accepted: 3, rejected: 3 });
    expect(fromStdin.stderr).toContain('(stdin):3: invalid JSON');
    const rows = await dumpReset();
    expect(rows.get('imap_command_NOOP_OK duration')).toMatchObject({ count: '2', sum: '16' });
    expect(rows.get('imap_command duration')?.count).toBe('5');
  });

  it('fails clearly on a missing file and an unreachable server', async () => {
    const file = join(dir, 'export2.jsonl');
    writeFileSync(file, LOG);
    const [missing, { port, result: dead }] = await Promise.all([
      cli(['replay', join(dir, 'nope.jsonl'), '--url', url]),
      cliOnDeadPort((u) => ['replay', file, '--url', u]),
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('nope.jsonl: No such file or directory');
    expect(dead.code).toBe(1);
    expect(dead.stdout).toBe('');
    expect(dead.stderr).toBe(`tallyd replay: cannot reach http://127.0.0.1:${port}: ECONNREFUSED\n`);
  });
});
