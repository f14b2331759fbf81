/**
 * Hostile input (issue item 1) against both transports: every malformed
 * body gets a clear 4xx or a per-event rejection naming the reason, in
 * bounded time, and the server stays up with every earlier count intact;
 * malformed HTTP gets a 4xx or its connection closed. No prototype is
 * polluted on the way.
 */
import { Packr, pack } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countOf, ev, http, parseDump, postEvents, sample, start, stop, TRANSPORTS, WsClient, type Running } from '../server/helpers.js';
import { RawClient, until } from './helpers.js';

const CONFIG = `
metric by_test {
  filter = event=*
  group_by = test
}
metric users {
  filter = event=*
  group_by = user
}
`;

const MP = 'application/msgpack';
const JS = 'application/json';
const ND = 'application/x-ndjson';
const B = (...bytes: number[]): Buffer => Buffer.from(bytes);
const str = (s: string): Buffer => {
  const b = Buffer.from(s);
  return b.length < 32 ? Buffer.concat([B(0xa0 | b.length), b]) : Buffer.concat([B(0xd9, b.length), b]);
};
const bigPack = new Packr({ useRecords: false, variableMapSize: true });

/** An event map with `event: name` and the given extra key/value bytes. */
const eventWith = (name: string, extra: Buffer[] = [], pairs = 1): Buffer => Buffer.concat([B(0x80 | (1 + pairs)), str('event'), str(name), ...extra]);

interface Case {
  name: string;
  ct: string;
  body: Buffer | string;
  /** 400: whole batch refused, its message matching `message` */
  status: number;
  message?: RegExp;
  /** for 200: accepted count and the reasons of the rejected ones, in order */
  accepted?: number;
  reasons?: string[];
}

function cases(): Case[] {
  const manyFields: Record<string, number> = {};
  for (let i = 0; i < 5000; i++) manyFields[`f${i}`] = i;
  return [
    // msgpack that cannot be framed: 400, what and where
    { name: 'truncated msgpack', ct: MP, body: pack([ev('h')]).subarray(0, 9), status: 400, message: /runs past the end|ends inside/ },
    { name: 'a lone 0xc1', ct: MP, body: B(0xc1), status: 400, message: /0xc1 is never used.* at byte 0/ },
    { name: '0xc1 inside an event', ct: MP, body: Buffer.concat([B(0x91), eventWith('x', [str('d'), B(0xc1)])]), status: 400, message: /0xc1 .* at byte \d+/ },
    { name: 'ext type 5', ct: MP, body: B(0xd4, 0x05, 0x00), status: 400, message: /extension type 5/ },
    { name: 'ext32 claiming 4 GiB', ct: MP, body: B(0xc9, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00), status: 400, message: /runs past the end/ },
    { name: 'msgpackr records (not plain msgpack)', ct: MP, body: new Packr({ useRecords: true }).pack([ev('h'), ev('h')]), status: 400, message: /extension type 114/ },
    { name: 'msgpackr structured-clone set', ct: MP, body: B(0xc7, 0x01, 0x73, 0x90), status: 400, message: /extension type 115/ },
    { name: 'array32 claiming 4G values', ct: MP, body: B(0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0), status: 400, message: /array of 4294967295 values cannot fit/ },
    { name: 'map32 claiming 4G entries', ct: MP, body: B(0xdf, 0xff, 0xff, 0xff, 0xff), status: 400, message: /map of 4294967295 entries cannot fit/ },
    { name: 'str32 claiming 4 GiB', ct: MP, body: B(0xdb, 0xff, 0xff, 0xff, 0xff, 0x41), status: 400, message: /string of 4294967295 bytes runs past/ },
    { name: 'bin32 claiming 4 GiB', ct: MP, body: B(0xc6, 0xff, 0xff, 0xff, 0xff, 0x41), status: 400, message: /binary of 4294967295 bytes runs past/ },
    { name: 'arrays nested 200000 deep', ct: MP, body: Buffer.alloc(200_000, 0x91), status: 400, message: /nest deeper than 100 levels/ },
    { name: 'maps nested 100000 deep', ct: MP, body: Buffer.concat([...Array.from({ length: 100_000 }, () => B(0x81, 0xa1, 0x61)), B(0xc0)]), status: 400, message: /nest deeper/ },
    { name: 'a map as a map key', ct: MP, body: B(0x81, 0x81, 0xa1, 0x61, 0x01, 0x01), status: 400, message: /map key is not a string or a number/ },
    // msgpack events rejected one by one, with the reason
    { name: 'invalid UTF-8 in the name', ct: MP, body: Buffer.concat([B(0x91, 0x81), str('event'), B(0xa2, 0xff, 0xfe)]), status: 200, accepted: 0, reasons: ['invalid_name'] },
    { name: 'events that are not maps', ct: MP, body: pack([1, 'x', null, true, [1], 2.5, Buffer.from('bin')]), status: 200, accepted: 0, reasons: Array(7).fill('not_a_map') },
    { name: 'a timestamp as an event', ct: MP, body: B(0x91, 0xd6, 0xff, 0, 0, 0, 1), status: 200, accepted: 0, reasons: ['not_a_map'] },
    { name: 'integer keys only', ct: MP, body: B(0x91, 0x82, 0x01, 0xa1, 0x61, 0x02, 0xa1, 0x62), status: 200, accepted: 0, reasons: ['missing_name'] },
    { name: 'float64 NaN duration', ct: MP, body: pack([{ event: 'n', duration: Number.NaN }]), status: 200, accepted: 0, reasons: ['invalid_duration'] },
    { name: 'float64 Infinity field', ct: MP, body: pack([{ event: 'n', fields: { x: Number.POSITIVE_INFINITY } }]), status: 200, accepted: 0, reasons: ['invalid_field_value'] },
    {
      name: 'uint64 above 2^53 and negative int64 (finite: taken)',
      ct: MP,
      body: Buffer.concat([
        B(0x92),
        eventWith('big', [str('duration'), B(0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)], 1),
        eventWith('neg', [str('duration'), B(0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0)], 1),
      ]),
      status: 200,
      accepted: 2,
      reasons: [],
    },
    { name: '5000 fields', ct: MP, body: bigPack.pack([{ event: 'wide', fields: { ...manyFields, test: 'wide' } }]), status: 200, accepted: 1, reasons: [] },
    { name: 'a 512 KiB event name', ct: MP, body: pack([{ event: 'n'.repeat(512 * 1024) }]), status: 200, accepted: 1, reasons: [] },
    { name: 'a 512 KiB field name', ct: MP, body: pack([{ event: 'n', fields: { ['k'.repeat(512 * 1024)]: { nested: 1 } } }]), status: 200, accepted: 0, reasons: ['invalid_field_value'] },
    {
      name: '__proto__ and constructor keys',
      ct: MP,
      body: Buffer.concat([
        B(0x91, 0x83),
        str('event'),
        str('p'),
        str('__proto__'),
        B(0x81),
        str('polluted'),
        B(0xc3),
        str('fields'),
        B(0x82),
        str('__proto__'),
        B(0x81),
        str('user'),
        str('evil'),
        str('constructor'),
        B(0x81),
        str('prototype'),
        B(0x81),
        str('polluted'),
        B(0xc3),
      ]),
      status: 200,
      accepted: 0,
      reasons: ['invalid_field_value'],
    },
    { name: 'an empty msgpack body', ct: MP, body: '', status: 200, accepted: 0, reasons: [] },
    // JSON
    { name: 'an unclosed JSON nesting bomb', ct: JS, body: '['.repeat(512 * 1024), status: 400, message: /invalid JSON/ },
    { name: 'JSON arrays nested 100000 deep', ct: JS, body: '['.repeat(100_000) + ']'.repeat(100_000), status: 200, accepted: 0, reasons: ['not_a_map'] },
    { name: 'JSON objects nested 50000 deep', ct: JS, body: '{"a":'.repeat(50_000) + '1' + '}'.repeat(50_000), status: 200, accepted: 0, reasons: ['missing_name'] },
    {
      name: 'JSON __proto__ and constructor keys',
      ct: JS,
      body: '[{"event":"p","__proto__":{"polluted":true},"fields":{"constructor":{"prototype":{"polluted":true}}}},{"event":"p","fields":{"__proto__":"x","test":"json-proto"}}]',
      status: 200,
      accepted: 1,
      reasons: ['invalid_field_value'],
    },
    { name: 'JSON NaN (not JSON)', ct: JS, body: '{"event":"n","duration":NaN}', status: 400, message: /invalid JSON/ },
    { name: 'JSON huge and negative numbers', ct: JS, body: '[{"event":"h","duration":1e308},{"event":"h","duration":-5},{"event":"h","duration":1e400}]', status: 200, accepted: 2, reasons: ['invalid_duration'] },
    { name: 'an empty JSON body', ct: JS, body: '', status: 200, accepted: 0, reasons: [] },
    { name: 'a JSON scalar', ct: JS, body: '42', status: 200, accepted: 0, reasons: ['not_a_map'] },
    { name: 'invalid UTF-8 in JSON', ct: JS, body: Buffer.concat([Buffer.from('{"event":"'), B(0xff, 0xfe), Buffer.from('"}')]), status: 200, accepted: 0, reasons: ['invalid_name'] },
    // NDJSON
    {
      name: 'broken NDJSON lines',
      ct: ND,
      body: '{"event":"ok","fields":{"test":"nd"}}\n{bad\n\n[1,2]\n\u0000\n{"event":"ok","fields":{"test":"nd"}}\n{"event":',
      status: 200,
      accepted: 2,
      reasons: ['invalid_json', 'not_a_map', 'invalid_json', 'invalid_json'],
    },
    { name: 'an NDJSON line nested 100000 deep', ct: ND, body: '['.repeat(100_000) + ']'.repeat(100_000), status: 200, accepted: 0, reasons: ['not_a_map'] },
    { name: 'an empty NDJSON body', ct: ND, body: '\n\n\n', status: 200, accepted: 0, reasons: [] },
    // wrong content types and sizes
    { name: 'text/plain', ct: 'text/plain', body: '{}', status: 415, message: /content type "text\/plain"/ },
    { name: 'multipart', ct: 'multipart/form-data; boundary=x', body: '--x--', status: 415 },
    { name: 'a JSON-looking type', ct: 'application/json-patch+json', body: '[]', status: 415 },
    { name: 'a body over max_body_bytes', ct: MP, body: Buffer.alloc(1024 * 1024 + 1, 0xc0), status: 413, message: /max_body_bytes/ },
  ];
}

describe.each(TRANSPORTS)('hostile input over $name', (transport) => {
  let s: Running;
  let seeded: string;
  beforeAll(async () => {
    s = await start(transport, { shards: '2', max_body_bytes: '1M', request_timeout: '2s', idle_timeout: '2s' }, CONFIG);
    const r = await postEvents(s.url, pack(Array.from({ length: 5 }, () => ev('seed', {}, { user: 'u1' }))), MP);
    expect(r.json()).toMatchObject({ accepted: 5 });
    seeded = (await http(s.url, '/v1/stats/dump?fields=count,sum')).text;
  });
  afterAll(() => stop(s));

  it('answers every malformed body with a clear 4xx or per-event reasons, in bounded time', async () => {
    const all = cases();
    const tally: Record<number, number> = {};
    for (const c of all) tally[c.status] = (tally[c.status] ?? 0) + 1;
    console.log(`[hardening] ${transport.name} hostile bodies: ${all.length} (${Object.entries(tally).map(([k, v]) => `${v} → ${k}`).join(', ')})`);
    for (const c of all) {
      const r = await postEvents(s.url, c.body, c.ct, {}).catch((e: Error) => {
        throw new Error(`${c.name}: ${e.message}`);
      });
      expect(r.status, c.name).toBe(c.status);
      if (c.status !== 200) {
        const body = r.json();
        expect(body.error, c.name).toMatch(/^ERR_/);
        if (c.message !== undefined) expect(body.message, c.name).toMatch(c.message);
        // an error never echoes a large body back
        expect(r.body.length, c.name).toBeLessThan(2048);
        continue;
      }
      const o = r.json();
      expect(o.accepted, c.name).toBe(c.accepted);
      expect(o.errors.map((e: { reason: string }) => e.reason.split(':')[0]), c.name).toEqual(c.reasons);
      expect(r.body.length, `${c.name}: the answer stays small`).toBeLessThan(4096);
    }
  });

  it('answers malformed HTTP with a 4xx or by closing the connection, and serves on', async () => {
    const requests = [
      `GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(100_000)}\r\n\r\n`,
      `POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{}`,
      `POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: -5\r\n\r\n{}`,
      `POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 99999999999999999999\r\n\r\n{}`,
      `POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
      `POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n{}`,
      `GET /livez\0x HTTP/1.1\r\nHost: x\r\n\r\n`,
      `\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03${'x'.repeat(100)}\r\n\r\n`,
      `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`,
      `FOOBAR /livez HTTP/1.1\r\nHost: x\r\n\r\n`,
      `GET /v1/metrics/%E0%A4%A HTTP/1.1\r\nHost: x\r\n\r\n`,
    ];
    const clients = requests.map((req) => {
      const c = new RawClient(s.port);
      // the request, then end of input: a server waiting for more bytes sees there are none
      c.socket.end(req);
      return c;
    });
    // each is answered or closed (one still waiting for bytes is ended by request_timeout / idle_timeout)
    await until(() => clients.every((c) => c.closed || /^HTTP\/1\.1 \d{3}/.test(c.statusLine)), 30_000, 'an answer or a close for every malformed request');
    for (const [i, c] of clients.entries()) {
      if (c.statusLine !== '') expect(c.statusLine, requests[i]?.slice(0, 60)).toMatch(/^HTTP\/1\.1 (2\d\d|4\d\d) /);
      c.destroy();
    }
    expect((await http(s.url, '/livez')).status).toBe(200);
  });

  it('answers hostile WebSocket messages one by one, and a connection that breaks the protocol is closed', async () => {
    const c = await WsClient.open(`${s.ws}/v1/events/stream?ack=1`);
    try {
      c.send(B(0xc1), true);
      c.send(B(0xdd, 0xff, 0xff, 0xff, 0xff), true);
      c.send(Buffer.alloc(50_000, 0x91), true);
      c.send(new Packr({ useRecords: true }).pack([ev('r')]), true);
      c.send('['.repeat(100_000), false);
      c.send(pack([{ event: 'n', duration: Number.NaN }, ev('ws-ok')]), true);
      const r = await c.waitFor(6);
      expect(r.map((x) => x.seq)).toEqual([1, 2, 3, 4, 5, 6]);
      for (const x of r.slice(0, 5)) expect(x.error).toBe('ERR_INGEST_FRAMING');
      expect(r[5]).toMatchObject({ accepted: 1, rejected: 1 });
      expect(r[5].errors[0].reason).toMatch(/^invalid_duration/);
    } finally {
      c.close();
    }
    // invalid UTF-8 in a text frame breaks the WebSocket protocol: the server closes that connection only
    const bad = await WsClient.open(`${s.ws}/v1/events/stream?ack=1`);
    bad.socket.send(B(0x7b, 0xff, 0xfe, 0x7d), { binary: false });
    await until(() => bad.closed !== null, 10_000, 'the server to close a WebSocket sending invalid UTF-8 text');
    expect((await http(s.url, '/livez')).status).toBe(200);
  });

  it('keeps every earlier count, and no prototype was polluted', async () => {
    const now = parseDump((await http(s.url, '/v1/stats/dump?fields=count,sum')).text);
    const before = parseDump(seeded);
    for (const key of ['by_test_seed duration', 'users_u1 duration']) expect(now.rows.get(key), key).toEqual(before.rows.get(key));
    // what the hostile cases accepted landed where it should, and nothing more
    expect(await countOf(s.url, 'nd')).toBe(2);
    expect(await countOf(s.url, 'json-proto')).toBe(1);
    expect(await countOf(s.url, 'wide')).toBe(1);
    const m = await http(s.url, '/metrics');
    expect(m.status).toBe(200);
    expect(sample(m.text, 'tallyd_events_rejected_total', 'reason="not_a_map"')).toBeGreaterThanOrEqual(11);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).user).toBeUndefined();
    expect(Object.keys(Object.prototype)).toEqual([]);
    expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('polluted');
  });
});
