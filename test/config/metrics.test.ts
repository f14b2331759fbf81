import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/index.js';
import { compileFilter, FilterSyntaxError } from '../../src/filter/index.js';
import { errorOf, where } from './helpers.js';

/** The offset compileFilter reports for a bad filter. */
function filterErrorOffset(src: string): { offset: number; message: string } {
  try {
    compileFilter(src);
  } catch (e) {
    if (e instanceof FilterSyntaxError) return { offset: e.offset, message: e.message };
    throw e;
  }
  throw new Error(`filter ${src} compiled`);
}

describe('metric blocks', () => {
  it('reads the seed example', () => {
    const cfg = parseConfigText(
      [
        'metric imap_command {',
        '  filter = event=imap_command_finished',
        '  fields = net_in_bytes net_out_bytes',
        '  group_by = cmd_name tagged_reply_state',
        '  description = "IMAP commands"',
        '}',
      ].join('\n'),
      'seed.conf',
    );
    expect(cfg.metrics).toEqual([
      {
        name: 'imap_command',
        filter: 'event=imap_command_finished',
        fields: ['net_in_bytes', 'net_out_bytes'],
        groupBy: [
          { kind: 'discrete', field: 'cmd_name', modifier: null },
          { kind: 'discrete', field: 'tagged_reply_state', modifier: null },
        ],
        description: 'IMAP commands',
        pos: { file: 'seed.conf', line: 1, col: 8 },
      },
    ]);
    expect(Object.isFrozen(cfg)).toBe(true);
    expect(Object.isFrozen(cfg.metrics)).toBe(true);
  });

  it('accepts metric_-prefixed setting names, repeated fields and duration as a field', () => {
    const cfg = parseConfigText('metric m {\n  metric_filter = event=a\n  fields = duration bytes duration\n}\n', 't.conf');
    expect(cfg.metrics[0]?.filter).toBe('event=a');
    expect(cfg.metrics[0]?.fields).toEqual(['duration', 'bytes', 'duration']);
    expect(cfg.metrics[0]?.description).toBe('');
  });

  it('metric names may contain colons', () => {
    expect(parseConfigText('metric a:b_1 {\n  filter = event=a\n}\n', 't.conf').metrics[0]?.name).toBe('a:b_1');
  });

  describe('errors', () => {
    const cases: [string, string, string, string][] = [
      ['metric {\n  filter = event=a\n}\n', 'ERR_CONFIG_METRIC', 'test.conf:1:8', "Metric name can't be empty"],
      ['metric "" {\n  filter = event=a\n}\n', 'ERR_CONFIG_METRIC', 'test.conf:1:9', "Metric name can't be empty"],
      [
        'metric imap-command {\n  filter = event=a\n}\n',
        'ERR_CONFIG_METRIC',
        'test.conf:1:8',
        'metric imap-command: name is not a valid OpenMetrics name ([a-zA-Z_:][a-zA-Z0-9_:]*)',
      ],
      [
        'metric 1st {\n  filter = event=a\n}\n',
        'ERR_CONFIG_METRIC',
        'test.conf:1:8',
        'metric 1st: name is not a valid OpenMetrics name ([a-zA-Z_:][a-zA-Z0-9_:]*)',
      ],
      ['metric m {\n}\n', 'ERR_CONFIG_METRIC', 'test.conf:1:8', 'metric m { filter } is empty - will not match anything'],
      ['metric m {\n  filter =\n}\n', 'ERR_CONFIG_METRIC', 'test.conf:2:11', 'metric m { filter } is empty - will not match anything'],
      ['metric m {\n  filter = ""\n}\n', 'ERR_CONFIG_METRIC', 'test.conf:2:13', 'metric m { filter } is empty - will not match anything'],
      [
        'metric m {\n  filter = event=a\n}\nmetric m {\n  filter = event=b\n}\n',
        'ERR_CONFIG_DUPLICATE',
        'test.conf:4:8',
        'metric m: Metric already exists (first defined at test.conf:1:8)',
      ],
      ['metric m {\n  filter = event=a\n  fields = a b$c\n}\n', 'ERR_CONFIG_METRIC', 'test.conf:3:14', "metric m { fields }: 'b$c' is not a valid field name"],
      ['metric m {\n  filter = event=a\n  event_name = x\n}\n', 'ERR_CONFIG_METRIC', 'test.conf:3:3', 'metric m: Unknown setting: event_name'],
      ['metric m {\n  filter = event=a\n  filter {\n  }\n}\n', 'ERR_CONFIG_METRIC', 'test.conf:3:3', "metric m: Unknown block 'filter'"],
      [
        'metric m {\n  filter = event=a\n  exporter = nowhere\n}\n',
        'ERR_CONFIG_METRIC',
        'test.conf:3:14',
        "metric m refers to nonexistent exporter 'nowhere'",
      ],
      [
        'dovecot_compat = 2.3\nmetric m {\n  filter = event=a\n  exporter = nowhere\n}\n',
        'ERR_CONFIG_METRIC',
        'test.conf:4:14',
        "metric m refers to non-existent exporter 'nowhere'",
      ],
    ];
    it.each(cases)('%#: %s', (text, code, at, detail) => {
      const e = errorOf(text);
      expect(e.code).toBe(code);
      expect(where(e)).toBe(at);
      expect(e.detail).toBe(detail);
    });

    it('filter syntax errors point into the filter value', () => {
      for (const filter of ['event=a AND', 'event>5', 'cmd_name=SELECT OR (event=x', 'user=foo@example.com', '()']) {
        const { offset, message } = filterErrorOffset(filter);
        expect(message).toMatch(/^event filter: /);
        const e = errorOf(`metric m {\n  filter =   ${filter}\n}\n`);
        expect(e.code).toBe('ERR_CONFIG_FILTER');
        expect(e.pos).toEqual({ file: 'test.conf', line: 2, col: 14 + offset });
        expect(e.detail).toBe(`metric m { filter }: ${message}`);
      }
    });

    it('Only fields support inequality comparisons', () => {
      const e = errorOf('metric m {\n  filter = event>imap_command_finished\n}\n');
      expect(e.code).toBe('ERR_CONFIG_FILTER');
      expect(e.detail).toBe('metric m { filter }: event filter: Only fields support inequality comparisons');
    });

    it('filter errors across continuation lines point at the right line', () => {
      const filter = 'event=imap_command_finished AND x=';
      const { offset } = filterErrorOffset(filter);
      const e = errorOf(`metric m {\n  filter = event=imap_command_finished AND \\\n     x=\n}\n`);
      const firstPart = 'event=imap_command_finished AND '.length;
      if (offset >= firstPart) expect(e.pos).toEqual({ file: 'test.conf', line: 3, col: 6 + offset - firstPart });
      else expect(e.pos.line).toBe(2);
    });
  });

  it('accepts exporters with warnings when the event_exporter block exists', () => {
    const cfg = parseConfigText(
      [
        'metric m {',
        '  filter = event=a',
        '  exporter = log',
        '  exporter_include = name hostname',
        '}',
        'event_exporter log {',
        '  format = json',
        '  transport = log',
        '}',
      ].join('\n'),
      'test.conf',
    );
    expect(cfg.metrics).toHaveLength(1);
    expect(cfg.warnings.map((w) => [w.pos.line, w.pos.col, w.message])).toEqual([
      [3, 3, 'metric m: exporter is ignored (tallyd does not export events)'],
      [4, 3, 'metric m: exporter_include is ignored (tallyd does not export events)'],
      [6, 1, 'event_exporter log is ignored (tallyd does not export events)'],
    ]);
  });

  it('ignores other Dovecot settings and blocks with one warning each', () => {
    const cfg = parseConfigText(
      [
        'protocols = imap pop3 lmtp',
        'mail_plugins = $mail_plugins zlib',
        'ssl_cert = </etc/ssl/certs/none-such.pem',
        'service imap-login {',
        '  inet_listener imaps {',
        '    port = 993',
        '    ssl = what ever { no validation in here',
        '  }',
        '}',
        'namespace inbox {',
        '  mailbox Drafts {',
        '    special_use = \\Drafts',
        '  }',
        '}',
        'protocol imap {',
        '  metric not_a_metric {',
        '  }',
        '}',
        'local 1.2.3.4 {',
        '}',
        'passdb {',
        '  driver = pam',
        '}',
      ].join('\n'),
      'dovecot.conf',
    );
    expect(cfg.metrics).toEqual([]);
    expect(cfg.warnings.map((w) => `${w.pos.line}:${w.pos.col}: ${w.message}`)).toEqual([
      "1:1: 'protocols' is a Dovecot setting tallyd does not use: ignored",
      "2:1: 'mail_plugins' is a Dovecot setting tallyd does not use: ignored",
      "3:1: 'ssl_cert' is a Dovecot setting tallyd does not use: ignored",
      "4:1: block 'service imap-login' is Dovecot configuration tallyd does not use: ignored",
      "10:1: block 'namespace inbox' is Dovecot configuration tallyd does not use: ignored",
      "15:1: block 'protocol imap' is Dovecot configuration tallyd does not use: ignored",
      "19:1: block 'local 1.2.3.4' is Dovecot configuration tallyd does not use: ignored",
      "21:1: block 'passdb' is Dovecot configuration tallyd does not use: ignored",
    ]);
  });
});
