/**
 * Access (issue item 6): trusted_networks and ingest_networks with IPv4,
 * IPv6 and IPv4-mapped IPv6 peers, as unit tests of the matcher and over
 * real sockets on both transports; the ingest token on every ingest route,
 * the WebSocket upgrade included.
 */
import { pack } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { displayPeer, NetworkList } from '../../src/server/access.js';
import { ev, hasIpv6Loopback, http, postEvents, start, stop, TRANSPORTS, WsClient, type Running } from '../server/helpers.js';

describe('NetworkList', () => {
  const cases: [string[], string, boolean][] = [
    // IPv4 lists
    [['127.0.0.1', '::1'], '127.0.0.1', true],
    [['127.0.0.1', '::1'], '127.0.0.2', false],
    [['127.0.0.1', '::1'], '::ffff:127.0.0.1', true],
    [['127.0.0.1', '::1'], '::ffff:7f00:1', true],
    // uWebSockets.js prints peers fully expanded
    [['127.0.0.1', '::1'], '0000:0000:0000:0000:0000:ffff:7f00:0001', true],
    [['127.0.0.1', '::1'], '0000:0000:0000:0000:0000:0000:0000:0001', true],
    [['127.0.0.1', '::1'], '0000:0000:0000:0000:0000:ffff:7f00:0002', false],
    [['127.0.0.1', '::1'], '::ffff:127.0.0.2', false],
    [['127.0.0.1', '::1'], '::2', false],
    [['127.0.0.1', '::1'], '[::1]', true],
    [['10.0.0.0/8'], '::ffff:10.1.2.3', true],
    [['10.0.0.0/8'], '10.255.255.255', true],
    [['10.0.0.0/8'], '::ffff:11.0.0.1', false],
    // IPv4-compatible (deprecated), not IPv4-mapped: the IPv6 address ::a01:203, as node prints it
    [['10.0.0.0/8'], '::10.1.2.3', false],
    [['::a01:203'], '::10.1.2.3', true],
    [['::10.1.2.3'], '::a01:203', true],
    [['::10.0.0.0/104'], '10.1.2.3', false],
    [['127.0.0.1'], '::ffff:127.0.0.256', false],
    [['0.0.0.0/0'], '::ffff:192.0.2.1', true],
    [['0.0.0.0/0'], '::1', false],
    // IPv6 lists
    [['::1'], '127.0.0.1', false],
    [['fd00::/8'], 'fd12:3456::1', true],
    [['fd00::/8'], 'fe80::1', false],
    [['fe80::/10'], 'fe80::1%eth0', true],
    [['::/0'], '2001:db8::1', true],
    // a mapped peer is its IPv4 address: ::/0 is every IPv6 address, not every peer
    [['::/0'], '::ffff:127.0.0.1', false],
    // IPv4-mapped entries match IPv4 peers, mapped or not
    [['::ffff:0:0/96'], '127.0.0.1', true],
    [['::ffff:0:0/96'], '::ffff:203.0.113.9', true],
    [['::ffff:0:0/96'], '::1', false],
    [['::ffff:10.0.0.0/104'], '10.9.9.9', true],
    [['::ffff:10.0.0.0/104'], '::ffff:10.9.9.9', true],
    [['::ffff:10.0.0.0/104'], '11.9.9.9', false],
    [['::ffff:127.0.0.1'], '127.0.0.1', true],
    // not addresses at all
    [['127.0.0.1', '::1'], '', false],
    [['127.0.0.1', '::1'], 'localhost', false],
    [['127.0.0.1', '::1'], '127.0.0.1:80', false],
    [['0.0.0.0/0', '::/0'], 'not an address', false],
  ];
  it.each(cases)('%j allows %s: %s', (list, peer, allowed) => {
    expect(new NetworkList(list).allows(peer)).toBe(allowed);
  });

  it('shows a mapped or expanded peer as its short form', () => {
    expect(displayPeer('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(displayPeer('0000:0000:0000:0000:0000:ffff:7f00:0001')).toBe('127.0.0.1');
    expect(displayPeer('0000:0000:0000:0000:0000:0000:0000:0001')).toBe('::1');
    expect(displayPeer('garbage')).toBe('garbage');
  });
});

const TOKEN = 'T0k-en_for.tests';

/** Every route that is not public, with the access it needs. */
const TRUSTED_ROUTES: [string, string][] = [
  ['GET', '/'],
  ['HEAD', '/'],
  ['GET', '/metrics'],
  ['HEAD', '/metrics'],
  ['GET', '/metrics.json'],
  ['GET', '/v1/stats/dump'],
  ['POST', '/v1/stats/dump?reset=1'],
  ['GET', '/v1/metrics'],
  ['POST', '/v1/metrics'],
  ['DELETE', '/v1/metrics/by_test'],
];

function body(method: string, path: string) {
  return method === 'POST' && path === '/v1/metrics' ? { body: '{"name":"x","filter":"event=x"}', headers: { 'content-type': 'application/json' } } : {};
}

describe.each(TRANSPORTS)('access over real sockets, $name', (transport) => {
  describe('IPv4 peer outside both lists, token set', () => {
    let s: Running;
    beforeAll(async () => {
      s = await start(transport, { trusted_networks: '10.0.0.0/8 ::1', ingest_networks: '192.168.0.0/16', ingest_token: TOKEN });
    });
    afterAll(() => stop(s));

    it('answers 401 on every trusted route, HEAD included, naming 127.0.0.1', async () => {
      for (const [method, path] of TRUSTED_ROUTES) {
        const r = await http(s.url, path, { method, ...body(method, path) });
        expect(r.status, `${method} ${path}`).toBe(401);
        if (method !== 'HEAD') expect(r.json().message).toBe('127.0.0.1 is not in trusted_networks (10.0.0.0/8 ::1)');
      }
    });

    it('answers 401 to ingest even with the right token, and refuses the upgrade', async () => {
      for (const ct of ['application/msgpack', 'application/json', 'application/x-ndjson']) {
        const r = await postEvents(s.url, JSON.stringify(ev('x')), ct, { authorization: `Bearer ${TOKEN}` });
        expect(r.status, ct).toBe(401);
        expect(r.json().message).toBe('127.0.0.1 is not in ingest_networks (192.168.0.0/16)');
      }
      const w = await WsClient.refused(`${s.ws}/v1/events/stream?ack=1`, { authorization: `Bearer ${TOKEN}` });
      expect(w.status).toBe(401);
      expect(JSON.parse(w.body).message).toContain('127.0.0.1');
    });

    it('still answers /livez and /readyz', async () => {
      expect((await http(s.url, '/livez')).status).toBe(200);
      expect((await http(s.url, '/readyz')).status).toBe(200);
    });
  });

  describe('the token on every ingest route', () => {
    let s: Running;
    beforeAll(async () => {
      s = await start(transport, { ingest_token: TOKEN });
    });
    afterAll(() => stop(s));

    it('POST /v1/events in every format needs it; trusted routes do not', async () => {
      const bodies: [string, string | Buffer][] = [
        ['application/msgpack', pack([ev('tok')])],
        ['application/x-msgpack', pack([ev('tok')])],
        ['application/vnd.msgpack', pack([ev('tok')])],
        ['application/json', JSON.stringify(ev('tok'))],
        ['application/x-ndjson', JSON.stringify(ev('tok')) + '\n'],
      ];
      for (const [ct, b] of bodies) {
        for (const auth of [undefined, '', 'Bearer', 'Bearer ', `Bearer ${TOKEN.slice(1)}`, `Bearer ${TOKEN}x`, `Token ${TOKEN}`, TOKEN]) {
          const r = await postEvents(s.url, b, ct, auth === undefined ? {} : { authorization: auth });
          expect(r.status, `${ct} ${JSON.stringify(auth)}`).toBe(401);
          expect(r.json().error).toBe('ERR_INGEST_UNAUTHORIZED');
        }
        const ok = await postEvents(s.url, b, ct, { authorization: `Bearer ${TOKEN}` });
        expect(ok.status, ct).toBe(200);
        expect(ok.json().accepted).toBe(1);
      }
      // the token in the query string is not a token
      const q = await http(s.url, `/v1/events?token=${TOKEN}&access_token=${TOKEN}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(ev('tok')),
      });
      expect(q.status).toBe(401);
      for (const [method, path] of TRUSTED_ROUTES) {
        expect((await http(s.url, path, { method, ...body(method, path) })).status, `${method} ${path}`).toBeLessThan(400);
      }
    });

    it('the WebSocket upgrade needs it, in the Authorization header', async () => {
      for (const auth of [undefined, 'Bearer wrong', TOKEN]) {
        const w = await WsClient.refused(`${s.ws}/v1/events/stream?ack=1`, auth === undefined ? {} : { authorization: auth });
        expect(w.status, String(auth)).toBe(401);
      }
      expect((await WsClient.refused(`${s.ws}/v1/events/stream?ack=1&token=${TOKEN}`)).status).toBe(401);
      const c = await WsClient.open(`${s.ws}/v1/events/stream?ack=1`, { authorization: `Bearer ${TOKEN}` });
      try {
        c.send(pack([ev('tok-ws')]), true);
        expect((await c.waitFor(1))[0]).toMatchObject({ seq: 1, accepted: 1 });
      } finally {
        c.close();
      }
    });
  });

  describe('IPv4-mapped IPv6 peer (dual-stack socket on ::ffff:127.0.0.1, reached via 127.0.0.1)', () => {
    let allowed: Running;
    let denied: Running;
    beforeAll(async () => {
      // an IPv6 socket bound to the mapped loopback address: loopback only, and every peer is ::ffff:127.0.0.1
      allowed = await start(transport, { listen: '[::ffff:127.0.0.1]:0', trusted_networks: '127.0.0.1', ingest_networks: '::ffff:127.0.0.0/104' });
      denied = await start(transport, { listen: '[::ffff:127.0.0.1]:0', trusted_networks: '::1', ingest_networks: '::1 10.0.0.0/8' });
    });
    afterAll(async () => {
      await stop(allowed);
      await stop(denied);
    });
    const v4 = (r: Running) => `http://127.0.0.1:${r.port}`;

    it('matches the mapped peer as 127.0.0.1, in IPv4 and in mapped list entries', async () => {
      expect((await http(v4(allowed), '/metrics')).status).toBe(200);
      const r = await postEvents(v4(allowed), pack([ev('mapped')]), 'application/msgpack');
      expect(r.status).toBe(200);
      expect(r.json().accepted).toBe(1);
      const c = await WsClient.open(`ws://127.0.0.1:${allowed.port}/v1/events/stream?ack=1`);
      try {
        c.send(pack([ev('mapped-ws')]), true);
        expect((await c.waitFor(1))[0]).toMatchObject({ accepted: 1 });
      } finally {
        c.close();
      }
    });

    it('refuses it where the lists hold only IPv6 and other networks, naming 127.0.0.1', async () => {
      const m = await http(v4(denied), '/metrics');
      expect(m.status).toBe(401);
      expect(m.json().message).toBe('127.0.0.1 is not in trusted_networks (::1)');
      const r = await postEvents(v4(denied), pack([ev('mapped')]), 'application/msgpack');
      expect(r.status).toBe(401);
      expect(r.json().message).toBe('127.0.0.1 is not in ingest_networks (::1 10.0.0.0/8)');
      expect((await WsClient.refused(`ws://127.0.0.1:${denied.port}/v1/events/stream`)).status).toBe(401);
    });
  });

  describe('IPv6 peer ::1', () => {
    const v6 = hasIpv6Loopback();
    let s: Running | undefined;
    beforeAll(async () => {
      if (!v6) {
        console.warn('no IPv6 loopback (::1) on this machine: skipping the IPv6 access tests');
        return;
      }
      s = await start(transport, { listen: '[::1]:0', trusted_networks: '127.0.0.1 ::ffff:0:0/96', ingest_networks: '::1/128' });
    });
    afterAll(() => stop(s));

    it.skipIf(!v6)('is not an IPv4 peer: trusted routes refused, ingest allowed', async () => {
      const r = s as Running;
      for (const [method, path] of TRUSTED_ROUTES) {
        const a = await http(r.url, path, { method, ...body(method, path) });
        expect(a.status, `${method} ${path}`).toBe(401);
        if (method !== 'HEAD') expect(a.json().message).toBe('::1 is not in trusted_networks (127.0.0.1 ::ffff:0:0/96)');
      }
      expect((await postEvents(r.url, pack([ev('v6')]), 'application/msgpack')).status).toBe(200);
      const c = await WsClient.open(`${r.ws}/v1/events/stream?ack=1`);
      try {
        c.send(pack([ev('v6')]), true);
        expect((await c.waitFor(1))[0]).toMatchObject({ accepted: 1 });
      } finally {
        c.close();
      }
    });
  });
});
