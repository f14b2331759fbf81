/**
 * `POST /v1/kumomta`: KumoMTA's log records as its log hooks and webhooks
 * send them (docs/kumomta.md). The body goes to a shard as it came, like a
 * `/v1/events` batch; the shard makes events of the records
 * (src/event/kumomta.ts), so access, limits, acknowledgement and rejection
 * reasons are those of `/v1/events`.
 */
import { FORMAT_JSON, FORMAT_KUMOMTA_JSON, FORMAT_KUMOMTA_NDJSON, FORMAT_NDJSON, formatOfContentType } from '../event/decode.js';
import type { Runtime } from '../shard/runtime.js';
import { outcomeResponse, type IngestCounters } from './ingest.js';
import { fail } from './respond.js';
import type { Begin, HttpResponse, RequestHead } from './types.js';

export interface KumoIngest {
  runtime: Runtime;
  counters: IngestCounters;
  /** largest body */
  limit: number;
  tooLarge(): HttpResponse;
}

export function kumomtaIngest(req: RequestHead, k: KumoIngest): Begin | HttpResponse {
  const ct = req.header('content-type');
  const f = formatOfContentType(ct);
  const format = f === FORMAT_JSON ? FORMAT_KUMOMTA_JSON : f === FORMAT_NDJSON ? FORMAT_KUMOMTA_NDJSON : null;
  if (format === null) {
    return fail(
      415,
      'ERR_INGEST_CONTENT_TYPE',
      `content type ${ct === undefined ? '(none)' : JSON.stringify(ct)} is not one of application/json, application/x-ndjson (KumoMTA log records)`,
    );
  }
  return {
    kind: 'body',
    limit: k.limit,
    tooLarge: () => k.tooLarge(),
    finish: async (body) => {
      k.counters.httpBatches++;
      return outcomeResponse(await k.runtime.ingest(body, format));
    },
  };
}
