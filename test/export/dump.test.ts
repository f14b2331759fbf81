import { describe, expect, test } from 'vitest';
import { DEFAULT_DUMP_FIELDS, parseDumpFields, renderDump, renderExport } from '../../src/export/index.js';
import { def, handSnapshot, node, OPTS, snapshotOf } from './helpers.js';

const IMAP = `
metric imap_command {
  filter = event=imap_command_finished
  group_by = cmd_name tagged_reply_state
}
`;
const cmd = (name: string, state: string | undefined, duration: number, extra: Record<string, unknown> = {}) => ({
  event: 'imap_command_finished',
  duration,
  fields: { cmd_name: name, ...(state === undefined ? {} : { tagged_reply_state: state }), ...extra },
});

describe('parseDumpFields', () => {
  test('splits on spaces and commas, drops empty words', () => {
    expect(parseDumpFields('count,sum  min, ,%99.9')).toEqual(['count', 'sum', 'min', '%99.9']);
  });
  test('default fields', () => {
    expect(parseDumpFields(undefined)).toEqual(['count', 'sum', 'min', 'max', 'avg', 'median', 'stddev', '%95']);
    expect(parseDumpFields('')).toEqual([...DEFAULT_DUMP_FIELDS]);
    expect(parseDumpFields(' , ')).toEqual([...DEFAULT_DUMP_FIELDS]);
  });
});

describe('renderDump', () => {
  test('contract §5.4 worked example', () => {
    const snap = snapshotOf(IMAP, [cmd('SELECT', 'OK', 100), cmd('SELECT', 'OK', 300), cmd('FETCH', 'OK', 50)]);
    expect(renderDump(snap, parseDumpFields(undefined), { compat: '2.4' })).toBe(
      [
        'metric_name\tfield\tcount\tsum\tmin\tmax\tavg\tmedian\tstddev\t%95',
        'imap_command\tduration\t3\t450\t50\t300\t150.00\t100\t108.01\t300',
        'imap_command_SELECT\tduration\t2\t400\t100\t300\t200.00\t200\t100.00\t300',
        'imap_command_SELECT_OK\tduration\t2\t400\t100\t300\t200.00\t200\t100.00\t300',
        'imap_command_FETCH\tduration\t1\t50\t50\t50\t50.00\t50\t0.00\t50',
        'imap_command_FETCH_OK\tduration\t1\t50\t50\t50\t50.00\t50\t0.00\t50',
        '',
      ].join('\n'),
    );
  });

  test('vectors: 1..20 → median 10, %95 19; {1..8} → stddev 2.29', () => {
    const cfg = 'metric m {\n  filter = event=e\n}\n';
    const a = snapshotOf(cfg, Array.from({ length: 20 }, (_, i) => ({ event: 'e', duration: i + 1 })));
    expect(renderDump(a, ['median', '%95', 'avg'], { compat: '2.4' })).toBe('metric_name\tfield\tmedian\t%95\tavg\nm\tduration\t10\t19\t10.50\n');
    const b = snapshotOf(cfg, Array.from({ length: 8 }, (_, i) => ({ event: 'e', duration: i + 1 })));
    expect(renderDump(b, ['stddev', 'variance'], { compat: '2.4' })).toBe('metric_name\tfield\tstddev\tvariance\nm\tduration\t2.29\t5.25\n');
  });

  test('avg rounds ties to even like C (%.2f of the exact double)', () => {
    const cfg = 'metric m {\n  filter = event=e\n}\n';
    // 1/8 = 0.125 exactly → "0.12"; 3/8 → "0.38"
    const one = snapshotOf(cfg, [{ event: 'e', duration: 1 }, ...Array.from({ length: 7 }, () => ({ event: 'e', duration: 0 }))]);
    const three = snapshotOf(cfg, [{ event: 'e', duration: 3 }, ...Array.from({ length: 7 }, () => ({ event: 'e', duration: 0 }))]);
    expect(renderDump(one, ['avg'], { compat: '2.4' })).toBe('metric_name\tfield\tavg\nm\tduration\t0.12\n');
    expect(renderDump(three, ['avg'], { compat: '2.4' })).toBe('metric_name\tfield\tavg\nm\tduration\t0.38\n');
  });

  test('configured fields get their own rows; unknown fields are empty cells; titles as given', () => {
    const cfg = `
metric m {
  filter = event=e
  fields = bytes label
  group_by = cmd
}
`;
    const snap = snapshotOf(cfg, [
      { event: 'e', duration: 10, fields: { cmd: 'A B', bytes: 5, label: 'x' } },
      { event: 'e', duration: 30, fields: { cmd: 'A B', bytes: 7.5 } },
    ]);
    expect(renderDump(snap, ['count', 'sum', 'bogus', '%50', 'max'], { compat: '2.4' })).toBe(
      [
        'metric_name\tfield\tcount\tsum\tbogus\t%50\tmax',
        'm\tduration\t2\t40\t\t10\t30',
        'm\tbytes\t2\t12\t\t5\t7',
        'm\tlabel\t1\t0\t\t0\t0',
        'm_A_B\tduration\t2\t40\t\t10\t30',
        'm_A_B\tbytes\t2\t12\t\t5\t7',
        'm_A_B\tlabel\t1\t0\t\t0\t0',
        '',
      ].join('\n'),
    );
  });

  test('an empty metric prints zeros', () => {
    const snap = snapshotOf(IMAP, []);
    expect(renderDump(snap, [...DEFAULT_DUMP_FIELDS], { compat: '2.4' })).toBe(
      'metric_name\tfield\tcount\tsum\tmin\tmax\tavg\tmedian\tstddev\t%95\nimap_command\tduration\t0\t0\t0\t0\t0.00\t0\t0.00\t0\n',
    );
  });

  test('2.4: a missing group_by field is a child named "" (trailing _)', () => {
    const snap = snapshotOf(IMAP, [cmd('NOOP', undefined, 7)]);
    expect(renderDump(snap, ['count'], { compat: '2.4' })).toBe(
      'metric_name\tfield\tcount\nimap_command\tduration\t1\nimap_command_NOOP\tduration\t1\nimap_command_NOOP_\tduration\t1\n',
    );
  });

  test('2.3: a missing group_by field stops the event at the level above', () => {
    const snap = snapshotOf(`dovecot_compat = 2.3\n${IMAP}`, [cmd('NOOP', undefined, 7)]);
    expect(renderDump(snap, ['count'], { compat: '2.3' })).toBe(
      'metric_name\tfield\tcount\nimap_command\tduration\t1\nimap_command_NOOP\tduration\t1\n',
    );
  });

  test('space, tab, CR and LF in names become _; other characters are kept', () => {
    const snap = handSnapshot([
      {
        def: def('m', [{ kind: 'discrete', field: 'f', modifier: null }]),
        root: node('m', 'm', { duration: [1] }, [node('a b\tc\rd\ne.f@g/h', 'k', { duration: [1] })]),
        overflow: 0,
        subMetrics: 1,
      },
    ]);
    expect(renderDump(snap, ['count'], { compat: '2.4' })).toBe('metric_name\tfield\tcount\nm\tduration\t1\nm_a_b_c_d_e.f@g/h\tduration\t1\n');
  });

  test('two children with one display name print as Dovecot prints them (both compat modes)', () => {
    // the string "5" and the integer 5 are two sub-metrics named 5
    const cfg = (compat: string) => `dovecot_compat = ${compat}\nmetric m {\n  filter = event=e\n  group_by = v\n}\n`;
    const events = [
      { event: 'e', duration: 1, fields: { v: '5' } },
      { event: 'e', duration: 2, fields: { v: 5 } },
    ];
    for (const compat of ['2.3', '2.4'] as const) {
      const snap = snapshotOf(cfg(compat), events);
      expect(renderDump(snap, ['count', 'sum'], { compat })).toBe(
        'metric_name\tfield\tcount\tsum\nm\tduration\t2\t3\nm_5\tduration\t1\t1\nm_5\tduration\t1\t2\n',
      );
    }
  });

  test('metrics in config order; a field listed twice gets two rows', () => {
    const cfg = `
metric b {
  filter = event=e
  fields = duration
}
metric a {
  filter = event=e
}
`;
    const snap = snapshotOf(cfg, [{ event: 'e', duration: 4 }]);
    expect(renderExport('dump', snap, { ...OPTS, fields: ['count', 'sum'] })).toBe(
      'metric_name\tfield\tcount\tsum\nb\tduration\t1\t4\nb\tduration\t1\t4\na\tduration\t1\t4\n',
    );
  });

  test('percentiles and median print floored; floats and negatives', () => {
    const cfg = 'metric m {\n  filter = event=e\n  fields = x\n}\n';
    const snap = snapshotOf(cfg, [
      { event: 'e', duration: 0, fields: { x: 1.5 } },
      { event: 'e', duration: 0, fields: { x: 2.5 } },
      { event: 'e', duration: 0, fields: { x: -3.25 } },
    ]);
    expect(renderDump(snap, ['count', 'sum', 'min', 'max', 'avg', 'median', '%100'], { compat: '2.4' })).toBe(
      'metric_name\tfield\tcount\tsum\tmin\tmax\tavg\tmedian\t%100\nm\tduration\t3\t0\t0\t0\t0.00\t0\t0\nm\tx\t3\t0\t-4\t2\t0.25\t1\t2\n',
    );
  });
});
