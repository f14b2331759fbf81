import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, test } from 'vitest';
import { reasonCode, ServerLog } from '../../src/log/events.js';
import { LogLimiter } from '../../src/log/limit.js';

/** A real pino logger writing JSON lines into an array, and a clock the test moves. */
function setup(level = 'info') {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  const clock = { now: 0 };
  const log = new ServerLog(pino({ level }, sink), new LogLimiter(10_000, () => clock.now));
  return { lines, clock, log };
}

describe('ServerLog', () => {
  test('backpressure and shard restarts at warn, one line per window, then the count left out', () => {
    const { lines, clock, log } = setup();
    for (let i = 0; i < 50; i++) log.backpressure('http', '10.0.0.1', 'batch answered 503: every shard ring is full');
    log.backpressure('stats-writer', null, "stats-writer connection paused: shard 0's ring is full");
    for (let i = 0; i < 3; i++) log.shardRestart(1, new Error('boom'));
    expect(lines).toMatchObject([
      { level: 40, via: 'http', peer: '10.0.0.1', msg: 'batch answered 503: every shard ring is full' },
      { level: 40, via: 'stats-writer', msg: "stats-writer connection paused: shard 0's ring is full" },
      { level: 40, shard: 1, err: 'boom', msg: 'shard worker died; restarting it' },
    ]);
    expect(lines[0]).not.toHaveProperty('suppressed');
    clock.now = 10_000;
    log.backpressure('http', '10.0.0.2', 'batch answered 503: every shard ring is full');
    log.shardRestart(1, new Error('again'));
    expect(lines.slice(3)).toMatchObject([
      { level: 40, via: 'http', peer: '10.0.0.2', suppressed: 49, window_s: 10 },
      { level: 40, shard: 1, err: 'again', suppressed: 2, window_s: 10 },
    ]);
  });

  test('rejected batches: per peer and reason', () => {
    const { lines, log } = setup();
    for (const peer of ['10.0.0.1', '10.0.0.2']) {
      for (let i = 0; i < 5; i++) log.rejected(peer, 'websocket', 'missing_name', 'missing_name: key "event" is missing', { status: 200, events: 2, rejected: 1 });
      log.rejected(peer, 'http', 'ERR_INGEST_TOO_LARGE', 'the body exceeds max_body_bytes', { status: 413 });
    }
    expect(lines.map((l) => [l.peer, l.reason, l.msg])).toEqual([
      ['10.0.0.1', 'missing_name', 'events rejected'],
      ['10.0.0.1', 'ERR_INGEST_TOO_LARGE', 'batch rejected'],
      ['10.0.0.2', 'missing_name', 'events rejected'],
      ['10.0.0.2', 'ERR_INGEST_TOO_LARGE', 'batch rejected'],
    ]);
  });

  test('4xx answers only at debug; nothing counted against a window when the level is off', () => {
    const info = setup('info');
    info.log.clientError('127.0.0.1', 'GET', '/nope', 404, 'ERR_HTTP_NOT_FOUND', 'no route for /nope');
    expect(info.lines).toEqual([]);
    const debug = setup('debug');
    debug.log.clientError('127.0.0.1', 'GET', '/nope', 404, 'ERR_HTTP_NOT_FOUND', 'no route for /nope');
    expect(debug.lines).toMatchObject([{ level: 20, status: 404, path: '/nope', error: 'ERR_HTTP_NOT_FOUND', msg: 'request refused' }]);
    const error = setup('error');
    error.log.backpressure('http', null, 'x');
    if (error.log.logger !== undefined) error.log.logger.level = 'warn';
    error.log.backpressure('http', null, 'x');
    expect(error.lines).toMatchObject([{ level: 40, msg: 'x' }]);
    expect(error.lines[0]).not.toHaveProperty('suppressed');
  });

  test('reason codes of rejection details', () => {
    expect(reasonCode('missing_name: key "event" is missing')).toBe('missing_name');
    expect(reasonCode('rejected')).toBe('rejected');
  });
});
