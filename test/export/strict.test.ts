import { describe, expect, test } from 'vitest';
import { renderOpenMetrics, renderPrometheus } from '../../src/export/index.js';
import { def, familyLines, handSnapshot, node, OPTS, snapshotOf } from './helpers.js';

const IMAP = `
metric imap_command {
  filter = event=imap_command_finished
  fields = net_in_bytes
  group_by = cmd_name tagged_reply_state
  description = IMAP commands
}
`;
const imap = (cmd: string | undefined, state: string | undefined, duration: number, bytes?: number) => ({
  event: 'imap_command_finished',
  duration,
  fields: {
    ...(cmd === undefined ? {} : { cmd_name: cmd }),
    ...(state === undefined ? {} : { tagged_reply_state: state }),
    ...(bytes === undefined ? {} : { net_in_bytes: bytes }),
  },
});
const IMAP_EVENTS = [imap('SELECT', 'OK', 100, 10), imap('SELECT', 'OK', 300, 20), imap('FETCH', 'OK', 50), imap(undefined, 'OK', 70)];

describe('strict OpenMetrics: whole document', () => {
  test('preamble, leaves with full label sets, self-metrics, # EOF', () => {
    const snap = snapshotOf(IMAP, IMAP_EVENTS);
    snap.counters.eventsRejected = { not_a_map: 2 };
    const text = renderOpenMetrics(snap, { ...OPTS, revision: 'abc123' });
    expect(text).toBe(`# TYPE process_start_time_seconds gauge
# UNIT process_start_time_seconds seconds
# HELP process_start_time_seconds Start time of the process since unix epoch in seconds
process_start_time_seconds 1700000000
# TYPE tallyd_build info
# HELP tallyd_build tallyd build information
tallyd_build_info{version="0.1.0",revision="abc123",node="v0.0.0"} 1
# TYPE dovecot_imap_command counter
# HELP dovecot_imap_command Total number of all events of this kind of IMAP commands
dovecot_imap_command_total{cmd_name="SELECT",tagged_reply_state="OK"} 2
dovecot_imap_command_total{cmd_name="FETCH",tagged_reply_state="OK"} 1
dovecot_imap_command_total{cmd_name="",tagged_reply_state="OK"} 1
# TYPE dovecot_imap_command_duration_seconds counter
# UNIT dovecot_imap_command_duration_seconds seconds
# HELP dovecot_imap_command_duration_seconds Total duration of all events of this kind of IMAP commands
dovecot_imap_command_duration_seconds_total{cmd_name="SELECT",tagged_reply_state="OK"} 0.0004
dovecot_imap_command_duration_seconds_total{cmd_name="FETCH",tagged_reply_state="OK"} 0.00005
dovecot_imap_command_duration_seconds_total{cmd_name="",tagged_reply_state="OK"} 0.00007
# TYPE dovecot_imap_command_net_in_bytes counter
# HELP dovecot_imap_command_net_in_bytes Total of field net_in_bytes for events of this kind of IMAP commands
dovecot_imap_command_net_in_bytes_total{cmd_name="SELECT",tagged_reply_state="OK"} 30
dovecot_imap_command_net_in_bytes_total{cmd_name="FETCH",tagged_reply_state="OK"} 0
dovecot_imap_command_net_in_bytes_total{cmd_name="",tagged_reply_state="OK"} 0
# TYPE tallyd_events_received counter
# HELP tallyd_events_received Events received, accepted or rejected
tallyd_events_received_total 4
# TYPE tallyd_events_accepted counter
# HELP tallyd_events_accepted Events accepted
tallyd_events_accepted_total 4
# TYPE tallyd_events_rejected counter
# HELP tallyd_events_rejected Events rejected, by reason
tallyd_events_rejected_total{reason="not_a_map"} 2
# TYPE tallyd_events_lost counter
# HELP tallyd_events_lost Events lost in a shard worker that died
tallyd_events_lost_total 0
# TYPE tallyd_batches counter
# HELP tallyd_batches Batches received
tallyd_batches_total 1
# TYPE tallyd_bytes counter
# HELP tallyd_bytes Bytes of batches received
tallyd_bytes_total 0
# TYPE tallyd_negative_values counter
# HELP tallyd_negative_values Negative values, recorded as 0 in the percentile histograms
tallyd_negative_values_total 0
# TYPE tallyd_sub_metrics_overflow counter
# HELP tallyd_sub_metrics_overflow Events that went to an __overflow__ sub-metric
tallyd_sub_metrics_overflow_total{metric="imap_command"} 0
# TYPE tallyd_sub_metrics gauge
# HELP tallyd_sub_metrics Sub-metrics of a metric, all levels
tallyd_sub_metrics{metric="imap_command"} 6
# EOF
`);
  });

  test('the Prometheus text 0.0.4 twin', () => {
    const snap = snapshotOf(IMAP, IMAP_EVENTS);
    const text = renderPrometheus(snap, {
      ...OPTS,
      extra: [
        { name: 'tallyd_ring_fill_ratio', help: 'Ring fill', type: 'gauge', samples: [{ labels: { shard: '0' }, value: 0.25 }] },
        { name: 'tallyd_scrapes', help: 'Scrapes', type: 'counter', samples: [{ labels: {}, value: 3 }] },
      ],
    });
    expect(text.startsWith(`# HELP process_start_time_seconds Start time of the process since unix epoch in seconds
# TYPE process_start_time_seconds gauge
process_start_time_seconds 1700000000
# HELP tallyd_build_info tallyd build information
# TYPE tallyd_build_info gauge
tallyd_build_info{version="0.1.0",revision="unknown",node="v0.0.0"} 1
# HELP dovecot_imap_command_total Total number of all events of this kind of IMAP commands
# TYPE dovecot_imap_command_total counter
dovecot_imap_command_total{cmd_name="SELECT",tagged_reply_state="OK"} 2
dovecot_imap_command_total{cmd_name="FETCH",tagged_reply_state="OK"} 1
dovecot_imap_command_total{cmd_name="",tagged_reply_state="OK"} 1
# HELP dovecot_imap_command_duration_seconds_total Total duration of all events of this kind of IMAP commands
# TYPE dovecot_imap_command_duration_seconds_total counter
dovecot_imap_command_duration_seconds_total{cmd_name="SELECT",tagged_reply_state="OK"} 0.0004
`)).toBe(true);
    expect(text.endsWith(`# HELP tallyd_ring_fill_ratio Ring fill
# TYPE tallyd_ring_fill_ratio gauge
tallyd_ring_fill_ratio{shard="0"} 0.25
# HELP tallyd_scrapes_total Scrapes
# TYPE tallyd_scrapes_total counter
tallyd_scrapes_total 3
`)).toBe(true);
    expect(text).not.toContain('# EOF');
    expect(text).not.toContain('# UNIT');
  });
});

describe('strict: series are the leaves', () => {
  test('2.3: events that stopped above the last level get empty values', () => {
    const snap = snapshotOf(`dovecot_compat = 2.3\n${IMAP}`, [...IMAP_EVENTS, imap('NOOP', undefined, 5, 1)]);
    expect(familyLines(renderOpenMetrics(snap, OPTS), 'dovecot_imap_command_total')).toBe(`dovecot_imap_command_total{cmd_name="",tagged_reply_state=""} 1
dovecot_imap_command_total{cmd_name="SELECT",tagged_reply_state="OK"} 2
dovecot_imap_command_total{cmd_name="FETCH",tagged_reply_state="OK"} 1
dovecot_imap_command_total{cmd_name="NOOP",tagged_reply_state=""} 1`);
    expect(familyLines(renderOpenMetrics(snap, OPTS), 'dovecot_imap_command_net_in_bytes_total')).toBe(`dovecot_imap_command_net_in_bytes_total{cmd_name="",tagged_reply_state=""} 0
dovecot_imap_command_net_in_bytes_total{cmd_name="SELECT",tagged_reply_state="OK"} 30
dovecot_imap_command_net_in_bytes_total{cmd_name="FETCH",tagged_reply_state="OK"} 0
dovecot_imap_command_net_in_bytes_total{cmd_name="NOOP",tagged_reply_state=""} 1`);
  });

  test('a stopped event is summed with a real empty value: one series per label set', () => {
    // root: 4 events; children "" (1 event) and A (1 event); 2 stopped at the root
    const m = {
      def: def('m', [{ kind: 'discrete', field: 'f', modifier: null }]),
      root: node('m', 'm', { duration: [1, 2, 3, 4] }, [node('', '', { duration: [3] }), node('A', 'A', { duration: [4] })]),
      overflow: 0,
      subMetrics: 2,
    };
    const text = renderOpenMetrics(handSnapshot([m]), OPTS);
    expect(familyLines(text, 'dovecot_m_total')).toBe('dovecot_m_total{f=""} 3\ndovecot_m_total{f="A"} 1');
    expect(familyLines(text, 'dovecot_m_duration_seconds_total')).toBe(
      'dovecot_m_duration_seconds_total{f=""} 0.000006\ndovecot_m_duration_seconds_total{f="A"} 0.000004',
    );
  });

  test('two children with one display name stay two series (the later one suffixed ~2)', () => {
    const cfg = 'metric m {\n  filter = event=e\n  group_by = v w\n}\n';
    const snap = snapshotOf(cfg, [
      { event: 'e', duration: 1, fields: { v: '5', w: 'x' } },
      { event: 'e', duration: 2, fields: { v: 5, w: 'x' } },
      { event: 'e', duration: 4, fields: { v: 5, w: 'x' } },
    ]);
    expect(familyLines(renderPrometheus(snap, OPTS), 'dovecot_m_total{')).toBe(
      'dovecot_m_total{v="5",w="x"} 1\ndovecot_m_total{v="5~2",w="x"} 2',
    );
  });

  test('label values and HELP are escaped (HELP per format)', () => {
    const m = {
      def: def('m', [{ kind: 'discrete', field: 'f', modifier: null }], [], 'say "hi" \\ now'),
      root: node('m', 'm', { duration: [1, 2] }, [node('a"b\\c\nd', 'k', { duration: [1] }), node('ünï €', 'u', { duration: [2] })]),
      overflow: 0,
      subMetrics: 2,
    };
    const snap = handSnapshot([m]);
    const om = renderOpenMetrics(snap, OPTS);
    expect(om).toContain('# HELP dovecot_m Total number of all events of this kind of say \\"hi\\" \\\\ now\n');
    expect(om).toContain('dovecot_m_total{f="a\\"b\\\\c\\nd"} 1\n');
    expect(om).toContain('dovecot_m_total{f="ünï €"} 1\n');
    const txt = renderPrometheus(snap, OPTS);
    expect(txt).toContain('# HELP dovecot_m_total Total number of all events of this kind of say "hi" \\\\ now\n');
    expect(txt).toContain('dovecot_m_total{f="a\\"b\\\\c\\nd"} 1\n');
  });

  test('label names: sanitized, le renamed, a field grouped twice disambiguated', () => {
    const cfg = 'metric m {\n  filter = event=e\n  fields = net-in.bytes\n  group_by = cmd-name le x x 9lives\n}\n';
    const snap = snapshotOf(cfg, [
      { event: 'e', duration: 1, fields: { 'cmd-name': 'A', le: 'B', x: 'C', '9lives': 'D', 'net-in.bytes': 3 } },
    ]);
    const text = renderOpenMetrics(snap, OPTS);
    expect(familyLines(text, 'dovecot_m_total')).toBe('dovecot_m_total{cmd_name="A",le_="B",x="C",x_2="C",l_9lives="D"} 1');
    expect(familyLines(text, 'dovecot_m_net_in_bytes_total')).toBe(
      'dovecot_m_net_in_bytes_total{cmd_name="A",le_="B",x="C",x_2="C",l_9lives="D"} 3',
    );
  });

  test('an empty metric: zero samples without group_by, no series with group_by', () => {
    const cfg = `${IMAP}\nmetric plain {\n  filter = event=p\n}\n`;
    const text = renderOpenMetrics(snapshotOf(cfg, []), OPTS);
    expect(familyLines(text, 'dovecot_imap_command')).toBe(`# TYPE dovecot_imap_command counter
# HELP dovecot_imap_command Total number of all events of this kind of IMAP commands
# TYPE dovecot_imap_command_duration_seconds counter
# UNIT dovecot_imap_command_duration_seconds seconds
# HELP dovecot_imap_command_duration_seconds Total duration of all events of this kind of IMAP commands
# TYPE dovecot_imap_command_net_in_bytes counter
# HELP dovecot_imap_command_net_in_bytes Total of field net_in_bytes for events of this kind of IMAP commands`);
    expect(familyLines(text, 'dovecot_plain')).toBe(`# TYPE dovecot_plain counter
# HELP dovecot_plain Total number of all events of this kind
dovecot_plain_total 0
# TYPE dovecot_plain_duration_seconds counter
# UNIT dovecot_plain_duration_seconds seconds
# HELP dovecot_plain_duration_seconds Total duration of all events of this kind
dovecot_plain_duration_seconds_total 0`);
  });
});

describe('strict: histograms', () => {
  const SMTP = `
metric smtp_command {
  filter = event=smtp_server_command_finished
  group_by = cmd_name status_code duration:exponential:1:5:10
}
`;
  test('last level quantizes duration: histogram in seconds instead of the duration counter', () => {
    const ev = (cmd: string, code: number | undefined, duration: number) => ({
      event: 'smtp_server_command_finished',
      duration,
      fields: code === undefined ? { cmd_name: cmd } : { cmd_name: cmd, status_code: code },
    });
    const snap = snapshotOf(SMTP, [ev('LHLO', 250, 20), ev('DATA', 250, 1249), ev('DATA', 250, 150000), ev('QUIT', undefined, 10)]);
    expect(familyLines(renderOpenMetrics(snap, OPTS), 'dovecot_smtp_command')).toBe(`# TYPE dovecot_smtp_command counter
# HELP dovecot_smtp_command Total number of all events of this kind
dovecot_smtp_command_total{cmd_name="LHLO",status_code="250"} 1
dovecot_smtp_command_total{cmd_name="DATA",status_code="250"} 2
dovecot_smtp_command_total{cmd_name="QUIT",status_code=""} 1
# TYPE dovecot_smtp_command_duration_seconds histogram
# UNIT dovecot_smtp_command_duration_seconds seconds
# HELP dovecot_smtp_command_duration_seconds Histogram of the duration of all events of this kind
dovecot_smtp_command_duration_seconds_bucket{cmd_name="LHLO",status_code="250",le="0.00001"} 0
dovecot_smtp_command_duration_seconds_bucket{cmd_name="LHLO",status_code="250",le="0.0001"} 1
dovecot_smtp_command_duration_seconds_bucket{cmd_name="LHLO",status_code="250",le="0.001"} 1
dovecot_smtp_command_duration_seconds_bucket{cmd_name="LHLO",status_code="250",le="0.01"} 1
dovecot_smtp_command_duration_seconds_bucket{cmd_name="LHLO",status_code="250",le="0.1"} 1
dovecot_smtp_command_duration_seconds_bucket{cmd_name="LHLO",status_code="250",le="+Inf"} 1
dovecot_smtp_command_duration_seconds_sum{cmd_name="LHLO",status_code="250"} 0.00002
dovecot_smtp_command_duration_seconds_count{cmd_name="LHLO",status_code="250"} 1
dovecot_smtp_command_duration_seconds_bucket{cmd_name="DATA",status_code="250",le="0.00001"} 0
dovecot_smtp_command_duration_seconds_bucket{cmd_name="DATA",status_code="250",le="0.0001"} 0
dovecot_smtp_command_duration_seconds_bucket{cmd_name="DATA",status_code="250",le="0.001"} 0
dovecot_smtp_command_duration_seconds_bucket{cmd_name="DATA",status_code="250",le="0.01"} 1
dovecot_smtp_command_duration_seconds_bucket{cmd_name="DATA",status_code="250",le="0.1"} 1
dovecot_smtp_command_duration_seconds_bucket{cmd_name="DATA",status_code="250",le="+Inf"} 2
dovecot_smtp_command_duration_seconds_sum{cmd_name="DATA",status_code="250"} 0.151249
dovecot_smtp_command_duration_seconds_count{cmd_name="DATA",status_code="250"} 2
dovecot_smtp_command_duration_seconds_bucket{cmd_name="QUIT",status_code="",le="0.00001"} 1
dovecot_smtp_command_duration_seconds_bucket{cmd_name="QUIT",status_code="",le="0.0001"} 1
dovecot_smtp_command_duration_seconds_bucket{cmd_name="QUIT",status_code="",le="0.001"} 1
dovecot_smtp_command_duration_seconds_bucket{cmd_name="QUIT",status_code="",le="0.01"} 1
dovecot_smtp_command_duration_seconds_bucket{cmd_name="QUIT",status_code="",le="0.1"} 1
dovecot_smtp_command_duration_seconds_bucket{cmd_name="QUIT",status_code="",le="+Inf"} 1
dovecot_smtp_command_duration_seconds_sum{cmd_name="QUIT",status_code=""} 0.00001
dovecot_smtp_command_duration_seconds_count{cmd_name="QUIT",status_code=""} 1`);
  });

  test('only a quantized level: one unlabelled histogram, all buckets even when empty', () => {
    const cfg = 'metric mail_delivery {\n  filter = event=mail_delivery_finished\n  group_by = duration:exponential:1:5:10\n}\n';
    expect(familyLines(renderPrometheus(snapshotOf(cfg, []), OPTS), 'dovecot_mail_delivery')).toBe(`# HELP dovecot_mail_delivery_total Total number of all events of this kind
# TYPE dovecot_mail_delivery_total counter
dovecot_mail_delivery_total 0
# HELP dovecot_mail_delivery_duration_seconds Histogram of the duration of all events of this kind
# TYPE dovecot_mail_delivery_duration_seconds histogram
dovecot_mail_delivery_duration_seconds_bucket{le="0.00001"} 0
dovecot_mail_delivery_duration_seconds_bucket{le="0.0001"} 0
dovecot_mail_delivery_duration_seconds_bucket{le="0.001"} 0
dovecot_mail_delivery_duration_seconds_bucket{le="0.01"} 0
dovecot_mail_delivery_duration_seconds_bucket{le="0.1"} 0
dovecot_mail_delivery_duration_seconds_bucket{le="+Inf"} 0
dovecot_mail_delivery_duration_seconds_sum 0
dovecot_mail_delivery_duration_seconds_count 0`);
  });

  test('last level quantizes another field: raw-unit histogram beside the duration counter', () => {
    const cfg = `
metric fetch {
  filter = event=e
  fields = size
  group_by = user size:linear:0:1000:500
}
metric nosum {
  filter = event=e
  group_by = size:linear:0:1000:500
}
`;
    const ev = (user: string, size: number | string, duration: number) => ({ event: 'e', duration, fields: { user, size } });
    const snap = snapshotOf(cfg, [ev('a', 100, 1), ev('a', 700, 2), ev('a', 5000, 4), ev('b', 'big', 8)]);
    const text = renderOpenMetrics(snap, OPTS);
    expect(familyLines(text, 'dovecot_fetch')).toBe(`# TYPE dovecot_fetch counter
# HELP dovecot_fetch Total number of all events of this kind
dovecot_fetch_total{user="a"} 3
dovecot_fetch_total{user="b"} 1
# TYPE dovecot_fetch_duration_seconds counter
# UNIT dovecot_fetch_duration_seconds seconds
# HELP dovecot_fetch_duration_seconds Total duration of all events of this kind
dovecot_fetch_duration_seconds_total{user="a"} 0.000007
dovecot_fetch_duration_seconds_total{user="b"} 0.000008
# TYPE dovecot_fetch_size histogram
# HELP dovecot_fetch_size Histogram of field size for events of this kind
dovecot_fetch_size_bucket{user="a",le="0"} 0
dovecot_fetch_size_bucket{user="a",le="500"} 1
dovecot_fetch_size_bucket{user="a",le="1000"} 2
dovecot_fetch_size_bucket{user="a",le="+Inf"} 3
dovecot_fetch_size_sum{user="a"} 5800
dovecot_fetch_size_count{user="a"} 3
dovecot_fetch_size_bucket{user="b",le="0"} 0
dovecot_fetch_size_bucket{user="b",le="500"} 0
dovecot_fetch_size_bucket{user="b",le="1000"} 0
dovecot_fetch_size_bucket{user="b",le="+Inf"} 0
dovecot_fetch_size_sum{user="b"} 0
dovecot_fetch_size_count{user="b"} 0`);
    // the histogram's _sum is the field's total: no separate size counter
    expect(text).not.toContain('dovecot_fetch_size_total');
    expect(text).not.toContain('dovecot_fetch_size_2');
    // size not among the fields: kept anyway for the histogram's _sum and _count
    expect(familyLines(text, 'dovecot_nosum_size')).toBe(`# TYPE dovecot_nosum_size histogram
# HELP dovecot_nosum_size Histogram of field size for events of this kind
dovecot_nosum_size_bucket{le="0"} 0
dovecot_nosum_size_bucket{le="500"} 1
dovecot_nosum_size_bucket{le="1000"} 2
dovecot_nosum_size_bucket{le="+Inf"} 3
dovecot_nosum_size_sum 5800
dovecot_nosum_size_count 3`);
  });

  test('a quantized level that is not last is a label holding the range', () => {
    const cfg = 'metric m {\n  filter = event=e\n  group_by = duration:linear:0:1000:500 cmd\n}\n';
    const snap = snapshotOf(cfg, [
      { event: 'e', duration: 0, fields: { cmd: 'A' } },
      { event: 'e', duration: 250, fields: { cmd: 'A' } },
      { event: 'e', duration: 2000, fields: { cmd: 'B' } },
    ]);
    expect(familyLines(renderOpenMetrics(snap, OPTS), 'dovecot_m_total')).toBe(
      'dovecot_m_total{duration="ninf_0",cmd="A"} 1\ndovecot_m_total{duration="1_500",cmd="A"} 1\ndovecot_m_total{duration="1001_inf",cmd="B"} 1',
    );
  });
});

describe('strict: family names never clash', () => {
  test('a field family named like another metric, a field named like the duration family', () => {
    const cfg = `
metric a {
  filter = event=e
  fields = x duration_seconds
}
metric a_x {
  filter = event=e
}
`;
    const text = renderOpenMetrics(snapshotOf(cfg, [{ event: 'e', duration: 5, fields: { x: 1, duration_seconds: 2 } }]), OPTS);
    const types = text.split('\n').filter((l) => l.startsWith('# TYPE dovecot_a'));
    expect(types).toEqual([
      '# TYPE dovecot_a counter',
      '# TYPE dovecot_a_duration_seconds counter',
      '# TYPE dovecot_a_x counter',
      '# TYPE dovecot_a_duration_seconds_2 counter',
      '# TYPE dovecot_a_x_2 counter',
      '# TYPE dovecot_a_x_duration_seconds counter',
    ]);
  });
});

describe('strict: a large tree', () => {
  test('10 000 leaves with histograms: one series each, every event counted once', () => {
    const cfg = 'max_sub_metrics = 100000\nmetric m {\n  filter = event=e\n  fields = x\n  group_by = a b duration:exponential:1:5:10\n}\n';
    const events: unknown[] = [];
    for (let i = 0; i < 100; i++) {
      for (let j = 0; j < 100; j++) events.push({ event: 'e', duration: (i * j) % 5000, fields: { a: `c${i}`, b: `s${j}`, x: 1 } });
    }
    const text = renderPrometheus(snapshotOf(cfg, events, 'basic'), OPTS);
    const lines = text.split('\n');
    const counts = lines.filter((l) => l.startsWith('dovecot_m_total{'));
    expect(counts.length).toBe(10000);
    expect(counts.reduce((s, l) => s + Number(l.slice(l.lastIndexOf(' ') + 1)), 0)).toBe(10000);
    expect(lines.filter((l) => l.startsWith('dovecot_m_duration_seconds_bucket{') && l.includes('le="+Inf"')).length).toBe(10000);
    expect(lines.filter((l) => l.startsWith('dovecot_m_x_total{')).length).toBe(10000);
  });
});
