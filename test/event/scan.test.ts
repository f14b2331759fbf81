/**
 * The on-demand decoder (src/event/scan.ts) against the slow, obvious path it
 * replaces: msgpackr decodes the whole batch, loadEvent validates each event,
 * filters and metrics read the decoded objects. For random batches — key
 * orders, duplicate keys, every msgpack width, nested and wrong-typed values,
 * invalid UTF-8, non-string keys, extensions — both give the same answer
 * (accepted, rejected, every error text) and the same aggregation, cell for
 * cell.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { parseConfigText } from '../../src/config/index.js';
import { Engine } from '../../src/engine/engine.js';
import { Packr } from 'msgpackr';
import { FORMAT_JSON, FORMAT_MSGPACK, frameBatch } from '../../src/event/decode.js';

const CONFIG = `
metric cmds {
  filter = event=imap_command_finished
  fields = bytes_in bytes_out
  group_by = cmd_name tagged_reply_state
}
metric dur {
  filter = event=imap_* AND NOT cmd_name=LOGOUT
  fields = duration bytes_out
  group_by = cmd_name duration:exponential:1:5:10
}
metric cats {
  filter = category=imap OR category=lmtp
  group_by = user:discrete:%L{domain} bytes_out:linear:0:5000:1000
}
metric tags {
  filter = tags=* OR user="*@example.com"
  fields = bytes_in
  group_by = tags
}
metric hosts {
  filter = hostname=mail* OR hostname=""
  group_by = hostname cmd_name
}
`;

// ---- a msgpack writer that can say everything (duplicate keys, widths) ----

type V =
  | { t: 'map'; entries: [K, V][]; wide: number }
  | { t: 'arr'; items: V[]; wide: number }
  | { t: 'str'; s: string; wide: number }
  | { t: 'raw'; bytes: readonly number[] }
  | { t: 'int'; n: number; wide: number }
  | { t: 'f64'; x: number }
  | { t: 'f32'; x: number }
  | { t: 'nil' }
  | { t: 'bool'; b: boolean }
  | { t: 'bin'; n: number }
  | { t: 'ext'; type: number; n: number };
type K = V;

const enc = new TextEncoder();

function head(out: number[], fix: number, fixMax: number, n: number, w8: number | null, w16: number, w32: number, wide: number): void {
  if (wide === 0 && n <= fixMax) out.push(fix | n);
  else if (w8 !== null && wide <= 1 && n < 256) out.push(w8, n);
  else if (wide <= 2 && n < 65536) out.push(w16, n >> 8, n & 255);
  else out.push(w32, (n >>> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255);
}

function write(v: V, out: number[]): void {
  switch (v.t) {
    case 'map':
      head(out, 0x80, 15, v.entries.length, null, 0xde, 0xdf, v.wide);
      for (const [k, x] of v.entries) {
        write(k, out);
        write(x, out);
      }
      return;
    case 'arr':
      head(out, 0x90, 15, v.items.length, null, 0xdc, 0xdd, v.wide);
      for (const x of v.items) write(x, out);
      return;
    case 'str': {
      const b = enc.encode(v.s);
      head(out, 0xa0, 31, b.length, 0xd9, 0xda, 0xdb, v.wide);
      out.push(...b);
      return;
    }
    case 'raw':
      head(out, 0xa0, 31, v.bytes.length, 0xd9, 0xda, 0xdb, 0);
      out.push(...v.bytes);
      return;
    case 'int': {
      const n = v.n;
      const dv = new DataView(new ArrayBuffer(9));
      if (v.wide === 0 && n >= 0 && n <= 127) out.push(n);
      else if (v.wide === 0 && n < 0 && n >= -32) out.push(n & 255);
      else if (n >= 0 && n < 256 && v.wide <= 1) out.push(0xcc, n);
      else if (n >= -128 && n < 0 && v.wide <= 1) out.push(0xd0, n & 255);
      else if (n >= 0 && n < 65536 && v.wide <= 2) out.push(0xcd, n >> 8, n & 255);
      else if (n >= -32768 && n < 32768 && v.wide <= 2) {
        dv.setInt16(0, n);
        out.push(0xd1, dv.getUint8(0), dv.getUint8(1));
      } else if (n >= 0 && n < 2 ** 32 && v.wide <= 3) {
        dv.setUint32(0, n);
        out.push(0xce, ...new Uint8Array(dv.buffer, 0, 4));
      } else if (n >= -(2 ** 31) && n < 2 ** 31 && v.wide <= 3) {
        dv.setInt32(0, n);
        out.push(0xd2, ...new Uint8Array(dv.buffer, 0, 4));
      } else if (n >= 0) {
        dv.setBigUint64(0, BigInt(n));
        out.push(0xcf, ...new Uint8Array(dv.buffer, 0, 8));
      } else {
        dv.setBigInt64(0, BigInt(n));
        out.push(0xd3, ...new Uint8Array(dv.buffer, 0, 8));
      }
      return;
    }
    case 'f64': {
      const dv = new DataView(new ArrayBuffer(8));
      dv.setFloat64(0, v.x);
      out.push(0xcb, ...new Uint8Array(dv.buffer));
      return;
    }
    case 'f32': {
      const dv = new DataView(new ArrayBuffer(4));
      dv.setFloat32(0, v.x);
      out.push(0xca, ...new Uint8Array(dv.buffer));
      return;
    }
    case 'nil':
      out.push(0xc0);
      return;
    case 'bool':
      out.push(v.b ? 0xc3 : 0xc2);
      return;
    case 'bin':
      out.push(0xc4, v.n, ...new Array<number>(v.n).fill(7));
      return;
    case 'ext':
      // fixext 4/8 timestamp (-1) or ext 0
      if (v.type === -1) out.push(0xd6, 0xff, 0, 0, 0, v.n & 255);
      else out.push(0xd4, 0, v.n & 255);
      return;
  }
}

// ---- arbitraries --------------------------------------------------------

const wide = fc.constantFrom(0, 0, 0, 0, 1, 2, 3);
const str = (s: fc.Arbitrary<string>): fc.Arbitrary<V> => fc.record({ t: fc.constant('str' as const), s, wide });
const text = fc.constantFrom(
  'imap_command_finished', 'imap_idle', 'imap_x', 'FETCH', 'SELECT', 'LOGOUT', 'OK', 'NO', '',
  'a@Example.com', 'b@example.com', 'x@other.org', 'imap', 'lmtp', 't1', 't2', 'mail1', 'mail2.example.com', 'relay', '\uFFFD', '\uFEFFbom', 'ümlaut', '日本',
);
// long values (> 256 bytes) are never interned: decoded each time
const anyText = fc.oneof(
  { weight: 6, arbitrary: text },
  { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ minLength: 257, maxLength: 300 }).map((x) => `a@${x}`) },
);
const int = fc.record({ t: fc.constant('int' as const), n: fc.oneof(fc.integer({ min: -40, max: 300 }), fc.integer({ min: -(2 ** 33), max: 2 ** 40 }), fc.constant(2 ** 53 + 2)), wide });
const float = fc.oneof(
  fc.record({ t: fc.constant('f64' as const), x: fc.oneof(fc.double(), fc.constantFrom(NaN, Infinity, -Infinity, 12.5, -0.5)) }),
  fc.record({ t: fc.constant('f32' as const), x: fc.oneof(fc.float(), fc.constantFrom(3.14, NaN)) }),
);
const nil: fc.Arbitrary<V> = fc.constant({ t: 'nil' as const });
const odd: fc.Arbitrary<V> = fc.oneof(
  fc.record({ t: fc.constant('bool' as const), b: fc.boolean() }),
  fc.record({ t: fc.constant('bin' as const), n: fc.integer({ min: 0, max: 5 }) }),
  fc.record({ t: fc.constant('ext' as const), type: fc.constantFrom(-1, 0), n: fc.integer({ min: 0, max: 200 }) }),
  fc.record({
    t: fc.constant('raw' as const),
    bytes: fc.constantFrom([0xff], [0x61, 0xc3], [0xed, 0xa0, 0x80], [0xe2, 0x82], [...new Array<number>(300).fill(0x61), 0xff]),
  }),
);
const strList: fc.Arbitrary<V> = fc.record({ t: fc.constant('arr' as const), items: fc.array(str(text), { maxLength: 4 }), wide });
const scalar: fc.Arbitrary<V> = fc.oneof({ weight: 5, arbitrary: str(anyText) }, { weight: 4, arbitrary: int }, { weight: 1, arbitrary: float }, { weight: 1, arbitrary: nil });
const fieldValue: fc.Arbitrary<V> = fc.oneof({ weight: 12, arbitrary: scalar }, { weight: 2, arbitrary: strList }, { weight: 1, arbitrary: odd }, {
  weight: 1,
  arbitrary: fc.record({ t: fc.constant('arr' as const), items: fc.array(scalar, { maxLength: 3 }), wide }),
});
/**
 * Keys one byte off a key the scanner knows or the plan reads, at every
 * position (the same length and, but for position 0, the same first byte):
 * the scanner compares keys four bytes at a time, so each word, the last
 * overlapping one included, must be seen to differ.
 */
function nearMisses(keys: string[]): string[] {
  const out: string[] = [];
  for (const k of keys) for (let i = 0; i < k.length; i++) out.push(`${k.slice(0, i)}${k[i] === 'X' ? 'Y' : 'X'}${k.slice(i + 1)}`);
  return out;
}
const fieldNearMiss = nearMisses(['cmd_name', 'tagged_reply_state', 'bytes_in', 'bytes_out', 'user', 'tags', 'duration', '__proto__', 'hostname']);
const topNearMiss = nearMisses(['event', 'name', 'fields', 'categories', 'duration', 'hostname']);
const fieldKey: fc.Arbitrary<K> = fc.oneof(
  { weight: 3, arbitrary: str(fc.constantFrom(...fieldNearMiss)) },
  { weight: 10, arbitrary: str(fc.constantFrom('cmd_name', 'tagged_reply_state', 'bytes_in', 'bytes_out', 'user', 'tags', 'duration', 'other', 'cmd_tag', '__proto__', 'constructor', 'bytes_ou', 'bytes_inn', 'hostname')) },
  { weight: 1, arbitrary: int },
);
const fieldsMap: fc.Arbitrary<V> = fc.record({ t: fc.constant('map' as const), entries: fc.array(fc.tuple(fieldKey, fieldValue), { maxLength: 10 }), wide });
const topEntry: fc.Arbitrary<[K, V]> = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(str(fc.constant('event')), fc.oneof({ weight: 8, arbitrary: str(text) }, { weight: 1, arbitrary: nil }, { weight: 1, arbitrary: int })) },
  { weight: 1, arbitrary: fc.tuple(str(fc.constant('name')), fc.oneof(str(text), nil, int)) },
  { weight: 6, arbitrary: fc.tuple(str(fc.constant('fields')), fc.oneof({ weight: 12, arbitrary: fieldsMap }, { weight: 1, arbitrary: nil }, { weight: 1, arbitrary: scalar })) },
  { weight: 3, arbitrary: fc.tuple(str(fc.constant('categories')), fc.oneof({ weight: 8, arbitrary: strList }, { weight: 1, arbitrary: nil }, { weight: 1, arbitrary: fieldValue })) },
  { weight: 3, arbitrary: fc.tuple(str(fc.constant('duration')), fc.oneof({ weight: 8, arbitrary: int }, { weight: 1, arbitrary: float }, { weight: 1, arbitrary: nil }, { weight: 1, arbitrary: str(text) })) },
  { weight: 3, arbitrary: fc.tuple(str(fc.constantFrom('hostname', 'start_time', 'ev', 'eventx')), fc.oneof(scalar, fieldsMap, strList, odd)) },
  { weight: 3, arbitrary: fc.tuple(str(fc.constant('hostname')), fc.oneof({ weight: 6, arbitrary: str(text) }, { weight: 1, arbitrary: nil }, { weight: 1, arbitrary: int })) },
  { weight: 2, arbitrary: fc.tuple(str(fc.constantFrom(...topNearMiss)), fc.oneof(scalar, fieldsMap, strList)) },
  { weight: 1, arbitrary: fc.tuple(int, scalar) },
);
const event: fc.Arbitrary<V> = fc.oneof(
  { weight: 20, arbitrary: fc.record({ t: fc.constant('map' as const), entries: fc.array(topEntry, { minLength: 1, maxLength: 8 }), wide }) },
  { weight: 1, arbitrary: scalar },
  { weight: 1, arbitrary: strList },
);
/** a batch: top-level values, each an event or an array of events */
const batch: fc.Arbitrary<V[]> = fc.array(
  fc.oneof({ weight: 2, arbitrary: event }, { weight: 1, arbitrary: fc.record({ t: fc.constant('arr' as const), items: fc.array(event, { maxLength: 6 }), wide }) }),
  { minLength: 1, maxLength: 4 },
);

function bytesOf(values: V[]): Uint8Array {
  const out: number[] = [];
  for (const v of values) write(v, out);
  return Uint8Array.from(out);
}

const config = parseConfigText(CONFIG, 'scan.conf');

/** the general path: msgpackr decodes the batch, loadEvent reads each event */
function slow(e: Engine, b: Uint8Array): unknown {
  try {
    return e.ingest(frameBatch(b, FORMAT_MSGPACK, { plain: true }));
  } catch (err) {
    return { threw: (err as Error).message };
  }
}

function fast(e: Engine, b: Uint8Array): unknown {
  try {
    return e.ingestMsgpack(b);
  } catch (err) {
    return { threw: (err as Error).message };
  }
}

describe('on-demand msgpack decoding', () => {
  test('answers and aggregates exactly as msgpackr + loadEvent, for any batch', () => {
    let events = 0;
    let general = 0;
    fc.assert(
      fc.property(fc.array(batch, { minLength: 1, maxLength: 6 }), (batches) => {
        const a = new Engine(config);
        const b = new Engine(config);
        for (const values of batches) {
          const bytes = bytesOf(values);
          expect(fast(a, bytes)).toEqual(slow(b, bytes));
        }
        expect(a.snapshot('full')).toEqual(b.snapshot('full'));
        events += a.counters.eventsReceived;
        general += a.generalDecodes;
      }),
      { numRuns: Number(process.env['TALLYD_SCAN_RUNS'] ?? 400) },
    );
    // the comparison is worth something only if many events took the on-demand path: the
    // input is hostile on purpose (every msgpack type, invalid UTF-8, extensions, duplicate
    // keys send an event the general way), and about half take the on-demand path; the bound
    // leaves room for the randomness (it was < 0.5 once, and 0.50 failed a run)
    console.info(`scan property test: ${general} of ${events} events decoded the general way`);
    expect(events - general).toBeGreaterThan(Number(process.env['TALLYD_SCAN_RUNS'] ?? 400) * 2);
    expect(general / events).toBeLessThan(0.6);
  });

  test('keeps decoding right when the metric set changes between batches', () => {
    const a = new Engine(config);
    const b = new Engine(config);
    let added = 0;
    fc.assert(
      fc.property(batch, fc.integer({ min: 0, max: 3 }), (values, op) => {
        const bytes = bytesOf(values);
        if (op === 1) {
          const def = { name: `m${++added}`, filter: 'event=imap_* AND other=*', fields: ['other', 'bytes_in'], groupBy: [], description: '' };
          a.addMetric(def);
          b.addMetric(def);
        } else if (op === 2 && a.metricNames.length > 1) {
          const name = a.metricNames[0] as string;
          a.removeMetric(name);
          b.removeMetric(name);
        }
        expect(fast(a, bytes)).toEqual(slow(b, bytes));
        expect(a.snapshot('full')).toEqual(b.snapshot('full'));
      }),
      { numRuns: 150 },
    );
  });

  test('a key one byte off a known or read key is another key, wherever the byte is', () => {
    // each near miss carries what the key it resembles would: a fields map, a name, a duration
    const packr = new Packr({ useRecords: false });
    const inner = { cmd_name: 'FETCH', tagged_reply_state: 'OK', bytes_in: 5, bytes_out: 7 };
    const events: Record<string, unknown>[] = [];
    for (const k of topNearMiss) {
      events.push({ event: 'imap_command_finished', [k]: k.length === 8 ? 9 : k.length < 6 ? 'imap_x' : { ...inner }, fields: { cmd_name: 'SELECT' } });
      events.push({ name: 'imap_command_finished', [k]: { ...inner } });
    }
    for (const k of fieldNearMiss) events.push({ event: 'imap_command_finished', duration: 4, fields: { [k]: k.startsWith('b') ? 11 : 'LOGOUT', cmd_name: 'STATUS' } });
    const bytes = packr.pack(events);
    const a = new Engine(config);
    const b = new Engine(config);
    expect(fast(a, bytes)).toEqual(slow(b, bytes));
    expect(a.snapshot('full')).toEqual(b.snapshot('full'));
    // they were read on demand, not handed to the general path
    expect(a.generalDecodes).toBe(0);
  });

  test('a batch that is not plain msgpack is refused whole, with the same message', () => {
    const e = new Engine(config);
    for (const bad of [Uint8Array.of(0x91, 0xc1), Uint8Array.of(0x81, 0xa1), Uint8Array.of(0xdd, 0xff, 0xff, 0xff, 0xff)]) {
      expect(fast(e, bad)).toEqual(slow(new Engine(config), bad));
      expect(fast(e, bad)).toHaveProperty('threw');
    }
    expect(e.counters.eventsReceived).toBe(0);
  });
  test('a damaged batch (cut short, a byte changed) is refused or counted exactly as the general path does', () => {
    let refused = 0;
    let counted = 0;
    fc.assert(
      fc.property(batch, fc.nat(), fc.nat(255), fc.boolean(), (values, at, byte, cut) => {
        const whole = bytesOf(values);
        const i = at % whole.length;
        const bytes = cut ? whole.subarray(0, i) : Uint8Array.from(whole, (x, j) => (j === i ? byte : x));
        const a = new Engine(config);
        const b = new Engine(config);
        const r = fast(a, bytes);
        expect(r).toEqual(slow(b, bytes));
        expect(a.snapshot('full')).toEqual(b.snapshot('full'));
        if ((r as { threw?: string }).threw !== undefined) refused++;
        else counted++;
      }),
      { numRuns: 1500 },
    );
    // both kinds of outcome occurred often enough to be compared
    expect(refused).toBeGreaterThan(200);
    expect(counted).toBeGreaterThan(200);
  });

  test('reads a batch of common events in one pass: scanMsgpack checks only batches off that path', () => {
    const e = new Engine(config);
    const S = (x: string): V => ({ t: 'str', s: x, wide: 0 });
    const ev = (n: number): V => ({
      t: 'map',
      wide: 0,
      entries: [
        [S('event') as K, S('imap_command_finished')],
        [S('fields') as K, { t: 'map', wide: 0, entries: [[S('cmd_name') as K, S('FETCH')], [S('bytes_in') as K, { t: 'int', n, wide: 0 }]] }],
      ],
    });
    const common = bytesOf([{ t: 'arr', wide: 0, items: [ev(0), ev(1), ev(2)] }]);
    expect(e.ingestMsgpack(common)).toEqual({ accepted: 3, rejected: 0, errors: [] });
    expect(e.checkedBatches).toBe(0);
    expect(() => e.ingestMsgpack(common.subarray(0, common.length - 1))).toThrow(/invalid msgpack: .* at byte/);
    expect(e.checkedBatches).toBe(1);
    expect(e.counters.eventsReceived).toBe(3);
  });
});

describe('the top-level hostname as field hostname', () => {
  const packr = new Packr({ useRecords: false });
  const events = [
    { event: 'imap_command_finished', hostname: 'mail1', fields: { cmd_name: 'SELECT' } }, // hostname only
    { event: 'imap_command_finished', fields: { cmd_name: 'SELECT', hostname: 'mail2' } }, // field only
    { event: 'imap_command_finished', hostname: 'mail1', fields: { cmd_name: 'FETCH', hostname: 'mail3' } }, // both: the field wins
    { event: 'imap_command_finished', hostname: 'mail1', fields: { cmd_name: 'FETCH', hostname: null } }, // a null field has no value
    { event: 'imap_command_finished', hostname: 7, fields: { cmd_name: 'FETCH' } }, // not a string: none
    { event: 'imap_command_finished', hostname: 'relay', fields: { cmd_name: 'FETCH' } }, // filtered out
    { event: 'imap_command_finished', fields: { cmd_name: 'NOOP' } }, // neither
  ];
  const expected = { mail1: { SELECT: 1, FETCH: 1 }, mail2: { SELECT: 1 }, mail3: { FETCH: 1 }, '': { FETCH: 1, NOOP: 1 } };

  function hosts(e: Engine): Record<string, Record<string, number>> {
    const m = e.snapshot('full').metrics.find((x) => x.def.name === 'hosts');
    const out: Record<string, Record<string, number>> = {};
    for (const h of m?.root.children ?? []) {
      const row: Record<string, number> = {};
      for (const c of h.children) row[String(c.key)] = c.count;
      out[String(h.key)] = row;
    }
    return out;
  }

  test.each([
    ['on-demand msgpack', (e: Engine) => e.ingestMsgpack(packr.pack(events))],
    ['msgpackr + loadEvent', (e: Engine) => e.ingest(frameBatch(packr.pack(events), FORMAT_MSGPACK, { plain: true }))],
    ['JSON', (e: Engine) => e.ingestBytes(Buffer.from(JSON.stringify(events)), FORMAT_JSON)],
  ])('%s: hostname only, field only, both, neither', (_name, run) => {
    const e = new Engine(config);
    expect(run(e)).toMatchObject({ accepted: 7, rejected: 0 });
    expect(hosts(e)).toEqual(expected);
  });
});
