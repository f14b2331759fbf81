import { describe, expect, it } from 'vitest';
import { buildMetricDef, defaultConfig, formatConfig, parseConfigText } from '../../src/config/index.js';
import { compileFilter, FilterSyntaxError } from '../../src/filter/index.js';
import { configError, withoutPos } from './helpers.js';

describe('defaultConfig', () => {
  const cfg = defaultConfig();

  it("runs the seed page's example metrics on 127.0.0.1:9900", () => {
    expect(cfg.settings.listen).toEqual({ host: '127.0.0.1', port: 9900 });
    expect(cfg.warnings).toEqual([]);
    const imap = cfg.metrics.find((m) => m.name === 'imap_command');
    expect(imap && withoutPos(imap)).toEqual({
      name: 'imap_command',
      filter: 'event=imap_command_finished',
      fields: ['net_in_bytes', 'net_out_bytes'],
      groupBy: [
        { kind: 'discrete', field: 'cmd_name', modifier: null },
        { kind: 'discrete', field: 'tagged_reply_state', modifier: null },
      ],
      description: 'IMAP commands',
    });
    expect(cfg.metrics.map((m) => m.name)).toEqual(
      expect.arrayContaining(['auth_success', 'auth_failures', 'login_domains', 'smtp_command', 'mail_delivery']),
    );
    expect(cfg.metrics.some((m) => m.groupBy.some((l) => l.kind === 'exponential' && l.min === 1 && l.max === 5 && l.base === 10))).toBe(
      true,
    );
    for (const m of cfg.metrics) expect(m.description).not.toBe('');
    expect(cfg.metrics[0]?.pos?.file).toBe('<default>');
  });

  it('formatConfig lists it in a form that reads back as the same metrics', () => {
    const text = formatConfig(cfg);
    expect(text.startsWith('# settings\nlisten = 127.0.0.1:9900\n')).toBe(true);
    expect(text).toContain('# ingest_token is not set\n');
    expect(text).toContain('  group_by = user:discrete:%L{domain}\n');
    const again = parseConfigText(text, 'listing.conf');
    expect(again.metrics.map(withoutPos)).toEqual(cfg.metrics.map(withoutPos));
    expect(again.settings).toEqual(cfg.settings);
  });

  it('formatConfig quotes values that would not read back, and prints warnings last', () => {
    const c = parseConfigText(
      'protocols = imap\nmetric m {\n  filter = "event=a"\n  description = " padded # not a comment"\n}\n',
      'w.conf',
    );
    const text = formatConfig(c);
    expect(text).toContain('  description = " padded # not a comment"\n');
    expect(text.endsWith("# 1 warning\nw.conf:1:1: warning: 'protocols' is a Dovecot setting tallyd does not use: ignored\n")).toBe(true);
    expect(parseConfigText(text.replace(/^w\.conf.*$/m, ''), 'again.conf').metrics[0]?.description).toBe(' padded # not a comment');
  });
});

describe('buildMetricDef', () => {
  const existing = new Set(['imap_command']);

  it('builds a run-time metric from the 2.3 string syntax', () => {
    const def = buildMetricDef(
      {
        name: 'imap_select',
        filter: 'event=imap_command_finished AND cmd_name=SELECT',
        fields: 'net_in_bytes net_out_bytes',
        group_by: 'cmd_name duration:exponential:1:5:10',
        description: 'IMAP SELECT commands',
      },
      existing,
    );
    expect(def).toEqual({
      name: 'imap_select',
      filter: 'event=imap_command_finished AND cmd_name=SELECT',
      fields: ['net_in_bytes', 'net_out_bytes'],
      groupBy: [
        { kind: 'discrete', field: 'cmd_name', modifier: null },
        { kind: 'exponential', field: 'duration', min: 1, max: 5, base: 10 },
      ],
      description: 'IMAP SELECT commands',
    });
    expect(def.pos).toBeUndefined();
    expect(Object.isFrozen(def)).toBe(true);
    expect(buildMetricDef({ name: 'x', filter: 'event=a', fields: ['a', 'b'] }, existing).fields).toEqual(['a', 'b']);
    expect(buildMetricDef({ name: 'y', filter: 'event=a' }, existing)).toEqual({
      name: 'y',
      filter: 'event=a',
      fields: [],
      groupBy: [],
      description: '',
    });
  });

  const err = (input: Parameters<typeof buildMetricDef>[0]) => configError(() => buildMetricDef(input, existing));

  it('reports errors at <request>:1:<column in the offending string>', () => {
    const dup = err({ name: 'imap_command', filter: 'event=a' });
    expect(dup.code).toBe('ERR_CONFIG_DUPLICATE');
    expect(dup.message).toBe('<request>:1:1: Metric already exists');
    expect(err({ name: '', filter: 'event=a' }).message).toBe("<request>:1:1: Metric name can't be empty");
    expect(err({ name: 'a b', filter: 'event=a' }).message).toBe(
      '<request>:1:1: metric a b: name is not a valid OpenMetrics name ([a-zA-Z_:][a-zA-Z0-9_:]*)',
    );
    const empty = err({ name: 'm', filter: '  ' });
    expect(empty.code).toBe('ERR_CONFIG_METRIC');
    expect(empty.message).toBe('<request>:1:1: metric m { filter } is empty - will not match anything');
    const gb = err({ name: 'm', filter: 'event=a', group_by: 'cmd_name size:linear:0:100:0' });
    expect(gb.code).toBe('ERR_CONFIG_GROUP_BY');
    expect(gb.message).toBe("<request>:1:28: group_by 'linear' aggregate function step must be > 0 (step=0)");
    expect(err({ name: 'm', filter: 'event=a', fields: 'a b,c d!' }).message).toBe(
      "<request>:1:7: metric m { fields }: 'd!' is not a valid field name",
    );
    expect(err({ name: 'm', filter: 'event=a', fields: ['a', 'b c'] }).message).toBe(
      "<request>:1:3: metric m { fields }: 'b c' is not a valid field name",
    );
  });

  it('reports filter errors at their offset in the filter', () => {
    const filter = 'event=a AND (cmd_name=x';
    let offset = -1;
    let message = '';
    try {
      compileFilter(filter);
    } catch (e) {
      if (!(e instanceof FilterSyntaxError)) throw e;
      offset = e.offset;
      message = e.message;
    }
    const e = err({ name: 'm', filter });
    expect(e.code).toBe('ERR_CONFIG_FILTER');
    expect(e.message).toBe(`<request>:1:${offset + 1}: metric m { filter }: ${message}`);
  });
});
