import { describe, expect, test } from 'vitest';
import { floatSeconds, renderDovecot, renderOpenMetrics } from '../../src/export/index.js';
import { OPTS, sampleLines, snapshotOf } from './helpers.js';

const SEED = `
metric auth_success {
  filter = (event=auth_request_finished AND success=yes)
}
metric imap_command {
  filter = event=imap_command_finished
  group_by = cmd_name tagged_reply_state
}
metric smtp_command {
  filter = event=smtp_server_command_finished
  group_by = cmd_name status_code duration:exponential:1:5:10
}
metric mail_delivery {
  filter = event=mail_delivery_finished
  group_by = duration:exponential:1:5:10
}
`;
const SEED_EVENTS = [
  { event: 'auth_request_finished', duration: 85000, fields: { success: 'yes' } },
  { event: 'auth_request_finished', duration: 479, fields: { success: 'yes' } },
  { event: 'imap_command_finished', duration: 99115, fields: { cmd_name: 'LIST', tagged_reply_state: 'OK' } },
  { event: 'imap_command_finished', duration: 161195, fields: { cmd_name: 'STATUS', tagged_reply_state: 'OK' } },
  { event: 'smtp_server_command_finished', duration: 20, fields: { cmd_name: 'LHLO', status_code: 250 } },
  { event: 'smtp_server_command_finished', duration: 10, fields: { cmd_name: 'QUIT', status_code: 221 } },
  { event: 'mail_delivery_finished', duration: 656 },
];

const DOVECOT = { ...OPTS, style: 'dovecot' as const };

describe('dovecot style', () => {
  test('the layout of Dovecot’s exporter (seed configuration)', () => {
    const text = renderDovecot(snapshotOf(SEED, SEED_EVENTS), DOVECOT);
    const cut = text.indexOf('# TYPE tallyd_events_received counter');
    expect(text.slice(0, cut)).toBe(`# HELP process_start_time_seconds Timestamp of service start
# TYPE process_start_time_seconds gauge
process_start_time_seconds 1700000000
# HELP tallyd_build tallyd build information
# TYPE tallyd_build info
tallyd_build_info{version="0.1.0",revision="unknown",node="v0.0.0"} 1
# HELP dovecot_auth_success Total number of all events of this kind
# TYPE dovecot_auth_success counter
dovecot_auth_success_total 2
# HELP dovecot_auth_success_duration_seconds Total duration of all events of this kind
# TYPE dovecot_auth_success_duration_seconds counter
dovecot_auth_success_duration_seconds_total 0.085479
# HELP dovecot_imap_command Total number of all events of this kind
# TYPE dovecot_imap_command counter
dovecot_imap_command_total{cmd_name="LIST"} 1
dovecot_imap_command_total{cmd_name="LIST",tagged_reply_state="OK"} 1
dovecot_imap_command_total{cmd_name="STATUS"} 1
dovecot_imap_command_total{cmd_name="STATUS",tagged_reply_state="OK"} 1
dovecot_imap_command_count 2
# HELP dovecot_imap_command_duration_seconds Total duration of all events of this kind
# TYPE dovecot_imap_command_duration_seconds counter
dovecot_imap_command_duration_seconds_total{cmd_name="LIST"} 0.099115
dovecot_imap_command_duration_seconds_total{cmd_name="LIST",tagged_reply_state="OK"} 0.099115
dovecot_imap_command_duration_seconds_total{cmd_name="STATUS"} 0.161195
dovecot_imap_command_duration_seconds_total{cmd_name="STATUS",tagged_reply_state="OK"} 0.161195
dovecot_imap_command_duration_seconds_sum 0.260310
# HELP dovecot_smtp_command Histogram
# TYPE dovecot_smtp_command histogram
dovecot_smtp_command_bucket{cmd_name="LHLO",status_code="250",le="0.000010"} 0
dovecot_smtp_command_bucket{cmd_name="LHLO",status_code="250",le="0.000100"} 1
dovecot_smtp_command_bucket{cmd_name="LHLO",status_code="250",le="0.001000"} 1
dovecot_smtp_command_bucket{cmd_name="LHLO",status_code="250",le="0.010000"} 1
dovecot_smtp_command_bucket{cmd_name="LHLO",status_code="250",le="0.100000"} 1
dovecot_smtp_command_bucket{cmd_name="LHLO",status_code="250",le="+Inf"} 1
dovecot_smtp_command_sum{cmd_name="LHLO",status_code="250"} 0.000020
dovecot_smtp_command_count{cmd_name="LHLO",status_code="250"} 1
dovecot_smtp_command_bucket{cmd_name="QUIT",status_code="221",le="0.000010"} 1
dovecot_smtp_command_bucket{cmd_name="QUIT",status_code="221",le="0.000100"} 1
dovecot_smtp_command_bucket{cmd_name="QUIT",status_code="221",le="0.001000"} 1
dovecot_smtp_command_bucket{cmd_name="QUIT",status_code="221",le="0.010000"} 1
dovecot_smtp_command_bucket{cmd_name="QUIT",status_code="221",le="0.100000"} 1
dovecot_smtp_command_bucket{cmd_name="QUIT",status_code="221",le="+Inf"} 1
dovecot_smtp_command_sum{cmd_name="QUIT",status_code="221"} 0.000010
dovecot_smtp_command_count{cmd_name="QUIT",status_code="221"} 1
# HELP dovecot_mail_delivery Histogram
# TYPE dovecot_mail_delivery histogram
dovecot_mail_delivery_bucket{le="0.000010"} 0
dovecot_mail_delivery_bucket{le="0.000100"} 0
dovecot_mail_delivery_bucket{le="0.001000"} 1
dovecot_mail_delivery_bucket{le="0.010000"} 1
dovecot_mail_delivery_bucket{le="0.100000"} 1
dovecot_mail_delivery_bucket{le="+Inf"} 1
dovecot_mail_delivery_sum 0.000656
dovecot_mail_delivery_count 1
`);
    expect(text.endsWith('tallyd_sub_metrics{metric="mail_delivery"} 1\n# EOF\n')).toBe(true);
    // the setting picks this renderer for the openmetrics format too
    expect(renderOpenMetrics(snapshotOf(SEED, SEED_EVENTS), DOVECOT)).toBe(text);
  });

  test('seconds are 32-bit floats, as Dovecot computes them', () => {
    expect(floatSeconds(123456789)).toBe('123.456795');
    expect(floatSeconds(16777217)).toBe('16.777216');
    const cfg = 'metric m {\n  filter = event=e\n}\n';
    const text = renderDovecot(snapshotOf(cfg, [{ event: 'e', duration: 123456789 }]), DOVECOT);
    expect(text).toContain('\ndovecot_m_duration_seconds_total 123.456795\n');
  });

  test('field families (2.4); none in 2.3', () => {
    const cfg = 'metric m {\n  filter = event=e\n  fields = net_in_bytes\n  group_by = cmd\n  description = IMAP commands\n}\n';
    const events = [
      { event: 'e', duration: 1, fields: { cmd: 'A', net_in_bytes: 7 } },
      { event: 'e', duration: 1, fields: { cmd: 'A', net_in_bytes: 8 } },
    ];
    expect(renderDovecot(snapshotOf(cfg, events), DOVECOT)).toContain(
      '\n# HELP dovecot_m_net_in_bytes Total of field value for events of this kind of IMAP commands\n# TYPE dovecot_m_net_in_bytes counter\n',
    );
    expect(sampleLines(renderDovecot(snapshotOf(cfg, events), DOVECOT), 'dovecot_m_net_in_bytes')).toBe(
      'dovecot_m_net_in_bytes_total{cmd="A"} 15\ndovecot_m_net_in_bytes_sum 15',
    );
    const old = renderDovecot(snapshotOf(`dovecot_compat = 2.3\n${cfg}`, events), { ...DOVECOT, compat: '2.3' });
    expect(old).not.toContain('net_in_bytes');
  });

  test('metrics without events', () => {
    const text = renderDovecot(snapshotOf(SEED, []), DOVECOT);
    expect(sampleLines(text, 'dovecot_auth_success_')).toBe(
      'dovecot_auth_success_total 0\ndovecot_auth_success_duration_seconds_total 0.000000',
    );
    expect(sampleLines(text, 'dovecot_imap_command_')).toBe('dovecot_imap_command_count 0\ndovecot_imap_command_duration_seconds_sum 0.000000');
    expect(sampleLines(text, 'dovecot_smtp_command_')).toBe('');
    expect(sampleLines(text, 'dovecot_mail_delivery_')).toBe(`dovecot_mail_delivery_bucket{le="0.000010"} 0
dovecot_mail_delivery_bucket{le="0.000100"} 0
dovecot_mail_delivery_bucket{le="0.001000"} 0
dovecot_mail_delivery_bucket{le="0.010000"} 0
dovecot_mail_delivery_bucket{le="0.100000"} 0
dovecot_mail_delivery_bucket{le="+Inf"} 0`);
  });

  test('another quantized field: integer le, _sum of the durations (Dovecot’s quirk)', () => {
    const cfg = 'metric m {\n  filter = event=e\n  group_by = size:linear:0:1000:500\n}\n';
    const text = renderDovecot(
      snapshotOf(cfg, [
        { event: 'e', duration: 5, fields: { size: 700 } },
        { event: 'e', duration: 6, fields: { size: 9000 } },
      ]),
      DOVECOT,
    );
    expect(sampleLines(text, 'dovecot_m_')).toBe(`dovecot_m_bucket{le="0"} 0
dovecot_m_bucket{le="500"} 0
dovecot_m_bucket{le="1000"} 1
dovecot_m_bucket{le="+Inf"} 2
dovecot_m_sum 11.000000
dovecot_m_count 2`);
  });

  test('a quantized level that is not last: no histogram, the walk stops there', () => {
    const cfg = 'metric m {\n  filter = event=e\n  group_by = cmd duration:exponential:1:3:10 state\n}\n';
    const text = renderDovecot(snapshotOf(cfg, [{ event: 'e', duration: 50, fields: { cmd: 'A', state: 'OK' } }]), DOVECOT);
    expect(sampleLines(text, 'dovecot_m')).toBe(`dovecot_m_total{cmd="A"} 1
dovecot_m_count 1
dovecot_m_duration_seconds_total{cmd="A"} 0.000050
dovecot_m_duration_seconds_sum 0.000050`);
  });

  test('a group_by field that is no label name is not descended into', () => {
    const cfg = 'metric m {\n  filter = event=e\n  group_by = cmd-name\n}\n';
    const text = renderDovecot(snapshotOf(cfg, [{ event: 'e', duration: 1, fields: { 'cmd-name': 'A' } }]), DOVECOT);
    expect(sampleLines(text, 'dovecot_m')).toBe('dovecot_m_count 1\ndovecot_m_duration_seconds_sum 0.000001');
  });

  test('duplicate display names are suffixed; escaping', () => {
    const cfg = 'metric m {\n  filter = event=e\n  group_by = v\n}\n';
    const text = renderDovecot(
      snapshotOf(cfg, [
        { event: 'e', duration: 1, fields: { v: '5' } },
        { event: 'e', duration: 1, fields: { v: 5 } },
        { event: 'e', duration: 1, fields: { v: 'UID "FETCH" \\' } },
      ]),
      DOVECOT,
    );
    expect(sampleLines(text, 'dovecot_m_total')).toBe(
      'dovecot_m_total{v="5"} 1\ndovecot_m_total{v="5~2"} 1\ndovecot_m_total{v="UID \\"FETCH\\" \\\\"} 1',
    );
  });

  test('one metric’s histogram labels never leak into the next (2.3.19 stack bug)', () => {
    const cfg = `
metric a {
  filter = event=e
  group_by = cmd duration:exponential:1:2:10
}
metric b {
  filter = event=e
  group_by = duration:exponential:1:2:10
}
`;
    const text = renderDovecot(snapshotOf(cfg, [{ event: 'e', duration: 50, fields: { cmd: 'X' } }]), DOVECOT);
    expect(sampleLines(text, 'dovecot_b_')).toBe(`dovecot_b_bucket{le="0.000010"} 0
dovecot_b_bucket{le="0.000100"} 1
dovecot_b_bucket{le="+Inf"} 1
dovecot_b_sum 0.000050
dovecot_b_count 1`);
  });

  test('revision is printed when known', () => {
    const text = renderDovecot(snapshotOf(SEED, []), { ...DOVECOT, revision: '38ecc424a' });
    expect(text).toContain('\ntallyd_build_info{version="0.1.0",revision="38ecc424a",node="v0.0.0"} 1\n');
  });
});
