/**
 * Self-metrics of the server process (docs/contract.md §10) beyond the engine counters
 * the exporters print themselves.
 */
import { getHeapStatistics } from 'node:v8';
import type { SelfFamily } from '../export/index.js';
import type { Runtime } from '../shard/runtime.js';
import type { IngestCounters } from './ingest.js';

/** Why tallyd closed a connection itself (where the transport lets it see that). */
export type CloseReason = 'request_timeout' | 'idle' | 'unread_answers' | 'websocket_idle' | 'pipelining';
export const CLOSE_REASONS: readonly CloseReason[] = ['request_timeout', 'idle', 'unread_answers', 'websocket_idle', 'pipelining'];

export interface ServerCounters extends IngestCounters {
  scrapes: number;
  lastScrapeSeconds: number;
  unauthorized: number;
  /** WebSocket upgrades refused at max_websockets */
  wsRefused: number;
  closed: Record<CloseReason, number>;
}

export function newServerCounters(): ServerCounters {
  return {
    httpBatches: 0,
    wsMessages: 0,
    wsConnections: 0,
    scrapes: 0,
    lastScrapeSeconds: 0,
    unauthorized: 0,
    wsRefused: 0,
    closed: { request_timeout: 0, idle: 0, unread_answers: 0, websocket_idle: 0, pipelining: 0 },
  };
}


/** Families for OpenMetrics / text. */
export function serverFamilies(rt: Runtime, c: ServerCounters): SelfFamily[] {
  const st = rt.stats();
  const shard = (f: (s: (typeof st.shards)[number]) => number) =>
    st.shards.map((s) => ({ labels: { shard: String(s.index) }, value: f(s) }));
  return [
    { name: 'tallyd_ring_used_bytes', help: 'Bytes waiting in a shard ring', type: 'gauge', samples: shard((s) => s.ringUsed) },
    { name: 'tallyd_ring_capacity_bytes', help: 'Size of a shard ring', type: 'gauge', samples: shard((s) => s.ringCapacity) },
    { name: 'tallyd_ring_fill_ratio', help: 'Fill of a shard ring, 0 to 1', type: 'gauge', samples: shard((s) => s.ringUsed / s.ringCapacity) },
    { name: 'tallyd_shard_pending_batches', help: 'Batches handed to a shard and not answered yet', type: 'gauge', samples: shard((s) => s.pending) },
    { name: 'tallyd_shard_restarts_total', help: 'Shard workers restarted after dying', type: 'counter', samples: shard((s) => s.restarts) },
    { name: 'tallyd_batches_lost_total', help: 'Batches lost with a shard worker that died', type: 'counter', samples: [{ labels: {}, value: st.lostBatches }] },
    { name: 'tallyd_ingest_internal_errors_total', help: 'Batches the engine failed on (answered 500 ERR_INTERNAL)', type: 'counter', samples: [{ labels: {}, value: st.internalErrors }] },
    { name: 'tallyd_coalesced_records_total', help: 'Ring records that carried several small batches coalesced into one', type: 'counter', samples: [{ labels: {}, value: st.coalescedRecords }] },
    { name: 'tallyd_coalesced_batches_total', help: 'Small batches that went into coalesced ring records', type: 'counter', samples: [{ labels: {}, value: st.coalescedBatches }] },
    { name: 'tallyd_inline_batches_total', help: 'Batches of at most inline_batch_bytes, aggregated on the main thread', type: 'counter', samples: [{ labels: {}, value: st.inlineBatches }] },
    { name: 'tallyd_backpressure_refusals_total', help: 'Batches refused because every ring was full (HTTP 503, WebSocket busy)', type: 'counter', samples: [{ labels: {}, value: st.busyRefusals }] },
    { name: 'tallyd_http_batches_total', help: 'Batches received over HTTP', type: 'counter', samples: [{ labels: {}, value: c.httpBatches }] },
    { name: 'tallyd_websocket_messages_total', help: 'Messages received over WebSocket', type: 'counter', samples: [{ labels: {}, value: c.wsMessages }] },
    { name: 'tallyd_websocket_connections', help: 'Open WebSocket ingest connections', type: 'gauge', samples: [{ labels: {}, value: c.wsConnections }] },
    { name: 'tallyd_websocket_refusals_total', help: 'WebSocket upgrades refused at max_websockets', type: 'counter', samples: [{ labels: {}, value: c.wsRefused }] },
    {
      name: 'tallyd_connections_closed_total',
      help: 'Connections tallyd closed: request_timeout, idle, unread_answers, websocket_idle, pipelining',
      type: 'counter',
      samples: CLOSE_REASONS.map((r) => ({ labels: { reason: r }, value: c.closed[r] })),
    },
    { name: 'tallyd_unauthorized_requests_total', help: 'Requests refused with 401', type: 'counter', samples: [{ labels: {}, value: c.unauthorized }] },
    { name: 'tallyd_scrapes_total', help: 'Scrapes and dumps served', type: 'counter', samples: [{ labels: {}, value: c.scrapes }] },
    { name: 'tallyd_scrape_duration_seconds', help: 'Duration of the last scrape (merge and render)', type: 'gauge', samples: [{ labels: {}, value: c.lastScrapeSeconds }] },
    { name: 'tallyd_shards', help: 'Shard worker threads', type: 'gauge', samples: [{ labels: {}, value: st.shards.length }] },
  ];
}

/** KumoMTA-style names for /metrics.json. */
export function jsonFamilies(rt: Runtime, c: ServerCounters): SelfFamily[] {
  const st = rt.stats();
  return [
    { name: 'connection_count', help: 'number of active connections', type: 'gauge', samples: [{ labels: { service: 'websocket_ingest' }, value: c.wsConnections }] },
    { name: 'memory_usage', help: 'number of bytes of used memory', type: 'gauge', samples: [{ labels: {}, value: process.memoryUsage().rss }] },
    { name: 'memory_limit', help: 'soft memory limit measured in bytes', type: 'gauge', samples: [{ labels: {}, value: getHeapStatistics().heap_size_limit }] },
    { name: 'ring_used_count', help: 'number of bytes waiting in the shard ring', type: 'gauge', samples: st.shards.map((s) => ({ labels: { shard: String(s.index) }, value: s.ringUsed })) },
    { name: 'pending_batch_count', help: 'number of batches a shard has not answered yet', type: 'gauge', samples: st.shards.map((s) => ({ labels: { shard: String(s.index) }, value: s.pending })) },
    { name: 'total_backpressure_refusals', help: 'total number of batches refused because the rings were full', type: 'counter', samples: [{ labels: {}, value: st.busyRefusals }] },
    { name: 'total_shard_restarts', help: 'total number of shard workers restarted', type: 'counter', samples: [{ labels: {}, value: st.restarts }] },
  ];
}
