import { describe, expect, it } from 'vitest';
import { parseConfigText, resolveSettings } from '../../src/config/index.js';
import { Engine } from '../../src/engine/engine.js';
import type { NodeSnapshot } from '../../src/metrics/types.js';

function engineFor(body: string, settings: Record<string, string> = {}): Engine {
  const cfg = parseConfigText(body, 'test.conf');
  return new Engine({ ...cfg, settings: resolveSettings(cfg.settings, settings) });
}

/** child name → count, in order */
function kids(n: NodeSnapshot | undefined): [string, number][] {
  return (n?.children ?? []).map((c) => [c.name, c.count]);
}

function root(e: Engine, i = 0): NodeSnapshot {
  const m = e.snapshot('full').metrics[i];
  if (m === undefined) throw new Error('no metric');
  return m.root;
}

const ev = (fields: Record<string, unknown>, duration = 0, event = 'e') => ({ event, duration, fields });

describe('group_by quantizers (docs/contract.md §5.2 vectors)', () => {
  it('linear 100/1000/100 puts each value in its range and materializes only observed buckets', () => {
    const e = engineFor('metric m {\n filter = event=e\n group_by = v:linear:100:1000:100\n}');
    e.ingest([0, 50, 100, 101, 200, 201, 250, 301, 900, 901, 1000, 1001, 2000].map((v) => ev({ v })));
    expect(kids(root(e))).toEqual([
      ['v_ninf_100', 3],
      ['v_101_200', 2],
      ['v_201_300', 2],
      ['v_301_400', 1],
      ['v_801_900', 1],
      ['v_901_1000', 2],
      ['v_1001_inf', 2],
    ]);
  });

  it('exponential base 2, 0..6', () => {
    const e = engineFor('metric m {\n filter = event=e\n group_by = v:exponential:0:6:2\n}');
    e.ingest([0, 1, 2, 4, 5, 20, 64, 65, 100].map((v) => ev({ v })));
    expect(kids(root(e))).toEqual([
      ['v_ninf_1', 2],
      ['v_2_2', 1],
      ['v_3_4', 1],
      ['v_5_8', 1],
      ['v_17_32', 1],
      ['v_33_64', 1],
      ['v_65_inf', 2],
    ]);
  });

  it('names quantized duration children with the field, like Dovecot', () => {
    const e = engineFor('metric imap_command {\n filter = event=e\n group_by = cmd_name duration:exponential:1:5:10\n}');
    e.ingest([ev({ cmd_name: 'SELECT' }, 5), ev({ cmd_name: 'SELECT' }, 150), ev({ cmd_name: 'SELECT' }, 1e9)]);
    expect(kids(root(e).children[0])).toEqual([
      ['duration_ninf_10', 1],
      ['duration_101_1000', 1],
      ['duration_100001_inf', 1],
    ]);
  });

  it('clamps the last regular linear bucket to max when the range is not a multiple of step', () => {
    const e = engineFor('metric m {\n filter = event=e\n group_by = v:linear:500:10000:450\n}');
    e.ingest([9951, 10000, 10001].map((v) => ev({ v })));
    expect(kids(root(e))).toEqual([
      ['v_9951_10000', 2],
      ['v_10001_inf', 1],
    ]);
  });

  it('adds no child for a non-numeric value at a quantized level, but counts the event above', () => {
    const e = engineFor('metric m {\n filter = event=e\n group_by = v:linear:0:10:5\n}');
    e.ingest([ev({ v: 'x' }), ev({ v: ['1'] }), ev({}), ev({ v: 3 })]);
    expect(root(e).count).toBe(4);
    expect(kids(root(e))).toEqual([['v_1_5', 1]]);
  });
});

describe('discrete levels', () => {
  it('keeps first-seen order, updates every node on the path and keeps nodes across reset', () => {
    const e = engineFor('metric imap_command {\n filter = event=e\n group_by = cmd_name tagged_reply_state\n}');
    e.ingest([ev({ cmd_name: 'SELECT', tagged_reply_state: 'OK' }), ev({ cmd_name: 'FETCH', tagged_reply_state: 'NO' }), ev({ cmd_name: 'SELECT', tagged_reply_state: 'NO' })]);
    const r = root(e);
    expect(r.count).toBe(3);
    expect(kids(r)).toEqual([
      ['SELECT', 2],
      ['FETCH', 1],
    ]);
    expect(kids(r.children[0])).toEqual([
      ['OK', 1],
      ['NO', 1],
    ]);
    e.reset();
    const after = root(e);
    expect(after.count).toBe(0);
    expect(kids(after)).toEqual([
      ['SELECT', 0],
      ['FETCH', 0],
    ]);
  });

  it('applies discrete modifiers: the modified string is identity and name', () => {
    const e = engineFor('metric m {\n filter = event=e\n group_by = user:discrete:%L{domain}\n}');
    e.ingest([ev({ user: 'a@Example.COM' }), ev({ user: 'b@example.com' }), ev({ user: 'nodomain' })]);
    expect(kids(root(e))).toEqual([
      ['example.com', 2],
      ['', 1],
    ]);
  });

  it('gives a strlist one child per distinct element', () => {
    const e = engineFor('metric m {\n filter = event=e\n group_by = tags\n}');
    e.ingest([ev({ tags: ['a', 'b', 'a'] }), ev({ tags: ['b'] }), ev({ tags: [] })]);
    expect(root(e).count).toBe(3);
    expect(kids(root(e))).toEqual([
      ['a', 1],
      ['b', 2],
    ]);
  });

  it('keeps a string "5" and the number 5 apart, as Dovecot does', () => {
    const e = engineFor('metric m {\n filter = event=e\n group_by = code\n}');
    e.ingest([ev({ code: '5' }), ev({ code: 5 }), ev({ code: 5 })]);
    expect(kids(root(e))).toEqual([
      ['5', 1],
      ['5', 2],
    ]);
  });

  it('sends a missing field to a "" child in 2.4 and stops above it in 2.3', () => {
    const body = 'metric m {\n filter = event=e\n group_by = a b\n}';
    const e24 = engineFor(body);
    const e23 = engineFor(body, { dovecot_compat: '2.3' });
    for (const e of [e24, e23]) e.ingest([ev({ a: 'x' }), ev({})]);
    expect(kids(root(e24))).toEqual([
      ['x', 1],
      ['', 1],
    ]);
    expect(kids(root(e24).children[0])).toEqual([['', 1]]);
    expect(kids(root(e23))).toEqual([['x', 1]]);
    expect(root(e23).children[0]?.children).toEqual([]);
    expect(root(e23).count).toBe(2);
  });

  it('replaces control characters and invalid UTF-16 in names with U+FFFD', () => {
    const e = engineFor('metric m {\n filter = event=e\n group_by = v\n}');
    e.ingest([ev({ v: 'a\tb\u0001\ud800' })]);
    expect(kids(root(e))).toEqual([['a\uFFFDb\uFFFD\uFFFD', 1]]);
  });

  it('shares a 256-byte name budget along a path in 2.4, cuts names with an ellipsis, and stops when spent', () => {
    const e = engineFor('metric m {\n filter = event=e\n group_by = a b c\n}');
    const long = 'é'.repeat(100); // 200 bytes
    e.ingest([ev({ a: long, b: 'x'.repeat(100), c: 'y' })]);
    const a = root(e).children[0];
    expect(a?.name).toBe(long);
    const b = a?.children[0];
    // 256 - 200 = 56 code points allowed: 55 kept plus the ellipsis (58 bytes)
    expect(b?.name).toBe('x'.repeat(55) + '\u2026');
    // budget spent (200 + 58 >= 256): no third level
    expect(b?.children).toEqual([]);
  });

  it('cuts every name to 32 code points in 2.3', () => {
    const e = engineFor('metric m {\n filter = event=e\n group_by = a\n}', { dovecot_compat: '2.3' });
    e.ingest([ev({ a: 'z'.repeat(40) })]);
    expect(root(e).children[0]?.name).toBe('z'.repeat(31) + '\u2026');
  });

  it('keeps two values that truncate alike as two children', () => {
    const e = engineFor('metric m {\n filter = event=e\n group_by = a\n}', { dovecot_compat: '2.3' });
    e.ingest([ev({ a: 'q'.repeat(40) + '1' }), ev({ a: 'q'.repeat(40) + '2' })]);
    expect(kids(root(e))).toEqual([
      ['q'.repeat(31) + '\u2026', 1],
      ['q'.repeat(31) + '\u2026', 1],
    ]);
  });
});

describe('cardinality cap (docs/contract.md §5.5)', () => {
  it('sends new values past max_sub_metrics to one __overflow__ child per level and counts them', () => {
    const e = engineFor('metric m {\n filter = event=e\n group_by = user cmd\n}', { max_sub_metrics: '4' });
    const events = [];
    for (let i = 0; i < 10; i++) events.push(ev({ user: `u${i}`, cmd: 'A' }));
    e.ingest(events);
    const snap = e.snapshot('basic').metrics[0];
    expect(snap?.subMetrics).toBe(4);
    expect(kids(snap?.root)).toEqual([
      ['u0', 1],
      ['u1', 1],
      ['__overflow__', 8],
    ]);
    expect(snap?.overflow).toBe(8);
    expect(snap?.root.count).toBe(10);
  });
});

describe('statistics per node (docs/contract.md §5.1, 5.4)', () => {
  it('keeps duration and every listed field; strings add 0, missing fields add nothing', () => {
    const e = engineFor('metric m {\n filter = event=e\n fields = bytes user duration\n}');
    e.ingest([ev({ bytes: 10, user: 'x' }, 5), ev({ bytes: 30 }, 7), ev({}, 9)]);
    const d = root(e).dists;
    expect(d.map((x) => [x.count, x.sum, x.min, x.max])).toEqual([
      [3, 21, 5, 9],
      [2, 40, 10, 30],
      [1, 0, 0, 0],
      [3, 21, 5, 9],
    ]);
  });

  it('matches an event against every metric whose filter matches', () => {
    const e = engineFor('metric a {\n filter = event=e\n}\nmetric b {\n filter = event=e OR event=f\n}');
    e.ingest([ev({}), ev({}, 0, 'f'), ev({}, 0, 'g')]);
    const snap = e.snapshot('basic');
    expect(snap.metrics.map((m) => m.root.count)).toEqual([1, 2]);
    expect(snap.counters.eventsAccepted).toBe(3);
  });
});
