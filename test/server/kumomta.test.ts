/**
 * POST /v1/kumomta against the real server over HTTP, both transports:
 * KumoMTA log records of every type, shaped as kumo-log-types serializes
 * them, sent one per request (as the log hook's webhook does), as an array
 * (a batched hook) and as NDJSON; the metric blocks of docs/kumomta.md
 * aggregate them exactly as the records' own tallies say; bad records are
 * refused one by one with their reasons; access rules are /v1/events'.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, parseDump, sample, start, stop, TRANSPORTS, type Running } from './helpers.js';

const CONFIG = `
metric kumomta_deliveries {
  filter = event=kumomta_delivery
  fields = size
  group_by = site response_code
}
metric kumomta_queue_time {
  filter = event=kumomta_delivery
}
metric kumomta_transient {
  filter = event=kumomta_transient_failure
  group_by = site response_enhanced_code
}
metric kumomta_records {
  filter = event=kumomta_*
  group_by = type
}
metric kumomta_tenants {
  filter = event=kumomta_reception AND meta_tenant=*
  group_by = meta_tenant peer_address_addr
}
`;

const TYPES = [
  'Reception', 'Delivery', 'Bounce', 'TransientFailure', 'Expiration', 'AdminBounce', 'OOB', 'Feedback',
  'Rejection', 'AdminRebind', 'DeferredInjectionRebind', 'Delayed', 'XferOut', 'XferIn',
];
const SITES = ['(alt1|alt2)?.gmail-smtp-in.l.google.com.', 'mx.example.org', 'mta5.am0.yahoodns.net'];

/** a deterministic pseudo-random sequence */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

function iso(us: number): string {
  const s = new Date(Math.floor(us / 1000)).toISOString(); // ms precision
  return `${s.slice(0, 23)}${String(us % 1000).padStart(3, '0')}123Z`; // ns, as chrono prints them
}

/** One record as KumoMTA logs it; `queueUs` between created and the record. */
function record(type: string, i: number, r: () => number): { rec: Record<string, unknown>; queueUs: number } {
  const createdUs = 1_757_675_281_000_000 + i * 1_000_003;
  const queueUs = type === 'Reception' ? Math.floor(r() * 900) : Math.floor(r() * 5_000_000);
  const tsUs = createdUs + queueUs;
  const site = type === 'Reception' ? '' : (SITES[Math.floor(r() * SITES.length)] as string);
  const code = type === 'Delivery' ? (r() < 0.8 ? 250 : 251) : type === 'TransientFailure' ? (r() < 0.5 ? 421 : 451) : type === 'Reception' ? 250 : 550;
  const enhanced = code === 250 ? { class: 2, subject: 0, detail: 0 } : code === 421 ? { class: 4, subject: 7, detail: 0 } : code === 451 ? { class: 4, subject: 4, detail: r() < 0.5 ? 1 : 2 } : code === 251 ? null : { class: 5, subject: 1, detail: 1 };
  const rec: Record<string, unknown> = {
    type,
    id: `1d98076abbbc11ed9402${String(i).padStart(12, '0')}`,
    sender: 'user@sender.example.com',
    recipient: i % 7 === 0 ? ['a@recipient.example.com', 'b@recipient.example.com'] : 'user@recipient.example.com',
    queue: 'campaign:tenant@domain',
    site,
    size: 1000 + Math.floor(r() * 50_000),
    response: { code, enhanced_code: enhanced, content: 'OK ids=8a5475ccbbc611eda12250ebf67f93bd', command: type === 'Reception' ? null : '.' },
    peer_address: { name: 'gmail-smtp-in.l.google.com.', addr: i % 4 === 0 ? '142.251.2.27' : '10.1.2.3' },
    timestamp: Math.floor(tsUs / 1e6),
    event_time: iso(tsUs),
    created: Math.floor(createdUs / 1e6),
    created_time: iso(createdUs),
    num_attempts: type === 'Reception' ? 0 : 1 + (i % 3),
    bounce_classification: type === 'Bounce' ? 'InvalidRecipient' : 'Uncategorized',
    egress_pool: type === 'Reception' ? null : 'pool0',
    egress_source: type === 'Reception' ? null : 'source2',
    source_address: type === 'Reception' ? null : { address: '10.0.0.1:53210', protocol: 'socks5', server: '192.168.1.1:5000' },
    feedback_report:
      type === 'Feedback'
        ? { feedback_type: 'abuse', user_agent: 'SomeGenerator/1.0', version: '1', arrival_date: '2005-03-08T18:00:00Z', incidents: null, reporting_mta: { mta_type: 'dns', name: 'mail.example.com' }, reported_domain: ['example.net'], extensions: { 'removal-recipient': ['user@example.com'] } }
        : null,
    meta: { tenant: i % 3 === 0 ? 'acme' : 'globex', campaign: 'spring', flagged: i % 2 === 0 },
    headers: { Subject: 'Hello', 'X-Customer-ID': String(i % 4) },
    delivery_protocol: type === 'Reception' ? null : 'ESMTP',
    reception_protocol: 'ESMTP',
    nodeid: '557f3ad4-2c8c-11ee-976e-782d7e12e173',
    tls_cipher: 'TLS_AES_256_GCM_SHA384',
    tls_protocol_version: 'TLSv1.3',
    tls_peer_subject_name: ['C=US', 'CN=do.havedane.net'],
    session_id: '9bcd689e-23d9-41b7-a015-63a1382f8b57',
  };
  if (type === 'Delivery' && i % 5 === 0) {
    // a record from before 2025.10.06: epoch seconds only
    delete rec.event_time;
    delete rec.created_time;
  }
  return { rec, queueUs };
}

interface Tally {
  count: number;
  sum: number;
}
const add = (m: Map<string, Tally>, k: string, v: number): void => {
  const t = m.get(k) ?? { count: 0, sum: 0 };
  t.count++;
  t.sum += v;
  m.set(k, t);
};

function post(url: string, body: string, ct = 'application/json', headers: Record<string, string> = {}) {
  return http(url, '/v1/kumomta', { method: 'POST', headers: { 'content-type': ct, ...headers }, body });
}

describe.each(TRANSPORTS)('POST /v1/kumomta over $name', (transport) => {
  let srv: Running;
  beforeAll(async () => {
    srv = await start(transport, {}, CONFIG);
  });
  afterAll(async () => {
    await stop(srv);
  });

  it('aggregates records of every type, sent singly, as an array and as NDJSON, as their own tallies say', async () => {
    const r = rng(7);
    const all: { rec: Record<string, unknown>; queueUs: number }[] = [];
    for (let i = 0; i < 420; i++) all.push(record(TYPES[i % TYPES.length] as string, i, r));
    // what the metric blocks must show, from the records themselves
    const deliveries = new Map<string, Tally>();
    const transient = new Map<string, Tally>();
    const byType = new Map<string, number>();
    const tenants = new Map<string, number>();
    const queue: number[] = [];
    for (const { rec, queueUs } of all) {
      const resp = rec.response as { code: number; enhanced_code: { class: number; subject: number; detail: number } | null };
      const type = rec.type as string;
      byType.set(type, (byType.get(type) ?? 0) + 1);
      if (type === 'Delivery') {
        add(deliveries, `${rec.site as string}_${resp.code}`, rec.size as number);
        // records without event_time have whole seconds only
        queue.push('event_time' in rec ? queueUs : ((rec.timestamp as number) - (rec.created as number)) * 1e6);
      }
      if (type === 'TransientFailure') {
        const e = resp.enhanced_code;
        add(transient, `${rec.site as string}_${e === null ? '' : `${e.class}.${e.subject}.${e.detail}`}`, queueUs);
      }
      if (type === 'Reception') {
        const k = `${(rec.meta as { tenant: string }).tenant}_${(rec.peer_address as { addr: string }).addr}`;
        tenants.set(k, (tenants.get(k) ?? 0) + 1);
      }
    }

    // 30 one by one (the log hook's webhook), 200 as one array (a batched hook), the rest as NDJSON in two bodies
    for (const { rec } of all.slice(0, 30)) {
      const a = await post(srv.url, JSON.stringify(rec));
      expect(a.status, a.text).toBe(200);
      expect(a.json()).toEqual({ accepted: 1, rejected: 0, errors: [] });
    }
    const arr = await post(srv.url, JSON.stringify(all.slice(30, 230).map((x) => x.rec)));
    expect(arr.json()).toEqual({ accepted: 200, rejected: 0, errors: [] });
    for (const part of [all.slice(230, 330), all.slice(330)]) {
      const nd = await post(srv.url, `${part.map((x) => JSON.stringify(x.rec)).join('\n')}\n`, 'application/x-ndjson');
      expect(nd.json()).toEqual({ accepted: part.length, rejected: 0, errors: [] });
    }

    expect(deliveries.size).toBeGreaterThanOrEqual(4);
    expect(transient.size).toBeGreaterThanOrEqual(4);
    expect(tenants.size).toBe(4);
    const dump = parseDump((await http(srv.url, '/v1/stats/dump?fields=count,sum,min,max,%2599')).text).rows;
    for (const [k, t] of deliveries) {
      expect(dump.get(`kumomta_deliveries_${k} size`), k).toMatchObject({ count: String(t.count), sum: String(t.sum) });
    }
    expect(dump.get('kumomta_deliveries size')?.count).toBe(String(byType.get('Delivery')));
    for (const [k, t] of transient) expect(dump.get(`kumomta_transient_${k} duration`), k).toMatchObject({ count: String(t.count), sum: String(t.sum) });
    for (const [k, n] of byType) expect(dump.get(`kumomta_records_${k} duration`)?.count, k).toBe(String(n));
    expect(byType.size).toBe(TYPES.length);
    for (const [k, n] of tenants) expect(dump.get(`kumomta_tenants_${k} duration`)?.count, k).toBe(String(n));
    // queue time: exact below 480 values
    queue.sort((a, b) => a - b);
    const q = dump.get('kumomta_queue_time duration');
    expect(q).toMatchObject({
      count: String(queue.length),
      sum: String(queue.reduce((a, b) => a + b, 0)),
      min: String(queue[0]),
      max: String(queue[queue.length - 1]),
      '%99': String(queue[Math.ceil(queue.length * 0.99) - 1]),
    });
  });

  it('refuses bad records one by one, with the reasons of /v1/events, and counts them', async () => {
    const good = record('Delivery', 1, rng(1)).rec;
    const body = `[${[
      JSON.stringify(good),
      '5',
      JSON.stringify({ ...good, type: undefined }),
      JSON.stringify({ ...good, type: 3 }),
      JSON.stringify({ ...good, type: 'Not a type' }),
      JSON.stringify({ ...good, event_time: 'yesterday' }),
      JSON.stringify({ ...good, timestamp: 'soon', event_time: undefined }),
      JSON.stringify(good).replace('"size":', '"size":1e999,"x":'),
      JSON.stringify(good),
    ].join(',')}]`;
    const a = await post(srv.url, body);
    expect(a.status).toBe(200);
    expect(a.json()).toEqual({
      accepted: 2,
      rejected: 7,
      errors: [
        { index: 1, reason: 'not_a_map: a KumoMTA record is a JSON object' },
        { index: 2, reason: 'missing_name: key "type" is missing' },
        { index: 3, reason: 'invalid_name: key "type" is not a string' },
        { index: 4, reason: 'invalid_name: type "Not a type" is not a record type name' },
        { index: 5, reason: 'invalid_duration: "event_time" is not seconds since the epoch or an RFC 3339 time' },
        { index: 6, reason: 'invalid_duration: "timestamp" is not seconds since the epoch or an RFC 3339 time' },
        { index: 7, reason: 'invalid_field_value: field "size" is not a finite number' },
      ],
    });
    const nd = await post(srv.url, `${JSON.stringify(good)}\n{"type": "Delivery",\n\n${JSON.stringify(good)}\n`, 'application/x-ndjson');
    expect(nd.json()).toMatchObject({ accepted: 2, rejected: 1, errors: [{ index: 1 }] });
    expect(nd.json().errors[0].reason).toMatch(/^invalid_json: line 2: /);

    const m = (await http(srv.url, '/metrics')).text;
    expect(sample(m, 'tallyd_events_rejected_total', 'reason="not_a_map"')).toBe(1);
    expect(sample(m, 'tallyd_events_rejected_total', 'reason="missing_name"')).toBe(1);
    expect(sample(m, 'tallyd_events_rejected_total', 'reason="invalid_name"')).toBe(2);
    expect(sample(m, 'tallyd_events_rejected_total', 'reason="invalid_duration"')).toBe(2);
    expect(sample(m, 'tallyd_events_rejected_total', 'reason="invalid_field_value"')).toBe(1);
    expect(sample(m, 'tallyd_events_rejected_total', 'reason="invalid_json"')).toBe(1);
  });

  it('answers as /v1/events does to what cannot be a batch', async () => {
    const broken = await post(srv.url, '[{"type":');
    expect(broken.status).toBe(400);
    expect(broken.json().error).toBe('ERR_INGEST_FRAMING');
    const ct = await post(srv.url, '{}', 'text/plain');
    expect(ct.status).toBe(415);
    expect(ct.json().error).toBe('ERR_INGEST_CONTENT_TYPE');
    expect((await http(srv.url, '/v1/kumomta')).status).toBe(405);
    expect((await post(srv.url, '')).json()).toEqual({ accepted: 0, rejected: 0, errors: [] });
  });
});

describe.each(TRANSPORTS)('access to /v1/kumomta over $name', (transport) => {
  let outside: Running;
  let tok: Running;
  beforeAll(async () => {
    outside = await start(transport, { ingest_networks: '10.0.0.0/8' }, CONFIG);
    tok = await start(transport, { ingest_token: 'kumo-T0ken', max_body_bytes: '4k' }, CONFIG);
  });
  afterAll(async () => {
    await stop(outside);
    await stop(tok);
  });

  it('needs ingest_networks, the ingest token, and a body within max_body_bytes', async () => {
    const rec = JSON.stringify(record('Bounce', 3, rng(3)).rec);
    const out = await post(outside.url, rec);
    expect(out.status).toBe(401);
    expect(out.json()).toEqual({ error: 'ERR_INGEST_UNAUTHORIZED', message: '127.0.0.1 is not in ingest_networks (10.0.0.0/8)' });
    expect((await post(tok.url, rec)).status).toBe(401);
    expect((await post(tok.url, rec, 'application/json', { authorization: 'Bearer wrong-Token' })).status).toBe(401);
    const ok = await post(tok.url, rec, 'application/json', { authorization: 'Bearer kumo-T0ken' });
    expect(ok.json()).toEqual({ accepted: 1, rejected: 0, errors: [] });
    const big = await post(tok.url, `[${new Array(4).fill(rec).join(',')}]`, 'application/json', { authorization: 'Bearer kumo-T0ken' });
    expect(big.status).toBe(413);
    expect(big.json().error).toBe('ERR_INGEST_TOO_LARGE');
  });
});
