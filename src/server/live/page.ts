/**
 * The page at `/`: what is known when it is asked for (version, config,
 * metric definitions, endpoints) rendered here; the live part — charts,
 * rates, shards, rejections, recent errors — filled in by static/live.js
 * from the `GET /v1/live` event stream, without a reload.
 */
import { formatGroupBy } from '../../config/index.js';
import type { MetricDef } from '../../config/types.js';
import type { LiveInfo } from './hub.js';
import { TOP_SUB_METRICS, WINDOW_SECONDS } from './sampler.js';

/** What the live stream tells of the server, with the metrics' definitions instead of their number. */
export interface IndexInfo extends Omit<LiveInfo, 'metrics'> {
  metrics: readonly MetricDef[];
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
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/assets/uPlot.min.css">
<link rel="stylesheet" href="/assets/live.css">
</head><body data-start="${i.startTime}">
<header>
<h1>tallyd ${esc(i.version)}</h1>
<p>Listening on ${esc(i.listen)} (${esc(i.transport)}), ${i.shards} shard${i.shards === 1 ? '' : 's'},
<span id="readiness">${esc(i.readiness)}</span>, up <span id="uptime">${up} s</span>.
Config: <code>${esc(i.configFile ?? '(built-in defaults)')}</code>.
<span id="conn" class="conn">connecting…</span></p>
</header>
<section class="totals">
<div><span class="big" id="eps1">–</span> events/s <small>last 1 s</small></div>
<div><span class="big" id="eps10">–</span> events/s <small>last 10 s</small></div>
<div><span class="big" id="eps60">–</span> events/s <small>last <span id="span">${WINDOW_SECONDS}</span> s</small></div>
<div><span class="big" id="accepted">${i.eventsAccepted}</span> accepted</div>
<div><span class="big" id="rejected">–</span> rejected</div>
<div><span class="big" id="lost">–</span> lost</div>
</section>
<section><h2>Ingest</h2><div class="chart" id="chart-ingest"></div></section>
<section><h2>Shards</h2>
<div class="pair"><div class="chart" id="chart-fill"></div><div class="chart" id="chart-shard-eps"></div></div>
<table id="shards"><thead><tr><th>shard</th><th>ring fill</th><th>events/s</th><th>pending batches</th><th>restarts</th></tr></thead><tbody></tbody></table>
</section>
<section><h2>Rejected and lost events</h2>
<table id="rejects"><thead><tr><th>reason</th><th>in all</th><th>last minute</th></tr></thead><tbody><tr><td colspan="3">none</td></tr></tbody></table>
</section>
<section><h2>Metrics</h2>
<p class="note">Rates are over true time windows (counter differences between samples taken every second);
percentiles are of the event durations of the last ${WINDOW_SECONDS} s, in microseconds.
Only the ${TOP_SUB_METRICS} busiest sub-metrics of each metric in the last minute are shown.</p>
<div id="metrics"></div>
</section>
<section><h2>Recent warnings and errors</h2><ol id="recent" class="recent"><li class="none">none</li></ol></section>
<section><h2>Endpoints</h2>
<ul>
<li><a href="/metrics">/metrics</a> — OpenMetrics or Prometheus text, by Accept</li>
<li><a href="/metrics.json">/metrics.json</a> — KumoMTA-style JSON</li>
<li><a href="/v1/stats/dump">/v1/stats/dump</a> — doveadm stats dump table</li>
<li><a href="/v1/metrics">/v1/metrics</a> — metric definitions (POST to add, DELETE /v1/metrics/NAME to remove)</li>
<li><a href="/v1/live">/v1/live</a> — this page's live figures (server-sent events)</li>
<li>POST /v1/events, WebSocket /v1/events/stream — ingest</li>
<li><a href="/livez">/livez</a>, <a href="/readyz">/readyz</a></li>
</ul></section>
<section><h2>Metric definitions (${i.metrics.length})</h2>
<table><tr><th>name</th><th>filter</th><th>fields</th><th>group_by</th><th>description</th></tr>
${rows}
</table></section>
<script src="/assets/uPlot.iife.min.js"></script>
<script src="/assets/live.js"></script>
</body></html>
`;
}
