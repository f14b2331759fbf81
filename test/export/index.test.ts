import { describe, expect, test } from 'vitest';
import {
  CONTENT_TYPE_OPENMETRICS,
  CONTENT_TYPE_OPENMETRICS_0_0_1,
  CONTENT_TYPE_PROMETHEUS_TEXT,
  contentTypeFor,
  depthFor,
  renderDovecot,
  renderDump,
  renderExport,
  renderJson,
  renderOpenMetrics,
  renderPrometheus,
} from '../../src/export/index.js';
import { OPTS, snapshotOf } from './helpers.js';

const CFG = 'metric m {\n  filter = event=e\n  group_by = k\n}\n';
const snap = () => snapshotOf(CFG, [{ event: 'e', duration: 3, fields: { k: 'v' } }]);

describe('renderExport', () => {
  test('dispatches to each format', () => {
    const s = snap();
    expect(renderExport('dump', s, OPTS)).toBe(renderDump(s, ['count', 'sum', 'min', 'max', 'avg', 'median', 'stddev', '%95'], { compat: '2.4' }));
    expect(renderExport('dump', s, { ...OPTS, fields: ['count'] })).toBe('metric_name\tfield\tcount\nm\tduration\t1\nm_v\tduration\t1\n');
    expect(renderExport('openmetrics', s, OPTS)).toBe(renderOpenMetrics(s, OPTS));
    expect(renderExport('openmetrics', s, { ...OPTS, style: 'dovecot' })).toBe(renderDovecot(s, OPTS));
    expect(renderExport('prometheus', s, OPTS)).toBe(renderPrometheus(s, OPTS));
    expect(renderExport('prometheus', s, { ...OPTS, style: 'dovecot' })).toBe(renderPrometheus(s, OPTS));
    expect(renderExport('dovecot', s, OPTS)).toBe(renderDovecot(s, OPTS));
    expect(renderExport('json', s, OPTS)).toBe(renderJson(s, OPTS));
  });

  test('the prefix names every metric family', () => {
    expect(renderExport('prometheus', snap(), { ...OPTS, prefix: 'mail' })).toContain('\nmail_m_total{k="v"} 1\n');
    expect(renderExport('dovecot', snap(), { ...OPTS, prefix: 'mail' })).toContain('\nmail_m_total{k="v"} 1\nmail_m_count 1\n');
  });
});

describe('depthFor and content types', () => {
  test('percentiles only for dump and json', () => {
    expect(depthFor('dump')).toBe('full');
    expect(depthFor('json')).toBe('full');
    expect(depthFor('openmetrics')).toBe('basic');
    expect(depthFor('prometheus')).toBe('basic');
    expect(depthFor('dovecot')).toBe('basic');
  });
  test('a basic snapshot is enough for /metrics', () => {
    const basic = snapshotOf(CFG, [{ event: 'e', duration: 3, fields: { k: 'v' } }], 'basic');
    expect(renderOpenMetrics(basic, OPTS)).toBe(renderOpenMetrics(snap(), OPTS));
    expect(renderDovecot(basic, OPTS)).toBe(renderDovecot(snap(), OPTS));
  });
  test('content types', () => {
    expect(CONTENT_TYPE_OPENMETRICS).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    expect(CONTENT_TYPE_OPENMETRICS_0_0_1).toBe('application/openmetrics-text; version=0.0.1; charset=utf-8');
    expect(CONTENT_TYPE_PROMETHEUS_TEXT).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(contentTypeFor('openmetrics')).toBe(CONTENT_TYPE_OPENMETRICS);
    expect(contentTypeFor('openmetrics', { version001: true })).toBe(CONTENT_TYPE_OPENMETRICS_0_0_1);
    expect(contentTypeFor('openmetrics', { style: 'dovecot' })).toBe(CONTENT_TYPE_OPENMETRICS_0_0_1);
    expect(contentTypeFor('dovecot')).toBe(CONTENT_TYPE_OPENMETRICS_0_0_1);
    expect(contentTypeFor('prometheus')).toBe(CONTENT_TYPE_PROMETHEUS_TEXT);
    expect(contentTypeFor('json')).toBe('application/json; charset=utf-8');
    expect(contentTypeFor('dump')).toBe('text/plain; charset=utf-8');
  });
});
