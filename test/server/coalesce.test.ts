/**
 * Dovecot's event exporter: one event per POST, one request at a time per
 * keep-alive connection, many connections. The server coalesces such small
 * requests into shared ring records; each answer must still be exactly its
 * own, and the dump must count exactly the accepted events. Both transports,
 * real server on 127.0.0.1, real shard workers; with the small requests
 * aggregated on the main thread (inline_batch_bytes, the default) and with
 * every one sent to the shards (inline_batch_bytes = 0).
 */
import { Agent, request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countOf, ev, http, sample, start, stop, TRANSPORTS, type Running } from './helpers.js';

interface Answer {
  status: number;
  body: any;
}

/** One POST on the given keep-alive agent (one connection per agent). */
function post(agent: Agent, url: string, body: string, contentType = 'application/json'): Promise<Answer> {
  const u = new URL('/v1/events', url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: 'POST',
        agent,
        headers: { 'content-type': contentType, 'content-length': String(Buffer.byteLength(body)) },
        timeout: 20_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer in time')));
    req.on('error', reject);
    req.end(body);
  });
}

/** The i-th request of a connection, and the answer it must get. */
function nth(id: string, conn: number, i: number): { body: string; want: Answer; accepted: number } {
  const event = ev(id, { hostname: 'mx1', start_time: '2026-12-03T11:00:00.123456Z', end_time: '2026-12-03T11:00:00.125690Z', categories: ['imap'] }, {
    user: `user${conn}@example.net`,
    cmd_name: 'FETCH',
    tagged_reply_state: 'OK',
    duration: 1000 + i,
    bytes: i,
  });
  switch ((conn + i) % 6) {
    case 0:
    case 1:
    case 2:
      return { body: JSON.stringify(event), want: { status: 200, body: { accepted: 1, rejected: 0, errors: [] } }, accepted: 1 };
    case 3:
      // invalid JSON: 400 for this request alone
      return { body: JSON.stringify(event).slice(0, 40), want: { status: 400, body: { error: 'ERR_INGEST_FRAMING' } }, accepted: 0 };
    case 4:
      // an event without a name: rejected, with its reason
      return {
        body: JSON.stringify({ fields: { test: id } }),
        want: { status: 200, body: { accepted: 0, rejected: 1, errors: [{ index: 0, reason: 'missing_name: key "event" is missing' }] } },
        accepted: 0,
      };
    default:
      return {
        body: JSON.stringify([event, { ...event, fields: { test: id, bad: { nested: true } } }, event]),
        want: { status: 200, body: { accepted: 2, rejected: 1, errors: [{ index: 1 }] } },
        accepted: 2,
      };
  }
}

const MODES = [
  { mode: 'inline', inline: '4k' },
  { mode: 'coalesced in the shards', inline: '0' },
];
const CASES = TRANSPORTS.flatMap((t) => MODES.map((m) => ({ ...t, ...m })));

describe.each(CASES)('one event per request over $name, $mode', ({ mode, inline, ...transport }) => {
  let s: Running;
  beforeAll(async () => {
    s = await start(transport, { shards: '2', inline_batch_bytes: inline });
  });
  afterAll(async () => {
    await stop(s);
  });

  it('answers many concurrent keep-alive connections request by request, and counts exactly what it accepted', async () => {
    const id = `coalesce-${transport.name}-${inline}`;
    const CONNS = 12;
    const PER_CONN = 80;
    const agents = Array.from({ length: CONNS }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
    let accepted = 0;
    let framing = 0;
    const mismatches: string[] = [];
    try {
      await Promise.all(
        agents.map(async (agent, conn) => {
          for (let i = 0; i < PER_CONN; i++) {
            const r = nth(id, conn, i);
            const got = await post(agent, s.url, r.body);
            if (got.status !== r.want.status || !matches(got.body, r.want.body)) {
              mismatches.push(`connection ${conn} request ${i}: ${got.status} ${JSON.stringify(got.body)}, want ${r.want.status} ${JSON.stringify(r.want.body)}`);
            }
            if (got.status === 200) accepted += got.body.accepted as number;
            if (got.status === 400) framing++;
          }
        }),
      );
    } finally {
      for (const a of agents) a.destroy();
    }
    expect(mismatches).toEqual([]);
    const wantAccepted = Array.from({ length: CONNS }, (_, c) => Array.from({ length: PER_CONN }, (_, i) => nth(id, c, i).accepted)).flat().reduce((a, b) => a + b, 0);
    expect(accepted).toBe(wantAccepted);
    expect(framing).toBeGreaterThan(0);
    expect(await countOf(s.url, id)).toBe(accepted);
    const m = (await http(s.url, '/metrics')).text;
    expect(sample(m, 'tallyd_http_batches_total')).toBeGreaterThanOrEqual(CONNS * PER_CONN);
    expect(sample(m, 'tallyd_ingest_internal_errors_total')).toBe(0);
    expect(sample(m, 'tallyd_batches_lost_total')).toBe(0);
    // every request is a few hundred bytes: all on the main thread, or none
    expect(sample(m, 'tallyd_inline_batches_total')).toBe(inline === '0' ? 0 : CONNS * PER_CONN);
    console.log(
      `[coalesce] ${transport.name}, ${mode}: ${CONNS} connections x ${PER_CONN} requests, ${accepted} events accepted = counted, ${framing} answered 400; ` +
        `${sample(m, 'tallyd_coalesced_batches_total')} requests shared ${sample(m, 'tallyd_coalesced_records_total')} ring records`,
    );
  });
});

/** `want`'s keys (recursively, arrays element by element) have the same values in `got`. */
function matches(got: unknown, want: unknown): boolean {
  if (Array.isArray(want)) return Array.isArray(got) && got.length === want.length && want.every((w, i) => matches(got[i], w));
  if (typeof want === 'object' && want !== null) {
    if (typeof got !== 'object' || got === null) return false;
    return Object.entries(want).every(([k, v]) => matches((got as Record<string, unknown>)[k], v));
  }
  return got === want;
}
