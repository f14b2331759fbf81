/**
 * `tallyd stats dump|add|remove` against a real server, the CLI run as a
 * child process: output, errors and exit codes as a user sees them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, cliOnDeadPort, parseDump, postJson, requireBuild, startTestServer, stopTestServer, type Running } from './helpers.js';

const CONFIG = `
metric imap_command {
  filter = event=imap_command_finished
  fields = net_in_bytes
  group_by = cmd_name tagged_reply_state
}
`;

// contract §5.4's vector: SELECT/OK 100 and 300 µs, FETCH/OK 50 µs
const EVENTS = [
  { event: 'imap_command_finished', duration: 100, fields: { cmd_name: 'SELECT', tagged_reply_state: 'OK', net_in_bytes: 10 } },
  { event: 'imap_command_finished', duration: 300, fields: { cmd_name: 'SELECT', tagged_reply_state: 'OK', net_in_bytes: 30 } },
  { event: 'imap_command_finished', duration: 50, fields: { cmd_name: 'FETCH', tagged_reply_state: 'OK', net_in_bytes: 5 } },
];

let srv: Running | undefined;
let url = '';

beforeAll(async () => {
  requireBuild();
  srv = await startTestServer(CONFIG);
  url = srv.url;
});

afterAll(async () => {
  await stopTestServer(srv);
});

describe('tallyd stats', () => {
  it('adds a metric, dumps it with -f, resets it with -r, removes it', async () => {
    const add = await cli([
      'stats', 'add',
      '--description', 'IMAP SELECT and FETCH',
      '--fields', 'net_in_bytes',
      '--group-by', 'cmd_name duration:exponential:1:5:10',
      'imap_by_time',
      'event=imap_command_finished AND (cmd_name=SELECT OR cmd_name=FETCH)',
      '--url', url,
    ]);
    expect(add.stderr).toBe('');
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toBe('');

    const list = (await (await fetch(`${url}/v1/metrics`)).json()) as { name: string; group_by: string; description: string }[];
    const added = list.find((m) => m.name === 'imap_by_time');
    expect(added?.group_by).toBe('cmd_name duration:exponential:1:5:10');
    expect(added?.description).toBe('IMAP SELECT and FETCH');

    expect((await postJson(url, EVENTS)).body).toMatchObject({ accepted: 3, rejected: 0 });

    // the default columns, doveadm's table
    const full = await cli(['stats', 'dump', '--url', url]);
    expect(full.code, full.stderr).toBe(0);
    const lines = full.stdout.split('\n');
    expect(lines[0]).toBe('metric_name\tfield\tcount\tsum\tmin\tmax\tavg\tmedian\tstddev\t%95');
    expect(lines).toContain('imap_command\tduration\t3\t450\t50\t300\t150.00\t100\t108.01\t300');
    expect(lines).toContain('imap_command_SELECT_OK\tnet_in_bytes\t2\t40\t10\t30\t20.00\t20\t10.00\t30');

    // -f with spaces and commas; the added metric comes after the config's
    const some = await cli(['stats', 'dump', '-f', 'count sum,%99', '--url', url]);
    expect(some.code, some.stderr).toBe(0);
    const d = parseDump(some.stdout);
    expect(d.header).toEqual(['metric_name', 'field', 'count', 'sum', '%99']);
    expect(d.rows.get('imap_by_time duration')).toMatchObject({ count: '3', sum: '450' });
    expect(d.rows.get('imap_by_time_SELECT_duration_101_1000 duration')).toMatchObject({ count: '1', sum: '300' });
    expect(d.rows.get('imap_by_time_FETCH_duration_11_100 net_in_bytes')).toMatchObject({ count: '1', sum: '5' });
    const names = [...d.rows.keys()];
    expect(names.indexOf('imap_command duration')).toBeLessThan(names.indexOf('imap_by_time duration'));

    // -r prints the figures and zeroes them in the same step; the tree stays
    const reset = await cli(['stats', 'dump', '-r', '-f', 'count', '--url', url]);
    expect(reset.code, reset.stderr).toBe(0);
    expect(parseDump(reset.stdout).rows.get('imap_by_time duration')?.count).toBe('3');
    const after = parseDump((await cli(['stats', 'dump', '-f', 'count', '--url', url])).stdout);
    expect(after.rows.get('imap_by_time duration')?.count).toBe('0');
    expect(after.rows.get('imap_command duration')?.count).toBe('0');
    expect(after.rows.get('imap_by_time_SELECT duration')?.count).toBe('0');

    const rm = await cli(['stats', 'remove', 'imap_by_time', '--url', url]);
    expect(rm.stderr).toBe('');
    expect(rm.code, rm.stderr).toBe(0);
    const gone = await cli(['stats', 'dump', '-f', 'count', '--url', url]);
    expect(gone.stdout).not.toContain('imap_by_time');
    expect(gone.stdout).toContain('imap_command\tduration');
  });

  it('reports a duplicate add and a config error from the server, exit 1', async () => {
    const [dup, badFilter, badGroup] = await Promise.all([
      cli(['stats', 'add', 'imap_command', 'event=x', '--url', url]),
      cli(['stats', 'add', 'broken', 'event=(', '--url', url]),
      cli(['stats', 'add', '--group-by', 'size:linear:10:10:1', 'broken2', 'event=x', '--url', url]),
    ]);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/^tallyd stats add: .*Metric already exists\n$/);
    expect(dup.stdout).toBe('');

    expect(badFilter.code).toBe(1);
    expect(badFilter.stderr).toMatch(/^tallyd stats add: .*filter.*\n$/);

    expect(badGroup.code).toBe(1);
    expect(badGroup.stderr).toContain('min must be < max');
  });

  it("says doveadm's words for missing parameters, exit 2", async () => {
    const [noName, noFilter, unquoted, unknownFlag] = await Promise.all([
      cli(['stats', 'add', '--url', url]),
      cli(['stats', 'add', 'only_a_name', '--url', url]),
      cli(['stats', 'add', 'x', 'event=a', 'AND', 'b=1', '--url', url]),
      cli(['stats', 'dump', '--bogus', '--url', url]),
    ]);
    expect(noName.code).toBe(2);
    expect(noName.stderr).toContain('stats add: missing name parameter');
    expect(noFilter.code).toBe(2);
    expect(noFilter.stderr).toContain('stats add: missing filter parameter');
    expect(unquoted.code).toBe(2);
    expect(unquoted.stderr).toContain('quote the filter');
    expect(unknownFlag.code).not.toBe(0);
    expect(unknownFlag.stderr).toContain('--bogus');
  });

  it("removing an unknown metric prints the server's message, exit 1", async () => {
    const r = await cli(['stats', 'remove', 'no_such_metric', '--url', url]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("tallyd stats remove: metrics 'no_such_metric' not found\n");
  });

  it('takes the server from TALLYD_URL, and says when it cannot reach it', async () => {
    const [viaEnv, { port, result: dead }] = await Promise.all([
      cli(['stats', 'dump', '-f', 'count'], { env: { TALLYD_URL: url } }),
      cliOnDeadPort((u) => ['stats', 'dump', '--url', u]),
    ]);
    expect(viaEnv.code, viaEnv.stderr).toBe(0);
    expect(viaEnv.stdout).toMatch(/^metric_name\tfield\tcount\n/);

    expect(dead.code).toBe(1);
    expect(dead.stdout).toBe('');
    expect(dead.stderr).toBe(`tallyd stats dump: cannot reach http://127.0.0.1:${port}: ECONNREFUSED\n`);
  });

  it('has --help for every stats command', async () => {
    const subs = ['dump', 'add', 'remove'];
    const helps = await Promise.all(subs.map((sub) => cli(['stats', sub, '--help'])));
    helps.forEach((h, i) => {
      expect(h.code, h.stderr).toBe(0);
      expect(h.stdout).toContain(`Usage: tallyd stats ${subs[i]}`);
    });
  });
});
