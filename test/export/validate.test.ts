import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { renderDovecot, renderOpenMetrics, renderPrometheus } from '../../src/export/index.js';
import type { EngineSnapshot } from '../../src/metrics/types.js';
import { processFamilies, startProcessMetrics } from '../../src/server/process.js';
import { def, handSnapshot, node, OPTS, promtoolCheck, pythonCheck, snapshotOf, validators } from './helpers.js';

if (!validators.required) {
  if (!validators.promtool) console.warn('promtool not found: promtool checks skipped (apt-get install prometheus); with CI set they fail');
  if (!validators.python) {
    console.warn('/usr/bin/python3 with prometheus_client not found: OpenMetrics parser checks skipped (apt-get install python3-prometheus-client); with CI set they fail');
  }
}
const promtoolTest = validators.promtool || validators.required ? test : test.skip;
const pythonTest = validators.python || validators.required ? test : test.skip;

function expectPromtoolClean(text: string): void {
  if (!validators.promtool) throw new Error('promtool is required when CI is set (apt-get install prometheus)');
  const r = promtoolCheck(text);
  expect(r.output).toBe('');
  expect(r.status).toBe(0);
}

function expectOpenMetricsValid(text: string): void {
  if (!validators.python) throw new Error('/usr/bin/python3 with prometheus_client is required when CI is set (apt-get install python3-prometheus-client)');
  const r = pythonCheck(text);
  expect(r.output).toBe('');
  expect(r.status).toBe(0);
}

const HARD = `
max_sub_metrics = 6
metric imap_command {
  filter = event=imap_command_finished
  fields = net_in_bytes net-in.bytes duration
  group_by = cmd_name tagged_reply_state
  description = IMAP commands
}
metric odd_labels {
  filter = event=odd
  fields = x duration_seconds
  group_by = cmd-name le x x 9lives
}
metric odd_labels_x {
  filter = event=odd
}
metric smtp_command {
  filter = event=smtp
  group_by = cmd_name status_code duration:exponential:1:5:10
}
metric mail_delivery {
  filter = event=delivery
  group_by = duration:exponential:1:5:10
}
metric sized {
  filter = event=sized
  fields = size
  group_by = user size:linear:0:1000:300
}
metric sized_nosum {
  filter = event=sized
  group_by = size:exponential:0:4:2
}
metric middle {
  filter = event=odd
  group_by = duration:linear:0:1000:500 cmd-name
}
metric tags {
  filter = event=tagged
  group_by = tags
}
metric empty_grouped {
  filter = event=never
  group_by = a b
}
metric empty_plain {
  filter = event=never
  fields = q
}
metric empty_hist {
  filter = event=never
  group_by = a duration:linear:0:100:10
}
`;

const HARD_EVENTS = [
  { event: 'imap_command_finished', duration: 100, fields: { cmd_name: 'UID FETCH', tagged_reply_state: 'OK', net_in_bytes: 10, 'net-in.bytes': 3 } },
  { event: 'imap_command_finished', duration: 300, fields: { cmd_name: 'say "hi" \\ now', tagged_reply_state: 'OK', net_in_bytes: 1.5 } },
  { event: 'imap_command_finished', duration: 50, fields: { cmd_name: '5', tagged_reply_state: 'NO' } },
  { event: 'imap_command_finished', duration: 50, fields: { cmd_name: 5, tagged_reply_state: 'NO' } },
  { event: 'imap_command_finished', duration: -20, fields: { cmd_name: 'NEG', net_in_bytes: -100 } },
  { event: 'imap_command_finished', duration: 1e15, fields: { cmd_name: 'ünïcødé ✓', tagged_reply_state: '' } },
  { event: 'imap_command_finished', duration: 7, fields: { cmd_name: 'OVER1', tagged_reply_state: 'OK' } },
  { event: 'imap_command_finished', duration: 7, fields: { cmd_name: 'OVER2', tagged_reply_state: 'OK' } },
  { event: 'odd', duration: 1, fields: { 'cmd-name': 'A', le: 'B', x: 'C', '9lives': 'D', duration_seconds: 4 } },
  { event: 'odd', duration: 700, fields: { 'cmd-name': 'A' } },
  { event: 'smtp', duration: 20, fields: { cmd_name: 'LHLO', status_code: 250 } },
  { event: 'smtp', duration: 2e6, fields: { cmd_name: 'DATA' } },
  { event: 'delivery', duration: 656 },
  { event: 'sized', duration: 1, fields: { user: 'a', size: 100 } },
  { event: 'sized', duration: 1, fields: { user: 'a', size: 5000.5 } },
  { event: 'sized', duration: 1, fields: { user: 'b', size: 'big' } },
  { event: 'sized', duration: 1, fields: { user: 'b', size: -3 } },
  { event: 'tagged', duration: 1, fields: { tags: ['a', 'b', 'a'] } },
  { event: 'tagged', duration: 1, fields: { tags: [] } },
  42,
  { nope: true },
];

function hardSnapshot(compat: '2.3' | '2.4'): EngineSnapshot {
  return snapshotOf(`dovecot_compat = ${compat}\n${HARD}`, HARD_EVENTS);
}

function handMade(): EngineSnapshot {
  return handSnapshot([
    {
      def: def('hand', [{ kind: 'discrete', field: 'f', modifier: null }], ['x'], 'quotes " and \\ and\nnewline'),
      root: node('hand', 'hand', { duration: [1, 2, 3], fields: [[1, 2, 3]] }, [
        node('a"b\\c\nd', 'k', { duration: [1], fields: [[1]] }),
        node('', '', { duration: [2], fields: [[2]] }),
        node('__overflow__', null, { duration: [] }),
      ]),
      overflow: 1,
      subMetrics: 2,
    },
  ]);
}

const EXTRA = {
  ...OPTS,
  revision: 'r"1',
  extra: [
    { name: 'tallyd_ring_fill_ratio', help: 'Ring fill "ratio"', type: 'gauge' as const, samples: [{ labels: { shard: '0', 'bad-name': 'x' }, value: 0.5 }] },
    { name: 'tallyd_scrapes', help: 'Scrapes', type: 'counter' as const, samples: [{ labels: {}, value: 2 }] },
    { name: 'tallyd_backpressure_refusals_total', help: 'Refusals', type: 'counter' as const, samples: [] },
  ],
};

const CASES: [string, () => EngineSnapshot][] = [
  ['engine, compat 2.4', () => hardSnapshot('2.4')],
  ['engine, compat 2.3', () => hardSnapshot('2.3')],
  ['hand-built snapshot', handMade],
  ['no metrics', () => handSnapshot([])],
];

describe('promtool check metrics (text 0.0.4): valid and lint-clean', () => {
  for (const [name, snap] of CASES) {
    promtoolTest(name, () => {
      expectPromtoolClean(renderPrometheus(snap(), EXTRA));
    });
  }
  promtoolTest('another prefix', () => {
    expectPromtoolClean(renderPrometheus(hardSnapshot('2.4'), { ...EXTRA, prefix: 'mail' }));
  });
});

describe('prometheus_client OpenMetrics parser', () => {
  for (const [name, snap] of CASES) {
    pythonTest(`strict: ${name}`, () => {
      expectOpenMetricsValid(renderOpenMetrics(snap(), EXTRA));
    });
  }
  pythonTest('dovecot style parses too', () => {
    expectOpenMetricsValid(renderDovecot(hardSnapshot('2.4'), { ...EXTRA, style: 'dovecot' }));
    expectOpenMetricsValid(renderDovecot(hardSnapshot('2.3'), { ...EXTRA, style: 'dovecot', compat: '2.3' }));
  });
});

describe('random engine outputs validate', () => {
  const value = fc.oneof(fc.constantFrom('p', '', 'UID FETCH', 'q"\\', 'le'), fc.integer({ min: -2, max: 3 }));
  const eventArb = fc.record({
    event: fc.constant('e'),
    duration: fc.integer({ min: -10, max: 200000 }),
    fields: fc.record({ a: value, b: value, n: fc.oneof(fc.integer({ min: -5, max: 2000 }), fc.constant('z')), x: fc.double({ min: -1, max: 1e6, noNaN: true }) }, { requiredKeys: [] }),
  });
  const caseArb = fc.record({
    compat: fc.constantFrom('2.3', '2.4'),
    levels: fc.shuffledSubarray(['a', 'b', 'a', 'duration:exponential:0:4:2', 'n:linear:0:1000:300'], { maxLength: 3 }),
    fields: fc.subarray(['x', 'n', 'duration', 'n.x']),
    events: fc.array(eventArb, { maxLength: 30 }),
  });
  const snapOf = (c: { compat: string; levels: string[]; fields: string[]; events: unknown[] }): EngineSnapshot =>
    snapshotOf(
      `dovecot_compat = ${c.compat}\nmax_sub_metrics = 8\nmetric calls {\n  filter = event=e\n${c.fields.length > 0 ? `  fields = ${c.fields.join(' ')}\n` : ''}${c.levels.length > 0 ? `  group_by = ${c.levels.join(' ')}\n` : ''}}\nmetric calls_x {\n  filter = event=e\n}\n`,
      c.events,
    );
  const cases = fc.sample(caseArb, { numRuns: 12, seed: 20240917 });

  promtoolTest('text 0.0.4 (promtool)', () => {
    for (const c of cases) expectPromtoolClean(renderPrometheus(snapOf(c), EXTRA));
  });
  pythonTest('OpenMetrics (prometheus_client)', () => {
    for (const c of cases) expectOpenMetricsValid(renderOpenMetrics(snapOf(c), EXTRA));
  });
});

describe("prom-client's process metrics among the self-metrics", () => {
  const withProcess = async () => {
    startProcessMetrics();
    return { ...OPTS, extra: await processFamilies() };
  };
  const snap = () => snapshotOf(HARD, []);

  test('are there under their usual names', async () => {
    const text = renderPrometheus(snap(), await withProcess());
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes', 'nodejs_heap_size_total_bytes']) {
      expect(text).toMatch(new RegExp(`^${name}(\\{[^}]*\\})? [0-9.e+-]+$`, 'm'));
    }
    // one start time, the preamble's
    expect(text.match(/^process_start_time_seconds /gm)).toHaveLength(1);
  });
  promtoolTest('text 0.0.4 (promtool)', async () => {
    expectPromtoolClean(renderPrometheus(snap(), await withProcess()));
  });
  pythonTest('OpenMetrics (prometheus_client)', async () => {
    expectOpenMetricsValid(renderOpenMetrics(snap(), await withProcess()));
  });
  pythonTest('dovecot style (prometheus_client)', async () => {
    expectOpenMetricsValid(renderDovecot(snap(), { ...(await withProcess()), style: 'dovecot' }));
  });
});
