/** The small status page at `/`. */
import type { MetricDef } from '../config/types.js';
import { formatGroupBy } from '../config/index.js';

export interface IndexInfo {
  version: string;
  transport: string;
  listen: string;
  readiness: string;
  startTime: number;
  shards: number;
  metrics: readonly MetricDef[];
  eventsPerSecond: number;
  eventsAccepted: number;
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function renderIndex(i: IndexInfo): string {
  const rows = i.metrics
    .map(
      (m) =>
        `<tr><td>${esc(m.name)}</td><td><code>${esc(m.filter)}</code></td><td>${esc(m.fields.join(' '))}</td>` +
        `<td><code>${esc(formatGroupBy(m.groupBy))}</code></td><td>${esc(m.description)}</td></tr>`,
    )
    .join('\n');
  const up = Math.round(Date.now() / 1000 - i.startTime);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tallyd</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}code{font-size:.9em}</style>
</head><body>
<h1>tallyd ${esc(i.version)}</h1>
<p>Listening on ${esc(i.listen)} (${esc(i.transport)}), ${i.shards} shard${i.shards === 1 ? '' : 's'}, ${esc(i.readiness)}, up ${up} s.</p>
<p>${i.eventsPerSecond.toFixed(1)} events/s accepted (last interval), ${i.eventsAccepted} in all.</p>
<h2>Endpoints</h2>
<ul>
<li><a href="/metrics">/metrics</a> — OpenMetrics or Prometheus text, by Accept</li>
<li><a href="/metrics.json">/metrics.json</a> — KumoMTA-style JSON</li>
<li><a href="/v1/stats/dump">/v1/stats/dump</a> — doveadm stats dump table</li>
<li><a href="/v1/metrics">/v1/metrics</a> — metric definitions (POST to add, DELETE /v1/metrics/NAME to remove)</li>
<li>POST /v1/events, WebSocket /v1/events/stream — ingest</li>
<li><a href="/livez">/livez</a>, <a href="/readyz">/readyz</a></li>
</ul>
<h2>Metrics (${i.metrics.length})</h2>
<table><tr><th>name</th><th>filter</th><th>fields</th><th>group_by</th><th>description</th></tr>
${rows}
</table>
</body></html>
`;
}
