/**
 * Connections (issue item 2), run against each transport by
 * connections.*.test.ts: hundreds of idle connections, headers and bodies
 * dribbled, partial WebSocket frames, clients that never read their answers
 * and a client pipelining without reading, all at once, while a well-behaved
 * client keeps sending and scraping. Nothing of it may block the good
 * client; each bad one is closed within a bounded wait; the limits are the
 * settings (small here so that the test is short).
 */
import { pack } from 'msgpackr';
import { expect } from 'vitest';
import { countOf, ev, http, postEvents, sample, sleep, start, stop, WsClient, type Running, type Transport } from '../server/helpers.js';
import { openMany, RawClient, until, wsFrame, wsHandshake } from './helpers.js';

export const LIMITS = {
  request_timeout: '2s',
  idle_timeout: '2s',
  ws_idle_timeout: '8s',
  ws_max_backpressure: '64k',
  max_websockets: '40',
};

/** uWebSockets.js closes HTTP connections idle (or still sending their headers) for 10 s itself. */
const UWS_HTTP_IDLE_MS = 10_000;

export interface ScenarioFigures {
  idle: number;
  headerDribblers: number;
  bodyDribblers: number;
  partialFrames: number;
  goodRequests: number;
}

export async function connectionScenario(transport: Transport): Promise<ScenarioFigures> {
  const s = await start(transport, { shards: '1', ...LIMITS });
  const uws = transport.name === 'uws';
  const timers: NodeJS.Timeout[] = [];
  try {
    const t0 = Date.now();
    // -- the bad clients -------------------------------------------------
    const idle = await openMany(300, s.port);
    const headerDribblers = await openMany(20, s.port);
    for (const c of headerDribblers) c.write('GET /livez HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    const bodyDribblers = await openMany(20, s.port);
    for (const c of bodyDribblers) c.write('POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n[');
    timers.push(
      setInterval(() => {
        for (const c of headerDribblers) c.write('a');
        for (const c of bodyDribblers) c.write(' ');
      }, 300),
    );
    const partial = await openMany(10, s.port);
    for (const c of partial) c.write(wsHandshake('/v1/events/stream?ack=1'));
    await until(() => partial.every((c) => c.statusLine.startsWith('HTTP/1.1 101')), 10_000, 'the partial-frame clients to be upgraded');
    // a frame header announcing 4096 payload bytes, then one byte of it, then nothing
    for (const c of partial) c.write(wsFrame(Buffer.alloc(4096)).subarray(0, 9));

    // an HTTP client pipelining scrapes and never reading an answer
    const pipeliner = new RawClient(s.port);
    await pipeliner.ready();
    pipeliner.socket.pause();
    pipeliner.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(2000));

    // a WebSocket client sending batches whose acks are large, never reading them
    const nonReader = new RawClient(s.port);
    nonReader.write(wsHandshake('/v1/events/stream?ack=1'));
    await until(() => nonReader.statusLine.startsWith('HTTP/1.1 101'), 10_000, 'the non-reading WebSocket to be upgraded');
    nonReader.socket.pause();
    const fat = wsFrame(pack(Array.from({ length: 10 }, () => ({ event: 'fat', fields: { ['k'.repeat(64)]: { nested: true } } }))));
    const wsOpenBefore = () => s.server.app.counters.wsConnections;
    let fatSent = 0;
    timers.push(
      setInterval(() => {
        if (nonReader.closed || fatSent >= 200_000) return;
        for (let i = 0; i < 200; i++) nonReader.write(fat);
        fatSent += 200;
      }, 5),
    );

    // a live WebSocket client that is idle: it answers pings, so it stays
    const live = await WsClient.open(`${s.ws}/v1/events/stream?ack=1`);

    // -- the good client, all along ----------------------------------------
    let good = 0;
    let goodAccepted = 0;
    let stopGood = false;
    const goodLoop = (async () => {
      while (!stopGood) {
        const r = await postEvents(s.url, pack([ev('good')]), 'application/msgpack');
        expect(r.status, 'a good client is served while the bad ones hang on').toBe(200);
        goodAccepted += r.json().accepted as number;
        expect((await http(s.url, '/livez')).status).toBe(200);
        good++;
        await sleep(50);
      }
    })();

    // -- every bad client is closed, within bounded waits ------------------
    const idleBound = (uws ? UWS_HTTP_IDLE_MS : 2000) + 20_000;
    await until(() => idle.every((c) => c.closed), idleBound, 'the idle connections to be closed');
    await until(() => headerDribblers.every((c) => c.closed), idleBound, 'the header dribblers to be closed');
    await until(() => bodyDribblers.every((c) => c.closed), 20_000, 'the body dribblers to be closed');
    // the bodies are answered 408 on both transports (request_timeout)
    for (const c of bodyDribblers) expect(c.statusLine).toBe('HTTP/1.1 408 Request Timeout');
    // node:http answers late headers 408 too; uWS closes without an answer
    if (!uws) for (const c of headerDribblers) expect(c.statusLine).toBe('HTTP/1.1 408 Request Timeout');
    await until(() => partial.every((c) => c.closed), 30_000, 'the partial-frame WebSockets to be closed');
    // the non-reading WebSocket is closed by the server (the paused client itself may not notice)
    await until(() => s.server.app.counters.closed.unread_answers >= 1, 30_000, 'the non-reading WebSocket to be closed');
    await until(() => wsOpenBefore() === 1, 30_000, 'only the live WebSocket to stay open');

    // the live idle WebSocket outlived ws_idle_timeout (8 s) by answering pings
    await until(() => Date.now() - t0 > 13_000, 20_000, 'time past the WebSocket idle timeout');
    expect(live.closed).toBeNull();
    live.send(pack([ev('live')]), true);
    expect((await live.waitFor(1))[0]).toMatchObject({ seq: 1, accepted: 1 });
    live.close();

    stopGood = true;
    await goodLoop;
    expect(good).toBeGreaterThan(10);
    expect(await countOf(s.url, 'good')).toBe(goodAccepted);
    expect(await countOf(s.url, 'live')).toBe(1);

    const m = (await http(s.url, '/metrics')).text;
    const closed = (reason: string) => sample(m, 'tallyd_connections_closed_total', `reason="${reason}"`) ?? 0;
    expect(closed('request_timeout')).toBeGreaterThanOrEqual(uws ? 20 : 40);
    expect(closed('unread_answers')).toBeGreaterThanOrEqual(1);
    if (!uws) {
      expect(closed('idle')).toBeGreaterThanOrEqual(300);
      expect(closed('websocket_idle')).toBeGreaterThanOrEqual(10);
      expect(closed('pipelining')).toBeGreaterThanOrEqual(1);
    }
    pipeliner.destroy();
    nonReader.destroy();
    console.log(
      `[hardening] ${transport.name} connections: 300 idle, 20 header and 20 body dribblers, 10 partial frames, 1 pipeliner, 1 non-reading WebSocket all closed; ${good} good requests served meanwhile; closed by tallyd: ${['request_timeout', 'idle', 'unread_answers', 'websocket_idle', 'pipelining'].map((r) => `${r} ${closed(r)}`).join(', ')}`,
    );
    return { idle: idle.length, headerDribblers: headerDribblers.length, bodyDribblers: bodyDribblers.length, partialFrames: partial.length, goodRequests: good };
  } finally {
    for (const t of timers) clearInterval(t);
    await stop(s);
  }
}

/** max_websockets: refused beyond the limit with 503, and a handshake that fails does not hold a place. */
export async function websocketLimit(transport: Transport): Promise<void> {
  const s: Running = await start(transport, { shards: '1', max_websockets: '5' });
  try {
    // handshakes that fail before the upgrade completes leave no open session behind
    const broken = await openMany(10, s.port);
    for (const c of broken) c.socket.end('GET /v1/events/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n');
    await until(() => broken.every((c) => c.closed), 15_000, 'the broken handshakes to end');
    await until(() => s.server.app.counters.wsConnections === 0, 20_000, 'no WebSocket counted for the broken handshakes');

    const open: WsClient[] = [];
    for (let i = 0; i < 5; i++) open.push(await WsClient.open(`${s.ws}/v1/events/stream?ack=1`));
    const refused = await WsClient.refused(`${s.ws}/v1/events/stream?ack=1`);
    expect(refused.status).toBe(503);
    expect(JSON.parse(refused.body)).toMatchObject({ error: 'ERR_INGEST_BUSY' });
    expect(JSON.parse(refused.body).message).toContain('max_websockets');
    // HTTP ingest is not limited by it
    expect((await postEvents(s.url, pack([ev('ws-limit')]), 'application/msgpack')).status).toBe(200);
    for (const c of open.splice(0, 2)) c.close();
    await until(() => s.server.app.counters.wsConnections === 3, 20_000, 'the closed WebSockets to free their places');
    for (let i = 0; i < 2; i++) open.push(await WsClient.open(`${s.ws}/v1/events/stream?ack=1`));
    for (const c of open) {
      c.send(pack([ev('ws-limit')]), true);
      expect((await c.waitFor(1))[0]).toMatchObject({ accepted: 1 });
    }
    const m = (await http(s.url, '/metrics')).text;
    expect(sample(m, 'tallyd_websocket_refusals_total')).toBe(1);
    expect(sample(m, 'tallyd_websocket_connections')).toBe(5);
    for (const c of open) c.close();
    expect(await countOf(s.url, 'ws-limit')).toBe(6);
  } finally {
    await stop(s);
  }
}

/** A slow client that keeps making progress within request_timeout is served. */
export async function slowButFine(transport: Transport): Promise<void> {
  const s = await start(transport, { shards: '1', request_timeout: '5s' });
  try {
    const body = JSON.stringify(Array.from({ length: 50 }, () => ev('slow-ok')));
    const c = new RawClient(s.port);
    await c.ready();
    c.write(`POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`);
    const step = Math.ceil(body.length / 10);
    for (let i = 0; i < body.length; i += step) {
      c.write(body.slice(i, i + step));
      await sleep(100);
    }
    await until(() => c.received.includes('\r\n\r\n{'), 10_000, 'the answer to the slow body');
    expect(c.statusLine).toBe('HTTP/1.1 200 OK');
    expect(c.received).toContain('"accepted":50');
    c.destroy();
  } finally {
    await stop(s);
  }
}

/**
 * node:http: a client that asks for a large answer and never reads it is
 * closed after idle_timeout once the socket buffers are full (counted as
 * unread_answers). (uWS closes such a connection itself after 10 s.)
 */
export async function unreadAnswer(transport: Transport): Promise<void> {
  const config = 'max_sub_metrics = 50000\nmetric users {\n  filter = event=*\n  group_by = user\n}\n';
  const s = await start(transport, { shards: '1', idle_timeout: '1s', max_body_bytes: '4M' }, config);
  try {
    for (let b = 0; b < 4; b++) {
      const events = Array.from({ length: 10_000 }, (_, i) => ({ event: 'x', fields: { user: `user-${b}-${i}-${'p'.repeat(40)}` } }));
      expect((await postEvents(s.url, pack(events), 'application/msgpack')).status).toBe(200);
    }
    const full = (await http(s.url, '/metrics')).body.length;
    // more than the loopback socket buffers hold
    expect(full).toBeGreaterThan(6 * 1024 * 1024);
    const c = new RawClient(s.port);
    await c.ready();
    c.socket.pause();
    c.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => s.server.app.counters.closed.unread_answers >= 1, 30_000, 'the server to close the connection whose answer is not read');
    let got = 0;
    c.socket.on('data', (d: Buffer) => (got += d.length));
    c.socket.resume();
    await until(() => c.closed, 10_000, 'the client to see the close');
    expect(got).toBeLessThan(full);
    expect((await http(s.url, '/livez')).status).toBe(200);
  } finally {
    await stop(s);
  }
}

/**
 * node:http: a connection that never sends a byte is idle, however it is
 * timed out. node:http's own headers check (request_timeout) reaches it too,
 * before idle_timeout when that is longer: it is closed without an answer
 * and counted `idle`, not answered 408 as a request that came too slowly.
 */
export async function silentConnection(transport: Transport): Promise<void> {
  const s = await start(transport, { shards: '1', request_timeout: '1s', idle_timeout: '60s' });
  try {
    const silent = await openMany(5, s.port);
    const slow = new RawClient(s.port);
    await slow.ready();
    slow.write('GET /livez HTTP/1.1\r\nHost: x\r\n');
    await until(() => silent.every((c) => c.closed) && slow.closed, 20_000, 'the silent and the slow connection to be closed');
    for (const c of silent) expect(c.received).toBe('');
    expect(slow.statusLine).toBe('HTTP/1.1 408 Request Timeout');
    const m = (await http(s.url, '/metrics')).text;
    expect(sample(m, 'tallyd_connections_closed_total', 'reason="idle"')).toBe(5);
    expect(sample(m, 'tallyd_connections_closed_total', 'reason="request_timeout"')).toBe(1);
  } finally {
    await stop(s);
  }
}
