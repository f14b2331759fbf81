/**
 * `tallyd stats dump|add|remove` (docs/contract.md §9): `doveadm stats` against a running
 * server's HTTP API (docs/contract.md §7).
 */
import { parseArgs } from 'node:util';
import { CliError, type Command } from './common.js';
import { DEFAULT_URL, endpoint, expectOk, request, serverUrl } from './http.js';

const URL_HELP = [
  `  --url URL            the server (default: $TALLYD_URL, else ${DEFAULT_URL})`,
];

export const statsDumpCommand: Command = {
  help: [
    'Usage: tallyd stats dump [-f "count sum ..."] [-r] [--url URL]',
    '',
    "Prints the server's dump table (GET /v1/stats/dump): a header",
    '`metric_name field <fields>`, then one row per node and field, tab',
    'separated, as `doveadm stats dump` prints it.',
    '',
    'Options:',
    '  -f, --fields FIELDS  columns, split on spaces and commas (default',
    '                       "count sum min max avg median stddev %95"; any %P works,',
    '                       e.g. %99.9)',
    '  -r, --reset          zero every figure in the same step as the dump',
    '                       (POST /v1/stats/dump?reset=1)',
    ...URL_HELP,
  ].join('\n'),
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        fields: { type: 'string', short: 'f' },
        reset: { type: 'boolean', short: 'r', default: false },
        url: { type: 'string' },
      },
    });
    if (positionals.length > 0) throw new CliError(`unexpected parameter '${positionals[0]}'`);
    const base = serverUrl(values.url);
    const query: Record<string, string> = {};
    if (values.fields !== undefined) {
      if (values.fields.trim() === '') throw new CliError('-f: no fields given');
      query.fields = values.fields;
    }
    if (values.reset) query.reset = '1';
    const answer = expectOk(
      await request(base, endpoint(base, '/v1/stats/dump', query), { method: values.reset ? 'POST' : 'GET', agent: false }),
    );
    process.stdout.write(answer.body);
    return 0;
  },
};

export const statsAddCommand: Command = {
  help: [
    'Usage: tallyd stats add [--description D] [--fields F] [--group-by G] NAME FILTER [--url URL]',
    '',
    'Adds metric NAME with event filter FILTER (quote it: one argument) to a',
    'running server (POST /v1/metrics). It sees only events accepted after',
    'the add, and lasts until the server stops.',
    '',
    'Options:',
    '  --description D      the description (OpenMetrics HELP)',
    '  --fields F           fields to aggregate besides duration, e.g.',
    '                       "net_in_bytes net_out_bytes"',
    '  --group-by G         group_by levels in the 2.3 string syntax, e.g.',
    '                       "cmd_name duration:exponential:1:5:10"',
    '                       (--group_by is accepted too)',
    '  --exporter N, --exporter-include F',
    '                       accepted for doveadm compatibility and ignored',
    ...URL_HELP,
    '',
    'Example:',
    '  tallyd stats add --fields "net_in_bytes net_out_bytes" \\',
    '    --group-by "cmd_name tagged_reply_state" imap_cmd_select \\',
    '    "event=imap_command_finished AND cmd_name=SELECT"',
  ].join('\n'),
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        description: { type: 'string' },
        fields: { type: 'string' },
        'group-by': { type: 'string' },
        group_by: { type: 'string' },
        exporter: { type: 'string' },
        'exporter-include': { type: 'string' },
        url: { type: 'string' },
      },
    });
    const [name, filter, ...extra] = positionals;
    if (name === undefined || name === '') throw new CliError('missing name parameter');
    if (filter === undefined || filter === '') throw new CliError('missing filter parameter');
    if (extra.length > 0) {
      throw new CliError(`unexpected parameter '${extra[0]}' (quote the filter so that it is one argument)`);
    }
    if (values['group-by'] !== undefined && values.group_by !== undefined) {
      throw new CliError('give --group-by once');
    }
    if (values.exporter !== undefined || values['exporter-include'] !== undefined) {
      process.stderr.write('tallyd stats add: warning: --exporter and --exporter-include are ignored (tallyd has no event exporters)\n');
    }
    const base = serverUrl(values.url);
    const body: Record<string, string> = { name, filter };
    if (values.fields !== undefined) body.fields = values.fields;
    const groupBy = values['group-by'] ?? values.group_by;
    if (groupBy !== undefined) body.group_by = groupBy;
    if (values.description !== undefined) body.description = values.description;
    expectOk(
      await request(base, endpoint(base, '/v1/metrics'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        agent: false,
      }),
    );
    return 0;
  },
};

export const statsRemoveCommand: Command = {
  help: [
    'Usage: tallyd stats remove NAME [--url URL]',
    '',
    'Removes metric NAME and its whole tree from a running server',
    '(DELETE /v1/metrics/NAME). Metrics of the config file can be removed',
    'too; they come back when the server restarts.',
    '',
    'Options:',
    ...URL_HELP,
  ].join('\n'),
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { url: { type: 'string' } },
    });
    const [name, ...extra] = positionals;
    if (name === undefined || name === '') throw new CliError('missing name parameter');
    if (extra.length > 0) throw new CliError(`unexpected parameter '${extra[0]}'`);
    const base = serverUrl(values.url);
    expectOk(await request(base, endpoint(base, `/v1/metrics/${encodeURIComponent(name)}`), { method: 'DELETE', agent: false }));
    return 0;
  },
};
