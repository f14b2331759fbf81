import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Distribution } from '../../src/aggregate/index.js';
import { parseConfigText } from '../../src/config/index.js';
import type { MetricDef } from '../../src/config/types.js';
import { Engine } from '../../src/engine/engine.js';
import type { MetricsOptions } from '../../src/export/index.js';
import type { ChildKey, EngineSnapshot, NodeSnapshot } from '../../src/metrics/types.js';

export const OPTS: MetricsOptions = {
  prefix: 'dovecot',
  style: 'strict',
  version: '0.1.0',
  node: 'v0.0.0',
  startTimeSeconds: 1700000000,
  extra: [],
};

/** Config text → engine → events in one batch → snapshot. */
export function snapshotOf(config: string, events: unknown[], depth: 'basic' | 'full' = 'full'): EngineSnapshot {
  const engine = new Engine(parseConfigText(config, 'test.conf'));
  if (events.length > 0) engine.ingest(events);
  return engine.snapshot(depth);
}

/** A hand-built node: one duration distribution (plus one per field list) from raw values. */
export function node(
  name: string,
  key: ChildKey,
  values: { duration: number[]; fields?: (number[] | null)[] },
  children: NodeSnapshot[] = [],
): NodeSnapshot {
  const dists = [values.duration, ...(values.fields ?? [])].map((vs) => {
    const d = new Distribution();
    for (const v of vs ?? []) d.record(v);
    return d.snapshot('full');
  });
  return { name, key, firstSeq: 0, count: values.duration.length, dists, children };
}

export function def(name: string, groupBy: MetricDef['groupBy'] = [], fields: string[] = [], description = ''): MetricDef {
  return { name, filter: 'event=x', fields, groupBy, description };
}

export function handSnapshot(metrics: EngineSnapshot['metrics']): EngineSnapshot {
  return {
    metrics,
    counters: {
      eventsReceived: 0,
      eventsAccepted: 0,
      eventsRejected: {},
      eventsLost: 0,
      batches: 0,
      bytes: 0,
      negativeValues: 0,
    },
  };
}

/** Only the lines of the families whose names start with `prefix_metric`. */
export function familyLines(text: string, stem: string): string {
  return text
    .split('\n')
    .filter((l) => l.startsWith(stem) || l.startsWith(`# TYPE ${stem}`) || l.startsWith(`# HELP ${stem}`) || l.startsWith(`# UNIT ${stem}`))
    .join('\n');
}

const PYTHON = '/usr/bin/python3';
const PY_CHECK =
  'import sys; from prometheus_client.openmetrics.parser import text_string_to_metric_families as p; list(p(sys.stdin.read()))';

function pythonHasClient(): boolean {
  if (!existsSync(PYTHON)) return false;
  return spawnSync(PYTHON, ['-c', 'import prometheus_client.openmetrics.parser'], { encoding: 'utf8' }).status === 0;
}

function hasPromtool(): boolean {
  return spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;
}

export const validators = {
  promtool: hasPromtool(),
  python: pythonHasClient(),
  /** under CI a missing validator is a failure, not a skip */
  required: process.env['CI'] !== undefined && process.env['CI'] !== '' && process.env['CI'] !== 'false',
};

export interface CheckResult {
  status: number | null;
  output: string;
}

/** `promtool check metrics` on Prometheus text; lint problems are printed and make the status non-zero. */
export function promtoolCheck(text: string): CheckResult {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** prometheus_client's OpenMetrics parser, the strict one. */
export function pythonCheck(text: string): CheckResult {
  const r = spawnSync(PYTHON, ['-c', PY_CHECK], { input: text, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** Only the sample lines starting with `stem`. */
export function sampleLines(text: string, stem: string): string {
  return text
    .split('\n')
    .filter((l) => l.startsWith(stem))
    .join('\n');
}
