import { describe, expect, it } from 'vitest';
import { formatGroupBy, parseConfigText, parseGroupBy } from '../../src/config/index.js';
import { configError, errorOf, where, withoutPos } from './helpers.js';

const legacyError = (src: string) => configError(() => parseGroupBy(src));

describe('group_by, 2.3 string syntax', () => {
  it('parses every kind of level', () => {
    const levels = parseGroupBy(
      'cmd_name tagged_reply_state:discrete duration:exponential:1:5:10 size:linear:100:1000:100 user:discrete:%L{domain}',
    );
    expect(levels).toEqual([
      { kind: 'discrete', field: 'cmd_name', modifier: null },
      { kind: 'discrete', field: 'tagged_reply_state', modifier: null },
      { kind: 'exponential', field: 'duration', min: 1, max: 5, base: 10 },
      { kind: 'linear', field: 'size', min: 100, max: 1000, step: 100 },
      { kind: 'discrete', field: 'user', modifier: '%L{domain}' },
    ]);
    expect(formatGroupBy(levels)).toBe(
      'cmd_name tagged_reply_state duration:exponential:1:5:10 size:linear:100:1000:100 user:discrete:%L{domain}',
    );
    expect(parseGroupBy('')).toEqual([]);
    expect(parseGroupBy('  a   b  ')).toHaveLength(2);
  });

  it('accepts a linear range that is not a multiple of the step, and edge magnitudes', () => {
    expect(parseGroupBy('s:linear:500:10000:450')).toEqual([{ kind: 'linear', field: 's', min: 500, max: 10000, step: 450 }]);
    expect(parseGroupBy('s:linear:0:100:100')).toHaveLength(1);
    expect(parseGroupBy('d:exponential:0:18:10 d:exponential:0:62:2')).toHaveLength(2);
    expect(parseGroupBy('s:linear:0:10000:1')).toHaveLength(1);
  });

  const cases: [string, number, string][] = [
    ['duration:exponential:1:5', 24, "group_by 'exponential' aggregate function takes 3 int args"],
    ['duration:exponential:1:x:10', 24, "group_by 'exponential' aggregate function takes 3 int args"],
    ['duration:exponential:1:5:10:3', 29, "group_by 'exponential' aggregate function takes 3 int args"],
    ['duration:exponential', 10, "group_by 'exponential' aggregate function takes 3 int args"],
    ['size:linear:1.5:10:1', 13, "group_by 'linear' aggregate function takes 3 int args"],
    ['size:linear:0:99999999999999999999:1', 15, "group_by 'linear' aggregate function takes 3 int args"],
    ['size:linear:-1:10:1', 13, "group_by 'linear' aggregate function arguments must be >= 0"],
    ['size:linear:0:10:-1', 18, "group_by 'linear' aggregate function arguments must be >= 0"],
    ['size:linear:10:10:1', 13, "group_by 'linear' aggregate function min must be < max (10 must be < 10)"],
    ['size:linear:20:10:1', 13, "group_by 'linear' aggregate function min must be < max (20 must be < 10)"],
    ['d:exponential:1:1:10', 15, "group_by 'exponential' aggregate function min must be < max (1 must be < 1)"],
    ['d:exponential:1:5:3', 19, "group_by 'exponential' aggregate function base must be one of: 2, 10 (base=3)"],
    ['d:exponential:1:19:10', 17, "group_by 'exponential' aggregate function max magnitude must be <= 18 with base 10 (max=19)"],
    ['d:exponential:0:63:2', 17, "group_by 'exponential' aggregate function max magnitude must be <= 62 with base 2 (max=63)"],
    ['s:linear:0:100:0', 16, "group_by 'linear' aggregate function step must be > 0 (step=0)"],
    ['s:linear:0:100:200', 16, "group_by 'linear' aggregate function min+step must be <= max (200 must be <= 100)"],
    ['s:linear:0:100000:1', 19, "group_by 'linear' aggregate function makes too many ranges (100000 > 10000)"],
    ['s:quantile:1', 3, "unknown aggregation function 'quantile' on field 's'"],
    ['cmd_name   duration:exp:1', 21, "unknown aggregation function 'exp' on field 'duration'"],
    ['user:discrete:%{value}:x', 24, 'Too many parameters for discrete modifier'],
    ['user:discrete:%{bogus}', 17, "Failed to expand discrete modifier for user: Unknown variable 'bogus' (known: value, domain)"],
    ['user:discrete:%{value|upper|rot13}', 29, "Failed to expand discrete modifier for user: Unknown filter 'rot13' (known: lower, upper, domain, username)"],
    [':discrete', 1, "group_by field name can't be empty"],
    ['us$er', 1, "group_by field 'us$er' is not a valid field name"],
  ];
  it.each(cases)('%s → col %i: %s', (src, col, detail) => {
    const e = legacyError(src);
    expect(e.code).toBe('ERR_CONFIG_GROUP_BY');
    expect(e.message).toBe(`<request>:1:${col}: ${detail}`);
  });

  it('reports errors at the position of the group_by value in a file', () => {
    const e = errorOf('metric m {\n  filter = event=a\n  group_by = cmd_name size:linear:0:100:0\n}\n');
    expect(e.message).toBe("test.conf:3:41: group_by 'linear' aggregate function step must be > 0 (step=0)");
  });
});

const metric24 = (groupBy: string) => `metric m {\n  filter = event=a\n${groupBy}\n}\n`;

describe('group_by, 2.4 nested syntax', () => {
  it('parses method blocks', () => {
    const cfg = parseConfigText(
      metric24(
        [
          '  group_by cmd_name {',
          '  }',
          '  group_by duration {',
          '    method exponential {',
          '      min_magnitude = 1',
          '      max_magnitude = 5',
          '      base = 10',
          '    }',
          '  }',
          '  group_by size {',
          '    method linear {',
          '      min = 100',
          '      max = 1000',
          '      step = 100',
          '    }',
          '  }',
          '  group_by user {',
          '    method discrete {',
          '      modifier = %{value | domain | lower}',
          '    }',
          '  }',
          '  group_by x {}',
        ].join('\n'),
      ),
      'test.conf',
    );
    expect(cfg.metrics[0]?.groupBy).toEqual([
      { kind: 'discrete', field: 'cmd_name', modifier: null },
      { kind: 'exponential', field: 'duration', min: 1, max: 5, base: 10 },
      { kind: 'linear', field: 'size', min: 100, max: 1000, step: 100 },
      { kind: 'discrete', field: 'user', modifier: '%{value | domain | lower}' },
      { kind: 'discrete', field: 'x', modifier: null },
    ]);
  });

  it('uses Dovecot defaults (base 10, magnitudes 0) and accepts min_magnitude = max_magnitude', () => {
    const cfg = parseConfigText(metric24('  group_by d {\n    method exponential {\n    }\n  }'), 'test.conf');
    expect(cfg.metrics[0]?.groupBy).toEqual([{ kind: 'exponential', field: 'd', min: 0, max: 0, base: 10 }]);
  });

  it('a block configures a field listed in the string form in place', () => {
    const cfg = parseConfigText(
      metric24('  group_by = cmd_name duration\n  group_by duration {\n    method linear {\n      min = 0\n      max = 10\n      step = 5\n    }\n  }'),
      'test.conf',
    );
    expect(cfg.metrics[0]?.groupBy).toEqual([
      { kind: 'discrete', field: 'cmd_name', modifier: null },
      { kind: 'linear', field: 'duration', min: 0, max: 10, step: 5 },
    ]);
  });

  const method = (field: string, name: string, body: string[]) =>
    metric24([`  group_by ${field} {`, `    method ${name} {`, ...body.map((l) => `      ${l}`), '    }', '  }'].join('\n'));

  const cases: [string, string, string][] = [
    [
      metric24(['  group_by d {', '    method exponential {', '    }', '    method linear {', '    }', '  }'].join('\n')),
      'test.conf:6:5',
      'metric_group_by d: Only one metric_group_by_method named filter is allowed',
    ],
    [method('d', 'exponential', ['base = 3']), 'test.conf:5:14', 'metric_group_by d: metric_group_by_method_exponential_base must be 2 or 10'],
    [
      method('d', 'exponential', ['min_magnitude = 5', 'max_magnitude = 2']),
      'test.conf:5:23',
      'metric_group_by d: metric_group_by_method_exponential_min_magnitude (5) must be <= metric_group_by_method_exponential_max_magnitude (2)',
    ],
    [
      method('d', 'exponential', ['max_magnitude = 19']),
      'test.conf:5:23',
      'metric_group_by d: metric_group_by_method_exponential_max_magnitude (19) must be <= 18 with base 10',
    ],
    [
      method('d', 'exponential', ['max_magnitude = 63', 'base = 2']),
      'test.conf:5:23',
      'metric_group_by d: metric_group_by_method_exponential_max_magnitude (63) must be <= 62 with base 2',
    ],
    [method('s', 'linear', ['min = 0', 'max = 10']), 'test.conf:4:12', 'metric_group_by s: metric_group_by_method_linear_step must not be 0'],
    [method('s', 'linear', ['step = 0', 'max = 10']), 'test.conf:5:14', 'metric_group_by s: metric_group_by_method_linear_step must not be 0'],
    [
      method('s', 'linear', ['min = 10', 'max = 10', 'step = 1']),
      'test.conf:5:13',
      'metric_group_by s: metric_group_by_method_linear_min (10) must be smaller than metric_group_by_method_linear_max (10)',
    ],
    [
      method('s', 'linear', ['min = 0', 'max = 10', 'step = 20']),
      'test.conf:7:14',
      'metric_group_by s: metric_group_by_method_linear_min (0) + metric_group_by_method_linear_step (20) must be <= metric_group_by_method_linear_max (10)',
    ],
    [
      method('s', 'linear', ['min = -1', 'max = 10', 'step = 1']),
      'test.conf:5:13',
      "metric_group_by s: metric_group_by_method_linear_min must be a non-negative integer, not '-1'",
    ],
    [
      method('s', 'linear', ['min = 0', 'max = 1000000', 'step = 1']),
      'test.conf:7:14',
      'metric_group_by s: metric_group_by_method_linear_step (1) makes too many ranges (1000000 > 10000)',
    ],
    [
      method('s', 'quantile', []),
      'test.conf:4:12',
      "metric_group_by s: unknown aggregation function 'quantile' (expected discrete, exponential or linear)",
    ],
    [
      method('s', 'linear', ['base = 10']),
      'test.conf:5:7',
      "metric_group_by s: Unknown setting 'base' in method linear (expected min, max, step)",
    ],
    [
      method('user', 'discrete', ['modifier = %{value | bogus}']),
      'test.conf:5:28',
      "Failed to expand discrete modifier for user: Unknown filter 'bogus' (known: lower, upper, domain, username)",
    ],
    [metric24('  group_by d {\n    base = 10\n  }'), 'test.conf:4:5', "metric_group_by d: Unknown setting 'base' (expected a method block)"],
    [metric24('  group_by {\n  }'), 'test.conf:3:12', "metric_group_by field name can't be empty"],
  ];
  it.each(cases)('%#: %s', (text, at, detail) => {
    const e = errorOf(text);
    expect(e.code).toBe('ERR_CONFIG_GROUP_BY');
    expect(`${where(e)}: ${e.detail}`).toBe(`${at}: ${detail}`);
  });
});

describe('both dialects', () => {
  it('give equal metric definitions', () => {
    const cfg = parseConfigText(
      [
        'metric imap_command {',
        '  filter = event=imap_command_finished',
        '  fields = net_in_bytes net_out_bytes',
        '  group_by = cmd_name tagged_reply_state duration:exponential:1:5:10 size:linear:100:1000:100 user:discrete:%{value|domain|lower}',
        '  description = IMAP commands',
        '}',
        'metric imap_command2 {',
        '  filter = event=imap_command_finished',
        '  fields = net_in_bytes net_out_bytes',
        '  description = IMAP commands',
        '  group_by cmd_name {',
        '  }',
        '  group_by tagged_reply_state {',
        '    method discrete {',
        '    }',
        '  }',
        '  group_by duration {',
        '    method exponential {',
        '      min_magnitude = 1',
        '      max_magnitude = 5',
        '      base = 10',
        '    }',
        '  }',
        '  group_by size {',
        '    method linear {',
        '      min = 100',
        '      max = 1000',
        '      step = 100',
        '    }',
        '  }',
        '  group_by user {',
        '    method discrete {',
        '      modifier = %{value|domain|lower}',
        '    }',
        '  }',
        '}',
      ].join('\n'),
      'both.conf',
    );
    const [a, b] = cfg.metrics;
    if (a === undefined || b === undefined) throw new Error('two metrics expected');
    expect({ ...withoutPos(b), name: 'imap_command' }).toEqual(withoutPos(a));
    expect(a.pos).toEqual({ file: 'both.conf', line: 1, col: 8 });
    expect(b.pos).toEqual({ file: 'both.conf', line: 7, col: 8 });
    expect(Object.isFrozen(a)).toBe(true);
    expect(Object.isFrozen(a.groupBy)).toBe(true);
    expect(Object.isFrozen(a.groupBy[0])).toBe(true);
  });
});
