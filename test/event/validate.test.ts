import { pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/index.js';
import { Engine } from '../../src/engine/engine.js';
import { FORMAT_JSON, FORMAT_MSGPACK, FORMAT_NDJSON, formatOfContentType, frameBatch } from '../../src/event/decode.js';

const cfg = parseConfigText('metric m {\n filter = event=*\n fields = size\n group_by = duration:linear:0:100:50\n}', 't.conf');

describe('event validation (docs/contract.md §2.1, 2.3)', () => {
  it('rejects each bad event on its own, with its index and reason, and keeps its neighbours', () => {
    const e = new Engine(cfg);
    const r = e.ingest([
      { event: 'ok', duration: 1 },
      'not a map',
      [1, 2],
      { duration: 5 },
      { event: 42 },
      { event: 'bad\uFFFDname' },
      { event: 'x', duration: Number.NaN },
      { event: 'x', fields: { size: Number.POSITIVE_INFINITY } },
      { event: 'x', fields: { nested: { a: 1 } } },
      { event: 'x', fields: { list: ['a', 2] } },
      { event: 'x', fields: [1] },
      { event: 'x', categories: 'imap' },
      { name: 'alias', duration: 2 },
    ]);
    expect(r.accepted).toBe(2);
    expect(r.rejected).toBe(11);
    expect(r.errors.map((x) => [x.index, x.reason.split(':')[0]])).toEqual([
      [1, 'not_a_map'],
      [2, 'not_a_map'],
      [3, 'missing_name'],
      [4, 'invalid_name'],
      [5, 'invalid_name'],
      [6, 'invalid_duration'],
      [7, 'invalid_field_value'],
      [8, 'invalid_field_value'],
      [9, 'invalid_field_value'],
      [10, 'invalid_fields'],
    ]);
    expect(r.errors[6]?.reason).toContain('"size"');
    const c = e.snapshot('basic').counters;
    expect(c.eventsRejected).toEqual({
      not_a_map: 2,
      missing_name: 1,
      invalid_name: 2,
      invalid_duration: 1,
      invalid_field_value: 3,
      invalid_fields: 1,
      invalid_categories: 1,
    });
  });

  it('reports at most 10 errors per batch', () => {
    const e = new Engine(cfg);
    const r = e.ingest(Array.from({ length: 25 }, () => ({})));
    expect(r.rejected).toBe(25);
    expect(r.errors).toHaveLength(10);
  });

  it('takes duration from the top level, else fields.duration, else 0, never from timestamps', () => {
    const e = new Engine(cfg);
    e.ingest([
      { event: 'a', duration: 10, fields: { duration: 99 } },
      { event: 'a', fields: { duration: 20 } },
      { event: 'a', start_time: 1, end_time: 5 },
      { event: 'a', start_time: '2026-11-22T00:00:00Z', end_time: '2026-11-22T00:00:01Z', hostname: 'h' },
    ]);
    const root = e.snapshot('full').metrics[0]?.root;
    expect(root?.dists[0]?.sum).toBe(30);
    expect(root?.children.map((c) => [c.name, c.count])).toEqual([['duration_1_50', 2], ['duration_ninf_0', 2]]);
  });

  it('ignores inherited properties: a "constructor" or "__proto__" field is just a field', () => {
    const e = new Engine(parseConfigText('metric m {\n filter = event=*\n fields = constructor toString\n}', 't.conf'));
    const r = e.ingest([JSON.parse('{"event":"a","fields":{"__proto__":{"x":1}}}'), { event: 'b', fields: { constructor: 5 } }]);
    expect(r.errors.map((x) => x.index)).toEqual([0]);
    const d = e.snapshot('basic').metrics[0]?.root.dists;
    expect(d?.[1]?.sum).toBe(5);
    expect(d?.[2]?.count).toBe(0);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });
});

describe('batch framing (docs/contract.md §2.3)', () => {
  it('frames msgpack as one array or a concatenation of events and arrays, counting indexes across values', () => {
    const bytes = Buffer.concat([pack([{ event: 'a' }, { event: 'b' }]), pack({ event: 'c' }), pack([{ event: 'd' }, 7])]);
    const events = frameBatch(bytes, FORMAT_MSGPACK) as { event?: string }[];
    expect(events.map((x) => (typeof x === 'object' ? x.event : x))).toEqual(['a', 'b', 'c', 'd', 7]);
    const r = new Engine(cfg).ingestBytes(bytes, FORMAT_MSGPACK);
    expect(r).toMatchObject({ accepted: 4, rejected: 1, errors: [{ index: 4 }] });
  });

  it('rejects a truncated msgpack batch or invalid JSON whole', () => {
    const bytes = pack([{ event: 'a' }, { event: 'b' }]);
    expect(() => frameBatch(bytes.subarray(0, bytes.length - 3), FORMAT_MSGPACK)).toThrow(/invalid msgpack/);
    expect(() => frameBatch(Buffer.from('[{"event":"a"},'), FORMAT_JSON)).toThrow(/invalid JSON/);
  });

  it('frames NDJSON line by line: a broken line rejects that line only', () => {
    const e = new Engine(cfg);
    const r = e.ingestBytes(Buffer.from('{"event":"a"}\n{"event":\n\n{"event":"c"}\n'), FORMAT_NDJSON);
    expect(r.accepted).toBe(2);
    expect(r.rejected).toBe(1);
    expect(r.errors[0]?.index).toBe(1);
    expect(r.errors[0]?.reason).toMatch(/^invalid_json: line 2/);
  });

  it('maps content types', () => {
    expect(formatOfContentType('application/msgpack')).toBe(FORMAT_MSGPACK);
    expect(formatOfContentType('application/x-msgpack')).toBe(FORMAT_MSGPACK);
    expect(formatOfContentType('application/vnd.msgpack')).toBe(FORMAT_MSGPACK);
    expect(formatOfContentType('Application/JSON; charset=utf-8')).toBe(FORMAT_JSON);
    expect(formatOfContentType('application/x-ndjson')).toBe(FORMAT_NDJSON);
    expect(formatOfContentType('text/plain')).toBeNull();
    expect(formatOfContentType(undefined)).toBeNull();
  });
});
