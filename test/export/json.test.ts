import { describe, expect, test } from 'vitest';
import { renderJson } from '../../src/export/index.js';
import { def, handSnapshot, node, OPTS, snapshotOf } from './helpers.js';

const CFG = `
metric imap_command {
  filter = event=imap_command_finished
  group_by = cmd_name tagged_reply_state
  description = IMAP commands
}
metric auth {
  filter = event=auth
  group_by = user
}
metric plain {
  filter = event=plain
}
metric delivery {
  filter = event=delivery
  group_by = duration:exponential:1:2:10
}
`;
const EVENTS = [
  { event: 'imap_command_finished', duration: 100, fields: { cmd_name: 'SELECT', tagged_reply_state: 'OK' } },
  { event: 'imap_command_finished', duration: 300, fields: { cmd_name: 'SELECT', tagged_reply_state: 'OK' } },
  { event: 'imap_command_finished', duration: 50, fields: { cmd_name: 'FETCH', tagged_reply_state: 'NO' } },
  { event: 'auth', duration: 5, fields: { user: 'a@x' } },
  { event: 'auth', duration: 7, fields: { user: 'b"\\' } },
  { event: 'plain', duration: 2500000 },
  { event: 'delivery', duration: 50 },
  { event: 'delivery', duration: 5000 },
];

const stats = (count: number, sum: number, median: number, p95: number, stddev: number, min: number, max: number) => ({
  count,
  sum,
  avg: count === 0 ? 0 : sum / count,
  median,
  '%95': p95,
  '%99': p95,
  stddev,
  min,
  max,
});

describe('/metrics.json', () => {
  test('KumoMTA shape: number, {label:{value:n}}, [{labels…, "@": n}], histogram objects, summaries', () => {
    const text = renderJson(snapshotOf(CFG, EVENTS), OPTS);
    const doc = JSON.parse(text) as Record<string, { help?: string; type: string; value: unknown }>;
    expect(Object.keys(doc)).toEqual([
      'process_start_time_seconds',
      'tallyd_build_info',
      'dovecot_imap_command_total',
      'dovecot_imap_command_duration_seconds_total',
      'dovecot_imap_command_summary',
      'dovecot_auth_total',
      'dovecot_auth_duration_seconds_total',
      'dovecot_auth_summary',
      'dovecot_plain_total',
      'dovecot_plain_duration_seconds_total',
      'dovecot_plain_summary',
      'dovecot_delivery_total',
      'dovecot_delivery_duration_seconds',
      'dovecot_delivery_summary',
      'tallyd_events_received_total',
      'tallyd_events_accepted_total',
      'tallyd_events_rejected_total',
      'tallyd_events_lost_total',
      'tallyd_batches_total',
      'tallyd_bytes_total',
      'tallyd_negative_values_total',
      'tallyd_sub_metrics_overflow_total',
      'tallyd_sub_metrics',
    ]);
    expect(doc['process_start_time_seconds']).toEqual({
      help: 'Start time of the process since unix epoch in seconds',
      type: 'gauge',
      value: 1700000000,
    });
    expect(doc['tallyd_build_info']).toEqual({
      help: 'tallyd build information',
      type: 'gauge',
      value: [{ version: '0.1.0', revision: 'unknown', node: 'v0.0.0', '@': 1 }],
    });
    expect(doc['dovecot_imap_command_total']).toEqual({
      help: 'Total number of all events of this kind of IMAP commands',
      type: 'counter',
      value: [
        { cmd_name: 'SELECT', tagged_reply_state: 'OK', '@': 2 },
        { cmd_name: 'FETCH', tagged_reply_state: 'NO', '@': 1 },
      ],
    });
    expect(doc['dovecot_auth_total']?.value).toEqual({ user: { 'a@x': 1, 'b"\\': 1 } });
    expect(doc['dovecot_plain_total']?.value).toBe(1);
    expect(doc['dovecot_plain_duration_seconds_total']?.value).toBe(2.5);
    expect(doc['dovecot_delivery_duration_seconds']).toEqual({
      help: 'Histogram of the duration of all events of this kind',
      type: 'histogram',
      value: { count: 2, sum: 0.00505, avg: 0.002525, bucket: [[0.00001, 0], [0.0001, 1]] },
    });
    expect(doc['dovecot_imap_command_summary']).toEqual({
      help: 'Figures of every node of all events of this kind of IMAP commands',
      type: 'summary',
      value: [
        { cmd_name: null, tagged_reply_state: null, field: 'duration', '@': stats(3, 450, 100, 300, Math.sqrt(35000 / 3), 50, 300) },
        { cmd_name: 'SELECT', tagged_reply_state: null, field: 'duration', '@': stats(2, 400, 200, 300, 100, 100, 300) },
        { cmd_name: 'SELECT', tagged_reply_state: 'OK', field: 'duration', '@': stats(2, 400, 200, 300, 100, 100, 300) },
        { cmd_name: 'FETCH', tagged_reply_state: null, field: 'duration', '@': stats(1, 50, 50, 50, 0, 50, 50) },
        { cmd_name: 'FETCH', tagged_reply_state: 'NO', field: 'duration', '@': stats(1, 50, 50, 50, 0, 50, 50) },
      ],
    });
    expect(doc['dovecot_plain_summary']?.value).toEqual({ field: { duration: stats(1, 2500000, 2500000, 2500000, 0, 2500000, 2500000) } });
    expect(doc['dovecot_delivery_summary']?.value).toEqual([
      { duration: null, field: 'duration', '@': stats(2, 5050, 2525, 5000, 2475, 50, 5000) },
      { duration: '11_100', field: 'duration', '@': stats(1, 50, 50, 50, 0, 50, 50) },
      { duration: '101_inf', field: 'duration', '@': stats(1, 5000, 5000, 5000, 0, 5000, 5000) },
    ]);
    expect(doc['tallyd_events_rejected_total']).toEqual({ help: 'Events rejected, by reason', type: 'counter', value: null });
    expect(doc['tallyd_sub_metrics']?.value).toEqual({ metric: { imap_command: 4, auth: 2, plain: 0, delivery: 2 } });
    // one family per line; histogram keys in KumoMTA's order
    expect(text.split('\n')[3]).toBe(
      '"dovecot_imap_command_total":{"help":"Total number of all events of this kind of IMAP commands","type":"counter","value":[{"cmd_name":"SELECT","tagged_reply_state":"OK","@":2},{"cmd_name":"FETCH","tagged_reply_state":"NO","@":1}]},',
    );
    expect(text).toContain('"value":{"count":2,"sum":0.00505,"avg":0.002525,"bucket":[[0.00001,0],[0.0001,1]]}}');
  });

  test('runtime families with KumoMTA-like names', () => {
    const snap = snapshotOf(CFG, []);
    const doc = JSON.parse(
      renderJson(snap, {
        ...OPTS,
        extra: [
          { name: 'connection_count', help: 'number of active connections', type: 'gauge', samples: [{ labels: { service: 'http' }, value: 3 }] },
          { name: 'memory_usage', help: 'number of bytes of used memory', type: 'gauge', samples: [{ labels: {}, value: 185683968 }] },
          {
            name: 'ready_count',
            help: 'events waiting in a shard ring',
            type: 'gauge',
            samples: [
              { labels: { shard: '0' }, value: 1 },
              { labels: { shard: '1' }, value: 0 },
            ],
          },
          { name: 'total_shard_restarts', help: 'total number of shard workers restarted', type: 'counter', samples: [{ labels: {}, value: 2 }] },
          { name: 'tallyd_things_total', help: 'things', type: 'counter', samples: [{ labels: {}, value: 5 }] },
        ],
      }),
    ) as Record<string, { value: unknown }>;
    // KumoMTA-style counter names are kept; a `_total` counter keeps its sample name
    expect(doc['total_shard_restarts']).toEqual({ help: 'total number of shard workers restarted', type: 'counter', value: 2 });
    expect(doc['tallyd_things_total']?.value).toBe(5);
    expect(Object.keys(doc).some((k) => k.endsWith('_total_total') || k === 'total_shard_restarts_total')).toBe(false);
    expect(doc['connection_count']).toEqual({ help: 'number of active connections', type: 'gauge', value: { service: { http: 3 } } });
    expect(doc['memory_usage']?.value).toBe(185683968);
    expect(doc['ready_count']?.value).toEqual({ shard: { '0': 1, '1': 0 } });
  });

  test('always valid JSON: odd names escaped, non-finite figures null', () => {
    const m = {
      def: def('m', [{ kind: 'discrete', field: 'f', modifier: null }], ['x'], 'with "quotes" and \\ and \u2028'),
      root: node('m', 'm', { duration: [1, 2], fields: [[1e308, 1e308]] }, [
        node('a"b\\c\nd\u2028\u0001', 'k', { duration: [1], fields: [[1e308]] }),
        node('', '', { duration: [2], fields: [[1e308]] }),
      ]),
      overflow: 0,
      subMetrics: 2,
    };
    const text = renderJson(handSnapshot([m]), OPTS);
    const doc = JSON.parse(text) as Record<string, { help?: string; value: unknown }>;
    expect(text).not.toMatch(/NaN|Infinity/);
    expect(doc['dovecot_m_total']?.value).toEqual({ f: { 'a"b\\c\nd\u2028\u0001': 1, '': 1 } });
    expect(doc['dovecot_m_total']?.help).toBe('Total number of all events of this kind of with "quotes" and \\ and \u2028');
    const summary = doc['dovecot_m_summary']?.value as { field: string; '@': Record<string, number | null> }[];
    expect(summary[1]?.field).toBe('x');
    expect(summary[1]?.['@']['sum']).toBeNull(); // 2e308 overflows to Infinity
    expect(summary[1]?.['@']['avg']).toBeNull();
  });

  test('a basic snapshot has no percentiles: null, never a guess', () => {
    const doc = JSON.parse(renderJson(snapshotOf(CFG, EVENTS, 'basic'), OPTS)) as Record<string, { value: unknown }>;
    const v = doc['dovecot_plain_summary']?.value as { field: { duration: Record<string, number | null> } };
    expect(v.field.duration['median']).toBeNull();
    expect(v.field.duration['count']).toBe(1);
  });

  test('a field listed twice is two summary entries', () => {
    const cfg = 'metric m {\n  filter = event=e\n  fields = duration\n}\n';
    const doc = JSON.parse(renderJson(snapshotOf(cfg, [{ event: 'e', duration: 3 }]), OPTS)) as Record<string, { value: unknown }>;
    expect(Object.keys((doc['dovecot_m_summary']?.value as { field: object }).field)).toEqual(['duration', 'duration~2']);
  });
});
