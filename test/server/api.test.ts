/**
 * The HTTP and WebSocket API (docs/contract.md §7) against both servers — uWebSockets.js
 * and the native-free node:http one — with real clients on 127.0.0.1, real
 * shard worker threads, no mocks. Both transports must answer alike.
 */
import { connect } from 'node:net';
import { request, Agent } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { pack } from 'msgpackr';
import { buildMetricDef } from '../../src/config/index.js';
import type { ConfigError } from '../../src/errors.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  countOf,
  ev,
  hasIpv6Loopback,
  http,
  parseDump,
  postEvents,
  sample,
  start,
  stop,
  TRANSPORTS,
  WsClient,
  type Running,
} from './helpers.js';
import { until } from '../helpers/wait.js';

const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1';
const CT_OM_100 = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
const CT_OM_001 = 'application/openmetrics-text; version=0.0.1; charset=utf-8';
const CT_TEXT = 'text/plain; version=0.0.4; charset=utf-8';

/** Raw bytes on one connection: for what an HTTP client library hides (HEAD framing, pipelining). */
function rawExchange(port: number, host: string, data: string, until: (got: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, host);
    let got = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`raw exchange: incomplete answer ${JSON.stringify(got)}`));
    }, 10_000);
    s.on('data', (d) => {
      got += d.toString('latin1');
      if (until(got)) {
        clearTimeout(timer);
        s.destroy();
        resolve(got);
      }
    });
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.write(data);
  });
}

describe.each(TRANSPORTS)('API over $name', (transport) => {
  let main: Running;

  beforeAll(async () => {
    main = await start(transport, { shards: '2', max_body_bytes: '1M' });
  });
  afterAll(async () => {
    await stop(main);
  });

  describe('listening', () => {
    it('listens on the port the OS picked for port 0 and reports it', async () => {
      expect(main.server.listener.kind).toBe(transport.name);
      expect(main.server.listener.port).toBeGreaterThan(0);
      const r = await http(main.url, '/livez');
      expect(r.status).toBe(200);
      expect(r.statusText).toBe('OK');
      expect(r.text).toBe('ok\n');
      expect(r.headers['content-length']).toBe('3');
    });

    it('refuses to share its port with a second server', async () => {
      const err = await start(transport, { shards: '1', listen: `127.0.0.1:${main.server.listener.port}` }).then(
        () => null,
        (e: unknown) => e as Error & { code?: string },
      );
      expect(err?.code).toBe('ERR_SERVER_LISTEN');
      expect(err?.message).toContain(`127.0.0.1:${main.server.listener.port}`);
      expect((await http(main.url, '/livez')).status).toBe(200);
    });

    it('answers /livez and /readyz', async () => {
      const r = await http(main.url, '/readyz');
      expect(r.status).toBe(200);
      expect(r.text).toBe('ready\n');
    });
  });

  describe('POST /v1/events', () => {
    it.each(['application/msgpack', 'application/x-msgpack', 'application/vnd.msgpack'])('takes a msgpack batch as %s', async (ct) => {
      const id = `mp-${ct.replace(/\W/g, '')}`;
      const batch = [ev(id, { duration: 100 }), ev(id, { duration: 300 }), ev(id, { duration: 50 })];
      const r = await postEvents(main.url, pack(batch), ct);
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(r.json()).toEqual({ accepted: 3, rejected: 0, errors: [] });
      const d = parseDump((await http(main.url, '/v1/stats/dump?fields=count,sum,min,max')).text);
      expect(d.rows.get(`by_test_${id} duration`)).toMatchObject({ count: '3', sum: '450', min: '50', max: '300' });
    });

    it('takes a concatenation of msgpack values, indexing errors across them', async () => {
      const id = 'mp-concat';
      const body = Buffer.concat([
        pack(ev(id)),
        pack([ev(id), ev(id, { duration: 7 })]),
        pack(42),
        pack([ev(id), { fields: { test: id } }]),
        pack(ev(id, {}, { bad: { nested: true } })),
      ]);
      const r = await postEvents(main.url, body, 'application/msgpack');
      expect(r.status).toBe(200);
      const o = r.json();
      expect(o.accepted).toBe(4);
      expect(o.rejected).toBe(3);
      expect(o.errors.map((e: { index: number }) => e.index)).toEqual([3, 5, 6]);
      expect(o.errors[0].reason).toMatch(/^not_a_map/);
      expect(o.errors[1].reason).toMatch(/^missing_name/);
      expect(o.errors[2].reason).toMatch(/^invalid_field_value/);
      expect(await countOf(main.url, id)).toBe(4);
    });

    it('takes JSON: one object, or an array', async () => {
      const id = 'json';
      const one = await postEvents(main.url, JSON.stringify(ev(id, { duration: 5 })), 'application/json');
      expect(one.status).toBe(200);
      expect(one.json()).toEqual({ accepted: 1, rejected: 0, errors: [] });
      const arr = await postEvents(main.url, JSON.stringify([ev(id), ev(id), 'x']), 'application/json; charset=utf-8');
      expect(arr.status).toBe(200);
      expect(arr.json()).toMatchObject({ accepted: 2, rejected: 1, errors: [{ index: 2 }] });
      expect(await countOf(main.url, id)).toBe(3);
    });

    it('takes NDJSON, where a broken line rejects only that line', async () => {
      const id = 'ndjson';
      const lines = [JSON.stringify(ev(id)), '{"event": "api_test", broken', '', JSON.stringify(ev(id)), JSON.stringify(ev(id))];
      const r = await postEvents(main.url, lines.join('\n') + '\n', 'application/x-ndjson');
      expect(r.status).toBe(200);
      const o = r.json();
      expect(o).toMatchObject({ accepted: 3, rejected: 1 });
      expect(o.errors).toHaveLength(1);
      expect(o.errors[0].index).toBe(1);
      expect(o.errors[0].reason).toMatch(/line 2/);
      expect(await countOf(main.url, id)).toBe(3);
    });

    it('lists the first 10 errors of a batch', async () => {
      const id = 'ten-errors';
      const batch: unknown[] = [];
      for (let i = 0; i < 30; i++) batch.push(i % 2 === 0 ? ev(id) : { fields: { test: id } });
      const r = await postEvents(main.url, pack(batch), 'application/msgpack');
      const o = r.json();
      expect(o.accepted).toBe(15);
      expect(o.rejected).toBe(15);
      expect(o.errors).toHaveLength(10);
      expect(o.errors.map((e: { index: number }) => e.index)).toEqual([1, 3, 5, 7, 9, 11, 13, 15, 17, 19]);
    });

    it('answers 400 naming what is wrong for a batch it cannot frame, and counts none of it', async () => {
      const id = 'unframeable';
      const whole = pack([ev(id), ev(id), ev(id, {}, { long: 'x'.repeat(100) })]);
      const truncated = await postEvents(main.url, whole.subarray(0, whole.length - 20), 'application/msgpack');
      expect(truncated.status).toBe(400);
      expect(truncated.statusText).toBe('Bad Request');
      expect(truncated.json().error).toBe('ERR_INGEST_FRAMING');
      expect(truncated.json().message).toMatch(/msgpack/i);
      const badJson = await postEvents(main.url, `[${JSON.stringify(ev(id))}, {"event": `, 'application/json');
      expect(badJson.status).toBe(400);
      expect(badJson.json().message).toMatch(/JSON/);
      expect(await countOf(main.url, id)).toBe(0);
    });

    it('answers 415 for an unknown or missing content type', async () => {
      const body = JSON.stringify(ev('ct'));
      const cases: Record<string, string>[] = [{ 'content-type': 'text/plain' }, { 'content-type': 'application/xml' }, {}];
      for (const headers of cases) {
        const r = await http(main.url, '/v1/events', { method: 'POST', headers, body });
        expect(r.status).toBe(415);
        expect(r.statusText).toBe('Unsupported Media Type');
        expect(r.json().error).toBe('ERR_INGEST_CONTENT_TYPE');
        expect(r.json().message).toMatch(headers['content-type'] === undefined ? /\(none\)/ : /is not one of/);
      }
      expect(await countOf(main.url, 'ct')).toBe(0);
    });

    it('answers 413 over max_body_bytes, with Content-Length and chunked, and serves on with its counts intact', async () => {
      const id = 'too-large';
      const ok = await postEvents(main.url, pack([ev(id), ev(id)]), 'application/msgpack');
      expect(ok.json().accepted).toBe(2);
      // 1.5 MiB of events against max_body_bytes = 1M
      const many = Array.from({ length: 12_000 }, () => ev(id, {}, { pad: 'p'.repeat(100) }));
      const big = pack(many);
      expect(big.length).toBeGreaterThan(1 << 20);
      const withLength = await postEvents(main.url, big, 'application/msgpack');
      expect(withLength.status).toBe(413);
      expect(withLength.statusText).toBe('Payload Too Large');
      expect(withLength.json()).toMatchObject({ error: 'ERR_INGEST_TOO_LARGE' });
      expect(withLength.json().message).toMatch(/max_body_bytes \(1048576 bytes\)/);
      const chunks: Buffer[] = [];
      for (let i = 0; i < big.length; i += 64 * 1024) chunks.push(big.subarray(i, i + 64 * 1024));
      const chunked = await http(main.url, '/v1/events', { method: 'POST', headers: { 'content-type': 'application/msgpack' }, body: chunks });
      expect(chunked.status).toBe(413);
      expect(chunked.json().error).toBe('ERR_INGEST_TOO_LARGE');
      // the server still serves, and nothing of the refused batches was counted
      expect((await http(main.url, '/livez')).status).toBe(200);
      const again = await postEvents(main.url, pack([ev(id)]), 'application/msgpack');
      expect(again.json().accepted).toBe(1);
      expect(await countOf(main.url, id)).toBe(3);
    });

    it('keeps the connection usable after a 413 (the rest of the body is read and dropped)', async () => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const send = (body: Buffer): Promise<{ status: number; body: string; socket: unknown }> =>
          new Promise((resolve, reject) => {
            const req = request(
              { host: main.host, port: main.port, method: 'POST', path: '/v1/events', agent, headers: { 'content-type': 'application/msgpack', 'content-length': String(body.length) } },
              (res) => {
                let b = '';
                res.on('data', (d: Buffer) => (b += d.toString()));
                res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b, socket: req.socket }));
              },
            );
            req.on('error', reject);
            req.end(body);
          });
        const first = await send(Buffer.alloc((1 << 20) + 1000, 0x90));
        expect(first.status).toBe(413);
        const second = await send(pack([ev('after-413')]));
        expect(second.status).toBe(200);
        expect(JSON.parse(second.body).accepted).toBe(1);
      } finally {
        agent.destroy();
      }
    });

    it('serves on when a client goes away in the middle of its body', async () => {
      const id = 'aborted-upload';
      await new Promise<void>((resolve, reject) => {
        const s = connect(main.port, main.host, () => {
          s.write(`POST /v1/events HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n[${JSON.stringify(ev(id))},`);
          setTimeout(() => {
            s.destroy();
            resolve();
          }, 50);
        });
        s.on('error', reject);
      });
      expect((await http(main.url, '/livez')).status).toBe(200);
      expect((await postEvents(main.url, pack([ev(id)]), 'application/msgpack')).json().accepted).toBe(1);
      expect(await countOf(main.url, id)).toBe(1);
    });

    it('takes a Dovecot event-exporter body, duration from fields.duration', async () => {
      const body = JSON.stringify({
        event: 'imap_command_finished',
        hostname: 'h',
        start_time: '2026-11-22T00:00:00.123456Z',
        end_time: '2026-11-22T00:00:05.000001Z',
        categories: ['imap'],
        fields: {
          user: 'u',
          session: 'Dc0J8dgJ',
          cmd_tag: 'a2',
          cmd_name: 'EXAMINE',
          cmd_args: 'INBOX',
          cmd_human_args: 'INBOX',
          tagged_reply_state: 'OK',
          tagged_reply: 'OK [READ-ONLY] Examine completed',
          last_run_time: '2026-11-22T00:00:00.124000Z',
          lock_wait_usecs: 12,
          running_usecs: 1100,
          bytes_in: 12,
          bytes_out: 400,
          net_in_bytes: 21,
          duration: 1234,
        },
      });
      const r = await postEvents(main.url, body, 'application/json');
      expect(r.status).toBe(200);
      expect(r.json()).toEqual({ accepted: 1, rejected: 0, errors: [] });
      const d = parseDump((await http(main.url, '/v1/stats/dump?fields=count sum')).text);
      expect(d.rows.get('imap_command_EXAMINE_OK duration')).toMatchObject({ count: '1', sum: '1234' });
      expect(d.rows.get('imap_command_EXAMINE_OK net_in_bytes')).toMatchObject({ count: '1', sum: '21' });
    });

    it('answers unknown paths 404 and wrong methods 405 with Allow', async () => {
      const nf = await http(main.url, '/v2/nothing');
      expect(nf.status).toBe(404);
      expect(nf.statusText).toBe('Not Found');
      expect(nf.json()).toMatchObject({ error: 'ERR_HTTP_NOT_FOUND' });
      expect((await http(main.url, '/v1/metrics/a/b', { method: 'DELETE' })).status).toBe(404);
      expect((await http(main.url, '/v1/metrics/%E0%A4%A', { method: 'DELETE' })).status).toBe(404);
      for (const [method, path, allow] of [
        ['GET', '/v1/events', 'POST'],
        ['PUT', '/metrics', 'GET'],
        ['DELETE', '/v1/stats/dump', 'GET, POST'],
        ['PATCH', '/v1/metrics', 'GET, POST'],
        ['GET', '/v1/metrics/by_test', 'DELETE'],
        ['POST', '/livez', 'GET'],
      ] as const) {
        const r = await http(main.url, path, { method });
        expect(r.status, `${method} ${path}`).toBe(405);
        expect(r.statusText).toBe('Method Not Allowed');
        expect(r.headers.allow).toBe(allow);
        expect(r.json().error).toBe('ERR_HTTP_METHOD');
      }
    });

    it('answers HEAD with the GET headers and no body, keeping the connection in step', async () => {
      const got = await rawExchange(
        main.port,
        main.host,
        'HEAD /livez HTTP/1.1\r\nHost: t\r\n\r\nGET /livez HTTP/1.1\r\nHost: t\r\n\r\n',
        (g) => g.split('HTTP/1.1 ').length === 3 && g.endsWith('ok\n'),
      );
      const [, head, get] = got.split('HTTP/1.1 ');
      expect(head).toMatch(/^200 OK\r\n/);
      expect(head?.toLowerCase()).toContain('content-length: 3\r\n');
      expect(head?.endsWith('\r\n\r\n')).toBe(true);
      expect(get).toMatch(/^200 OK\r\n[\s\S]*\r\n\r\nok\n$/);
    });
  });

  describe('WS /v1/events/stream', () => {
    it('acks binary msgpack and text JSON/NDJSON messages in order with ?ack=1', async () => {
      const id = 'ws-ack';
      const c = await WsClient.open(`${main.ws}/v1/events/stream?ack=1`);
      try {
        c.send(pack([ev(id), ev(id), 7]), true);
        c.send(JSON.stringify(ev(id)), false);
        c.send(JSON.stringify([ev(id), ev(id)]), false);
        c.send(`${JSON.stringify(ev(id))}\n{broken\n${JSON.stringify(ev(id))}\n`, false);
        c.send(Buffer.concat([pack(ev(id)), pack([ev(id)])]), true);
        const replies = await c.waitFor(5);
        expect(replies.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
        expect(replies.map((r) => [r.accepted, r.rejected])).toEqual([
          [2, 1],
          [1, 0],
          [2, 0],
          [2, 1],
          [2, 0],
        ]);
        expect(replies[0].errors).toEqual([{ index: 2, reason: expect.stringMatching(/^not_a_map/) }]);
        expect(replies[3].errors[0].index).toBe(1);
      } finally {
        c.close();
      }
      expect(await countOf(main.url, id)).toBe(9);
    });

    it('sends nothing back for good messages without ack, but answers an unframeable one', async () => {
      const id = 'ws-noack';
      const c = await WsClient.open(`${main.ws}/v1/events/stream`);
      try {
        c.send(pack([ev(id), ev(id)]), true);
        c.send(JSON.stringify(ev(id)), false);
        const whole = pack([ev(id), ev(id)]);
        c.send(whole.subarray(0, whole.length - 5), true);
        c.send('{"event": "api_test", "fields": {', false);
        c.send(pack([ev(id)]), true);
        const replies = await c.waitFor(2);
        expect(replies).toHaveLength(2);
        expect(replies[0]).toMatchObject({ seq: 3, error: 'ERR_INGEST_FRAMING' });
        expect(replies[0].message).toMatch(/msgpack/i);
        expect(replies[1]).toMatchObject({ seq: 4, error: 'ERR_INGEST_FRAMING' });
        expect(replies[1].message).toMatch(/JSON/);
        // messages of a session are handled in order: once 4 events are counted, message 5 is done too
        await until(async () => (await countOf(main.url, id)) >= 4, 20_000, 'the 4 good events (messages 1, 2 and 5) to be counted');
        expect(await countOf(main.url, id)).toBe(4);
        expect(c.received).toBe(2);
      } finally {
        c.close();
      }
    });

    it('refuses an upgrade on another path with 404', async () => {
      const r = await WsClient.refused(`${main.ws}/v1/events/other`);
      expect(r.status).toBe(404);
      expect(JSON.parse(r.body)).toMatchObject({ error: 'ERR_HTTP_NOT_FOUND' });
    });
  });

  describe('GET /metrics', () => {
    const id = 'scrape';
    beforeAll(async () => {
      const batch = [ev(id, { duration: 1500000 }, { bytes: 10 }), ev(id, { duration: 500000 }, { bytes: 5 }), ev(id, { duration: 1 })];
      const r = await postEvents(main.url, pack(batch), 'application/msgpack');
      expect(r.json().accepted).toBe(3);
    });

    it("gives OpenMetrics 1.0.0 to Prometheus' own Accept header", async () => {
      const r = await http(main.url, '/metrics', { headers: { accept: PROMETHEUS_ACCEPT } });
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toBe(CT_OM_100);
      expect(r.text.endsWith('# EOF\n')).toBe(true);
      expect(sample(r.text, 'dovecot_by_test_total', `test="${id}"`)).toBe(3);
      expect(sample(r.text, 'dovecot_by_test_duration_seconds_total', `test="${id}"`)).toBe(2.000001);
      expect(sample(r.text, 'dovecot_by_test_bytes_total', `test="${id}"`)).toBe(15);
      expect(r.text).toMatch(/^# TYPE tallyd_build info$/m);
    });

    it('gives OpenMetrics 0.0.1 to a client that takes only that', async () => {
      const r = await http(main.url, '/metrics', { headers: { accept: 'application/openmetrics-text;version=0.0.1' } });
      expect(r.headers['content-type']).toBe(CT_OM_001);
      expect(r.headers['content-type']).toContain('version=0.0.1');
      expect(r.text.endsWith('# EOF\n')).toBe(true);
      expect(sample(r.text, 'dovecot_by_test_total', `test="${id}"`)).toBe(3);
    });

    it.each([
      ['no Accept', undefined],
      ['*/*', '*/*'],
      ['text/plain', 'text/plain'],
      ['text preferred by q', 'application/openmetrics-text;version=1.0.0;q=0.2,text/plain;version=0.0.4;q=0.9'],
      ['an unknown type only', 'application/xml'],
    ])('gives text 0.0.4 for %s', async (_what, accept) => {
      const r = await http(main.url, '/metrics', { headers: accept === undefined ? {} : { accept } });
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toBe(CT_TEXT);
      expect(r.text).not.toContain('# EOF');
      expect(r.text).toMatch(/^# TYPE dovecot_by_test_total counter$/m);
      expect(sample(r.text, 'dovecot_by_test_total', `test="${id}"`)).toBe(3);
      expect(r.text).toMatch(/^# TYPE tallyd_build_info gauge$/m);
    });

    it('gives OpenMetrics when it is preferred by q over text', async () => {
      const r = await http(main.url, '/metrics', { headers: { accept: 'text/plain;q=0.5, application/openmetrics-text; version=1.0.0; q=0.8' } });
      expect(r.headers['content-type']).toBe(CT_OM_100);
    });

    it('reads a repeated Accept header as one list, as node:http joins it', async () => {
      const r = await http(main.url, '/metrics', { headers: { accept: ['application/openmetrics-text;version=1.0.0', 'text/plain;q=0.1'] } });
      expect(r.headers['content-type']).toBe(CT_OM_100);
      const t = await http(main.url, '/metrics', { headers: { accept: ['application/openmetrics-text;version=1.0.0;q=0.1', 'text/plain'] } });
      expect(t.headers['content-type']).toBe(CT_TEXT);
    });

    it('gzips when asked, and the body decompresses to the plain scrape', async () => {
      const r = await http(main.url, '/metrics', { headers: { 'accept-encoding': 'gzip, deflate' } });
      expect(r.status).toBe(200);
      expect(r.headers['content-encoding']).toBe('gzip');
      expect(r.headers['content-type']).toBe(CT_TEXT);
      expect(Number(r.headers['content-length'])).toBe(r.body.length);
      const text = gunzipSync(r.body).toString('utf8');
      const plain = await http(main.url, '/metrics');
      expect(plain.headers['content-encoding']).toBeUndefined();
      // the same families and samples; only the self-metrics that change between two scrapes may differ
      const stable = (t: string) =>
        t
          .split('\n')
          .filter((l) => !/^(process_|nodejs_|tallyd_scrape|tallyd_bytes|tallyd_batches|tallyd_http|tallyd_events)/.test(l))
          .join('\n');
      expect(stable(text)).toBe(stable(plain.text));
      expect(sample(text, 'dovecot_by_test_total', `test="${id}"`)).toBe(3);
      const om = await http(main.url, '/metrics', { headers: { 'accept-encoding': 'gzip', accept: PROMETHEUS_ACCEPT } });
      expect(om.headers['content-type']).toBe(CT_OM_100);
      expect(gunzipSync(om.body).toString('utf8').endsWith('# EOF\n')).toBe(true);
    });

    it('prints the self-metrics of contract §10, and they count what was sent', async () => {
      const before = (await http(main.url, '/metrics')).text;
      const at = (t: string, name: string, labels = ''): number => sample(t, name, labels) ?? 0;
      const body = JSON.stringify([{ fields: {} }, 3, ev('self'), ev('self')]);
      const r = await postEvents(main.url, body, 'application/json');
      expect(r.json()).toMatchObject({ accepted: 2, rejected: 2 });
      const t = (await http(main.url, '/metrics')).text;
      const counters = [
        'tallyd_events_received_total',
        'tallyd_events_accepted_total',
        'tallyd_events_rejected_total',
        'tallyd_events_lost_total',
        'tallyd_batches_total',
        'tallyd_bytes_total',
        'tallyd_backpressure_refusals_total',
        'tallyd_sub_metrics_overflow_total',
        'tallyd_shard_restarts_total',
        'tallyd_http_batches_total',
        'tallyd_websocket_messages_total',
        'tallyd_scrapes_total',
      ];
      for (const name of counters) expect(t, name).toMatch(new RegExp(`^# TYPE ${name} counter$`, 'm'));
      const delta = (name: string, labels = '') => at(t, name, labels) - at(before, name, labels);
      expect(delta('tallyd_events_received_total')).toBe(4);
      expect(delta('tallyd_events_accepted_total')).toBe(2);
      expect(delta('tallyd_events_rejected_total', 'reason="missing_name"')).toBe(1);
      expect(delta('tallyd_events_rejected_total', 'reason="not_a_map"')).toBe(1);
      expect(delta('tallyd_batches_total')).toBe(1);
      expect(delta('tallyd_http_batches_total')).toBe(1);
      expect(delta('tallyd_bytes_total')).toBe(Buffer.byteLength(body));
      expect(delta('tallyd_scrapes_total')).toBe(1);
      expect(at(t, 'tallyd_events_lost_total')).toBe(0);
      expect(at(t, 'tallyd_backpressure_refusals_total')).toBe(0);
      for (const shard of ['0', '1']) {
        expect(sample(t, 'tallyd_ring_fill_ratio', `shard="${shard}"`)).toBe(0);
        expect(sample(t, 'tallyd_ring_used_bytes', `shard="${shard}"`)).toBe(0);
        expect(sample(t, 'tallyd_ring_capacity_bytes', `shard="${shard}"`)).toBe(16 * 1024 * 1024 + 16); // ring_bytes plus one record header
        expect(sample(t, 'tallyd_shard_restarts_total', `shard="${shard}"`)).toBe(0);
        expect(sample(t, 'tallyd_shard_pending_batches', `shard="${shard}"`)).toBe(0);
      }
      expect(sample(t, 'tallyd_sub_metrics_overflow_total', 'metric="by_test"')).toBe(0);
      expect(sample(t, 'tallyd_sub_metrics', 'metric="by_test"')).toBeGreaterThanOrEqual(1);
      // the duration of the scrape before this one
      expect(sample(t, 'tallyd_scrape_duration_seconds')).toBeGreaterThan(0);
      expect(sample(t, 'tallyd_shards')).toBe(2);
      expect(sample(t, 'tallyd_websocket_connections')).toBe(0);
      // prom-client's process metrics under their usual names
      expect(sample(t, 'process_resident_memory_bytes')).toBeGreaterThan(1 << 20);
      expect(sample(t, 'process_cpu_seconds_total')).toBeGreaterThan(0);
      expect(sample(t, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
      expect(sample(t, 'nodejs_heap_size_total_bytes')).toBeGreaterThan(0);
      expect(t).toMatch(/^# TYPE nodejs_eventloop_lag_seconds gauge$/m);
      expect(t).toMatch(/^# TYPE tallyd_build_info gauge$/m);
      expect(sample(t, 'tallyd_build_info', `version="0.0.0-test",revision="unknown",node="${process.version}"`)).toBe(1);
      // nothing of tallyd's own under the Dovecot prefix
      expect(t).not.toMatch(/^dovecot_build/m);
      expect(t).toMatch(/^# TYPE process_start_time_seconds gauge$/m);
      const startTime = sample(t, 'process_start_time_seconds') as number;
      expect(Number.isInteger(startTime)).toBe(true);
      expect(startTime).toBeLessThanOrEqual(Date.now() / 1000);
      expect(startTime).toBeGreaterThan(Date.now() / 1000 - 3600);
    });
  });

  describe('GET /metrics.json', () => {
    it('is valid JSON in KumoMTA shape', async () => {
      const id = 'json-kumo';
      await postEvents(main.url, pack([ev(id), ev(id)]), 'application/msgpack');
      const r = await http(main.url, '/metrics.json');
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
      const o = r.json();
      // a counter with one label: {"<label>": {"<value>": n}}
      expect(o.dovecot_by_test_total).toMatchObject({ type: 'counter', help: expect.any(String) });
      expect(o.dovecot_by_test_total.value.test[id]).toBe(2);
      // no labels: the number; two labels: an array of objects with "@"
      expect(typeof o.tallyd_events_accepted_total.value).toBe('number');
      expect(o.dovecot_by_test_summary.type).toBe('summary');
      expect(o.memory_usage).toMatchObject({ type: 'gauge' });
      expect(o.memory_usage.value).toBeGreaterThan(0);
      expect(o.connection_count.value).toEqual({ service: { websocket_ingest: expect.any(Number) } });
      expect(Object.keys(o.ring_used_count.value.shard)).toEqual(['0', '1']);
    });
  });

  describe('/v1/stats/dump', () => {
    it('splits fields on spaces and commas, + as a space', async () => {
      const id = 'dump-fields';
      await postEvents(main.url, pack([ev(id, { duration: 10 }), ev(id, { duration: 20 })]), 'application/msgpack');
      for (const q of ['count,sum', 'count+sum', 'count%20sum', 'count,+sum', 'count%2C%20sum']) {
        const r = await http(main.url, `/v1/stats/dump?fields=${q}`);
        expect(r.status, q).toBe(200);
        expect(r.headers['content-type']).toBe('text/plain; charset=utf-8');
        const d = parseDump(r.text);
        expect(d.header, q).toEqual(['metric_name', 'field', 'count', 'sum']);
        expect(d.rows.get(`by_test_${id} duration`)).toEqual({ metric_name: `by_test_${id}`, field: 'duration', count: '2', sum: '30' });
      }
      const all = parseDump((await http(main.url, '/v1/stats/dump')).text);
      expect(all.header).toEqual(['metric_name', 'field', 'count', 'sum', 'min', 'max', 'avg', 'median', 'stddev', '%95']);
      expect(all.rows.get(`by_test_${id} duration`)).toMatchObject({ avg: '15.00', stddev: '5.00' });
    });

    it('does not reset on GET', async () => {
      const id = 'dump-get';
      await postEvents(main.url, pack([ev(id)]), 'application/msgpack');
      await http(main.url, '/v1/stats/dump?fields=count&reset=1');
      expect(await countOf(main.url, id)).toBe(1);
    });
  });

  describe('/v1/metrics', () => {
    it('lists, adds (201), refuses a duplicate (409) and a bad definition (400), removes (204, then 404)', async () => {
      const list = await http(main.url, '/v1/metrics');
      expect(list.status).toBe(200);
      expect(list.json().map((m: { name: string }) => m.name)).toEqual(['by_test', 'imap_command', 'deliveries']);
      expect(list.json()[1]).toEqual({
        name: 'imap_command',
        filter: 'event=imap_command_finished',
        fields: ['net_in_bytes'],
        group_by: 'cmd_name tagged_reply_state',
        description: 'IMAP commands',
      });

      const def = { name: 'rt_added', filter: 'event=rt_event AND kind=*', fields: 'size', group_by: 'kind size:linear:100:300:100', description: 'added at run time' };
      const post = (body: unknown) =>
        http(main.url, '/v1/metrics', { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
      // events before the add are not seen by it
      await postEvents(main.url, JSON.stringify({ event: 'rt_event', fields: { kind: 'a', size: 150 } }), 'application/json');
      const added = await post(def);
      expect(added.status).toBe(201);
      expect(added.statusText).toBe('Created');
      expect(added.json()).toEqual({ name: 'rt_added' });
      const after = (await http(main.url, '/v1/metrics')).json();
      expect(after.at(-1)).toEqual({ ...def, fields: ['size'] });
      await postEvents(
        main.url,
        JSON.stringify([
          { event: 'rt_event', fields: { kind: 'a', size: 150 } },
          { event: 'rt_event', fields: { kind: 'a', size: 250 } },
          { event: 'rt_event', fields: { kind: 'b', size: 1000 } },
        ]),
        'application/json',
      );
      const d = parseDump((await http(main.url, '/v1/stats/dump?fields=count,sum')).text);
      expect(d.rows.get('rt_added duration')?.count).toBe('3');
      expect(d.rows.get('rt_added size')?.sum).toBe('1400');
      expect(d.rows.get('rt_added_a_size_101_200 duration')?.count).toBe('1');
      expect(d.rows.get('rt_added_b_size_301_inf duration')?.count).toBe('1');
      const om = await http(main.url, '/metrics', { headers: { accept: PROMETHEUS_ACCEPT } });
      expect(sample(om.text, 'dovecot_rt_added_total', 'kind="a"')).toBe(2);

      const dup = await post(def);
      expect(dup.status).toBe(409);
      expect(dup.statusText).toBe('Conflict');
      expect(dup.json().error).toBe('ERR_CONFIG_DUPLICATE');

      // the answer carries the config error, as the config module words it
      const configError = (input: { name: string; filter: string; group_by?: string }): { error: string; message: string } => {
        try {
          buildMetricDef(input, new Set());
        } catch (e) {
          return { error: (e as ConfigError).code, message: (e as ConfigError).message };
        }
        throw new Error('no config error');
      };
      const badFilter = await post({ name: 'bad_filter', filter: 'event=a AND' });
      expect(badFilter.status).toBe(400);
      expect(badFilter.json()).toEqual(configError({ name: 'bad_filter', filter: 'event=a AND' }));
      expect(badFilter.json().message).toMatch(/filter/i);
      const ineq = await post({ name: 'bad_ineq', filter: 'event>a' });
      expect(ineq.status).toBe(400);
      expect(ineq.json().message).toContain('Only fields support inequality comparisons');
      const badGroup = await post({ name: 'bad_group', filter: 'event=a', group_by: 'duration:exponential:5:1:10' });
      expect(badGroup.status).toBe(400);
      expect(badGroup.json()).toEqual(configError({ name: 'bad_group', filter: 'event=a', group_by: 'duration:exponential:5:1:10' }));
      const badName = await post({ name: 'bad-name', filter: 'event=a' });
      expect(badName.status).toBe(400);
      const notJson = await post('{"name": ');
      expect(notJson.status).toBe(400);
      expect(notJson.json().message).toMatch(/not JSON/);
      expect((await http(main.url, '/v1/metrics')).json()).toHaveLength(4);

      const del = await http(main.url, '/v1/metrics/rt_added', { method: 'DELETE' });
      expect(del.status).toBe(204);
      expect(del.statusText).toBe('No Content');
      expect(del.body.length).toBe(0);
      const gone = await http(main.url, '/v1/metrics/rt_added', { method: 'DELETE' });
      expect(gone.status).toBe(404);
      expect(gone.json().error).toBe('ERR_METRIC_NOT_FOUND');
      expect((await http(main.url, '/v1/metrics')).json().map((m: { name: string }) => m.name)).toEqual(['by_test', 'imap_command', 'deliveries']);
      expect(parseDump((await http(main.url, '/v1/stats/dump')).text).rows.has('rt_added duration')).toBe(false);
    });
  });

  describe('GET /', () => {
    it('is an HTML page listing the metrics and linking the endpoints', async () => {
      const r = await http(main.url, '/');
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(r.text).toMatch(/^<!doctype html>/i);
      for (const name of ['by_test', 'imap_command', 'deliveries']) expect(r.text).toContain(`<td>${name}</td>`);
      for (const href of ['/metrics', '/metrics.json', '/v1/stats/dump', '/v1/metrics', '/livez', '/readyz']) expect(r.text).toContain(`href="${href}"`);
      expect(r.text).toContain(transport.name === 'uws' ? 'uWebSockets.js' : 'native-free');
    });
  });
});

describe.each(TRANSPORTS)('access control over $name', (transport) => {
  describe('outside trusted_networks and ingest_networks', () => {
    let outside: Running;
    beforeAll(async () => {
      outside = await start(transport, { trusted_networks: '10.0.0.0/8', ingest_networks: '10.0.0.0/8 192.168.0.0/16' });
    });
    afterAll(async () => {
      await stop(outside);
    });

    it('answers 401 on every trusted route, naming the peer address', async () => {
      for (const [method, path] of [
        ['GET', '/'],
        ['GET', '/metrics'],
        ['GET', '/metrics.json'],
        ['GET', '/v1/stats/dump'],
        ['POST', '/v1/stats/dump?reset=1'],
        ['GET', '/v1/metrics'],
        ['POST', '/v1/metrics'],
        ['DELETE', '/v1/metrics/by_test'],
      ] as const) {
        const r = await http(outside.url, path, { method, ...(method === 'POST' ? { body: '{}', headers: { 'content-type': 'application/json' } } : {}) });
        expect(r.status, `${method} ${path}`).toBe(401);
        expect(r.statusText).toBe('Unauthorized');
        expect(r.json()).toEqual({ error: 'ERR_HTTP_UNAUTHORIZED', message: '127.0.0.1 is not in trusted_networks (10.0.0.0/8)' });
      }
    });

    it('answers 401 to ingest over HTTP and refuses the WebSocket upgrade with 401', async () => {
      const r = await postEvents(outside.url, JSON.stringify(ev('x')), 'application/json');
      expect(r.status).toBe(401);
      expect(r.json()).toEqual({ error: 'ERR_INGEST_UNAUTHORIZED', message: '127.0.0.1 is not in ingest_networks (10.0.0.0/8 192.168.0.0/16)' });
      // before the content type is looked at
      expect((await postEvents(outside.url, 'x', 'text/plain')).status).toBe(401);
      const w = await WsClient.refused(`${outside.ws}/v1/events/stream?ack=1`);
      expect(w.status).toBe(401);
      expect(JSON.parse(w.body).message).toContain('127.0.0.1');
    });

    it('answers /livez and /readyz to anyone', async () => {
      expect((await http(outside.url, '/livez')).status).toBe(200);
      expect((await http(outside.url, '/readyz')).status).toBe(200);
    });
  });

  describe('with ingest_token', () => {
    let tok: Running;
    beforeAll(async () => {
      tok = await start(transport, { ingest_token: 's3cret-T0ken' });
    });
    afterAll(async () => {
      await stop(tok);
    });

    it('needs Authorization: Bearer <token> to ingest over HTTP', async () => {
      const body = JSON.stringify(ev('token'));
      const none = await postEvents(tok.url, body, 'application/json');
      expect(none.status).toBe(401);
      expect(none.headers['www-authenticate']).toBe('Bearer realm="tallyd"');
      expect(none.json().error).toBe('ERR_INGEST_UNAUTHORIZED');
      expect(none.json().message).toContain('127.0.0.1');
      for (const auth of ['Bearer wrong', 'Bearer s3cret-T0ke', 'Basic czNjcmV0LVQwa2Vu', 's3cret-T0ken', 'Bearer s3cret-T0ken0']) {
        const r = await postEvents(tok.url, body, 'application/json', { authorization: auth });
        expect(r.status, auth).toBe(401);
      }
      const ok = await postEvents(tok.url, body, 'application/json', { authorization: 'Bearer s3cret-T0ken' });
      expect(ok.status).toBe(200);
      expect(ok.json().accepted).toBe(1);
      const lower = await postEvents(tok.url, body, 'application/json', { authorization: 'bearer s3cret-T0ken' });
      expect(lower.status).toBe(200);
      // a repeated Authorization header counts once, the first (node:http's rule, kept by the uWS server too)
      const firstOk = await http(tok.url, '/v1/events', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: ['Bearer s3cret-T0ken', 'Bearer wrong'] },
        body,
      });
      expect(firstOk.status).toBe(200);
      const firstBad = await http(tok.url, '/v1/events', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: ['Bearer wrong', 'Bearer s3cret-T0ken'] },
        body,
      });
      expect(firstBad.status).toBe(401);
      expect(await countOf(tok.url, 'token')).toBe(3);
      // refusals are counted; scraping needs no token
      const m = await http(tok.url, '/metrics');
      expect(m.status).toBe(200);
      expect(sample(m.text, 'tallyd_unauthorized_requests_total')).toBe(7);
    });

    it('needs the token for the WebSocket upgrade', async () => {
      const none = await WsClient.refused(`${tok.ws}/v1/events/stream`);
      expect(none.status).toBe(401);
      const wrong = await WsClient.refused(`${tok.ws}/v1/events/stream`, { authorization: 'Bearer nope' });
      expect(wrong.status).toBe(401);
      const c = await WsClient.open(`${tok.ws}/v1/events/stream?ack=1`, { authorization: 'Bearer s3cret-T0ken' });
      try {
        c.send(pack([ev('ws-token')]), true);
        expect(await c.waitFor(1)).toEqual([{ seq: 1, accepted: 1, rejected: 0, errors: [] }]);
      } finally {
        c.close();
      }
    });
  });

  describe('over IPv6 loopback', () => {
    const v6 = hasIpv6Loopback();
    let s6: Running | undefined;
    beforeAll(async () => {
      if (!v6) {
        console.warn('no IPv6 loopback (::1) on this machine: skipping the IPv6 access tests');
        return;
      }
      s6 = await start(transport, { listen: '[::1]:0', trusted_networks: '127.0.0.1', ingest_networks: '::1' });
    });
    afterAll(async () => {
      await stop(s6);
    });

    it.skipIf(!v6)('tells ::1 apart from 127.0.0.1 and names it', async () => {
      const s = s6 as Running;
      expect(s.port).toBeGreaterThan(0);
      expect(s.url).toMatch(/^http:\/\/\[::1\]:\d+$/);
      const m = await http(s.url, '/metrics');
      expect(m.status).toBe(401);
      expect(m.json().message).toBe('::1 is not in trusted_networks (127.0.0.1)');
      const r = await postEvents(s.url, pack([ev('v6')]), 'application/msgpack');
      expect(r.status).toBe(200);
      expect(r.json().accepted).toBe(1);
      const c = await WsClient.open(`${s.ws}/v1/events/stream?ack=1`);
      try {
        c.send(pack([ev('v6')]), true);
        expect((await c.waitFor(1))[0]).toMatchObject({ accepted: 1 });
      } finally {
        c.close();
      }
    });
  });
});

describe.each(TRANSPORTS)('backpressure over $name', (transport) => {
  let tiny: Running;
  beforeAll(async () => {
    tiny = await start(transport, { ring_bytes: '64k', shards: '1' });
  });
  afterAll(async () => {
    await stop(tiny);
  });

  /** A msgpack batch of `n` events of about 120 bytes each. */
  const batchOf = (id: string, n: number) => pack(Array.from({ length: n }, (_, i) => ev(id, { duration: i }, { pad: 'q'.repeat(80), n: i })));

  it('answers 503 with Retry-After when the rings are full, and counts exactly what it answered 200', async () => {
    const id = 'bp-http';
    const body = batchOf(id, 400); // ~50 KB: one batch fills the 64k ring
    expect(body.length).toBeGreaterThan(40_000);
    expect(body.length).toBeLessThan(60_000);
    let refused = 0;
    let accepted = 0;
    for (let round = 0; round < 6 && refused === 0; round++) {
      const replies = await Promise.all(Array.from({ length: 40 }, () => postEvents(tiny.url, body, 'application/msgpack')));
      for (const r of replies) {
        if (r.status === 503) {
          refused++;
          expect(r.statusText).toBe('Service Unavailable');
          expect(r.headers['retry-after']).toMatch(/^\d+$/);
          expect(r.json().error).toBe('ERR_INGEST_BUSY');
        } else {
          expect(r.status).toBe(200);
          expect(r.json()).toEqual({ accepted: 400, rejected: 0, errors: [] });
          accepted += 400;
        }
      }
    }
    expect(refused).toBeGreaterThan(0);
    expect(await countOf(tiny.url, id)).toBe(accepted);
    const m = await http(tiny.url, '/metrics');
    expect(sample(m.text, 'tallyd_backpressure_refusals_total')).toBeGreaterThanOrEqual(refused);
  });

  it('answers 413, not 503 forever, for a batch larger than a ring can ever hold', async () => {
    const big = batchOf('bp-big', 1000); // > 64k, < max_body_bytes
    expect(big.length).toBeGreaterThan(64 * 1024);
    const r = await postEvents(tiny.url, big, 'application/msgpack');
    expect(r.status).toBe(413);
    expect(r.json().message).toMatch(/ring_bytes/);
  });

  it('answers busy on a WebSocket when the rings stay full, and every message gets one answer', async () => {
    const id = 'bp-ws';
    const body = batchOf(id, 400);
    const n = 200;
    const c = await WsClient.open(`${tiny.ws}/v1/events/stream?ack=1`);
    try {
      for (let i = 0; i < n; i++) c.send(body, true);
      const replies = await c.waitFor(n, 45_000);
      expect(replies).toHaveLength(n);
      expect(replies.map((r) => r.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
      const busy = replies.filter((r) => r.busy === true);
      const acked = replies.filter((r) => r.busy !== true);
      expect(busy.length).toBeGreaterThan(0);
      for (const b of busy) expect(b.error).toBe('ERR_INGEST_BUSY');
      for (const a of acked) expect(a).toMatchObject({ accepted: 400, rejected: 0 });
      expect(await countOf(tiny.url, id)).toBe(acked.length * 400);
    } finally {
      c.close();
    }
  });

  it('closes a WebSocket whose message is over the limit and serves on', async () => {
    const c = await WsClient.open(`${tiny.ws}/v1/events/stream?ack=1`);
    c.send(Buffer.alloc(70 * 1024, 0x90), true);
    await c.waitFor(1, 10_000);
    // `ws` closes with 1009 (message too big); uWS drops the connection without a close frame
    expect(c.closed?.code).toBe(transport.name === 'uws' ? 1006 : 1009);
    expect(c.received).toBe(0);
    expect((await http(tiny.url, '/livez')).status).toBe(200);
  });
});

describe.each(TRANSPORTS)('dovecot style, reset and drain over $name', (transport) => {
  let aux: Running;
  beforeAll(async () => {
    aux = await start(transport, { openmetrics_style: 'dovecot', shards: '2' });
  });
  afterAll(async () => {
    await stop(aux);
  });

  it('scrapes in Dovecot style when openmetrics_style = dovecot', async () => {
    await postEvents(
      aux.url,
      JSON.stringify([
        { event: 'imap_command_finished', duration: 100, fields: { cmd_name: 'SELECT', tagged_reply_state: 'OK', net_in_bytes: 3 } },
        { event: 'imap_command_finished', duration: 300, fields: { cmd_name: 'SELECT', tagged_reply_state: 'OK', net_in_bytes: 4 } },
        { event: 'imap_command_finished', duration: 50, fields: { cmd_name: 'FETCH', tagged_reply_state: 'OK' } },
      ]),
      'application/json',
    );
    for (const accept of [undefined, PROMETHEUS_ACCEPT]) {
      const r = await http(aux.url, '/metrics', { headers: accept === undefined ? {} : { accept } });
      if (accept === undefined) {
        // text 0.0.4 stays text 0.0.4
        expect(r.headers['content-type']).toBe(CT_TEXT);
        continue;
      }
      expect(r.headers['content-type']).toBe(CT_OM_001);
      const t = r.text;
      expect(t.endsWith('# EOF\n')).toBe(true);
      // the root as _count and _duration_seconds_sum, intermediate levels printed too
      expect(sample(t, 'dovecot_imap_command_count')).toBe(3);
      expect(t).toMatch(/^dovecot_imap_command_duration_seconds_sum 0\.000450$/m);
      expect(sample(t, 'dovecot_imap_command_total', 'cmd_name="SELECT"')).toBe(2);
      expect(sample(t, 'dovecot_imap_command_total', 'cmd_name="SELECT",tagged_reply_state="OK"')).toBe(2);
      expect(t).toMatch(/^dovecot_imap_command_duration_seconds_total\{cmd_name="SELECT"\} 0\.000400$/m);
      expect(sample(t, 'dovecot_imap_command_net_in_bytes_sum')).toBe(7);
    }
  });

  it('dumps and zeroes in one step on POST ?reset=1, keeping the sub-metrics', async () => {
    const id = 'reset';
    await postEvents(aux.url, pack([ev(id, { duration: 5 }), ev(id, { duration: 7 }), ev(`${id}-b`)]), 'application/msgpack');
    const first = await http(aux.url, '/v1/stats/dump?fields=count+sum&reset=1', { method: 'POST' });
    expect(first.status).toBe(200);
    const d1 = parseDump(first.text);
    expect(d1.header).toEqual(['metric_name', 'field', 'count', 'sum']);
    expect(d1.rows.get(`by_test_${id} duration`)).toMatchObject({ count: '2', sum: '12' });
    expect(d1.rows.get(`by_test_${id}-b duration`)).toMatchObject({ count: '1' });
    const second = parseDump((await http(aux.url, '/v1/stats/dump?fields=count,sum')).text);
    expect([...second.rows.keys()]).toEqual([...d1.rows.keys()]);
    for (const row of second.rows.values()) expect([row.count, row.sum]).toEqual(['0', '0']);
    await postEvents(aux.url, pack([ev(id, { duration: 1 })]), 'application/msgpack');
    const third = parseDump((await http(aux.url, '/v1/stats/dump?fields=count,sum&reset=true', { method: 'POST' })).text);
    expect(third.rows.get(`by_test_${id} duration`)).toMatchObject({ count: '1', sum: '1' });
    expect(third.rows.get('by_test duration')).toMatchObject({ count: '1', sum: '1' });
  });

  it('answers /readyz 503 while draining, then closes the open WebSockets', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const get = (path: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request({ host: aux.host, port: aux.port, path, agent }, (res) => {
          let b = '';
          res.on('data', (d: Buffer) => (b += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
        });
        req.on('error', reject);
        req.end();
      });
    try {
      expect(await get('/readyz')).toEqual({ status: 200, body: 'ready\n' });
      const c = await WsClient.open(`${aux.ws}/v1/events/stream?ack=1`);
      c.send(pack([ev('drain')]), true);
      expect((await c.waitFor(1))[0]).toMatchObject({ accepted: 1 });
      const stopped = aux.server.stop((snap) => snap.counters.eventsAccepted);
      // the kept-alive connection still reaches the draining server
      expect(await get('/readyz')).toEqual({ status: 503, body: 'draining\n' });
      const accepted = await stopped;
      expect(accepted).toBeGreaterThanOrEqual(1);
      await c.waitFor(2, 10_000);
      expect(c.closed?.code).toBe(1001);
      await expect(http(aux.url, '/livez', { timeoutMs: 5000 })).rejects.toThrow();
    } finally {
      agent.destroy();
    }
  });
});
