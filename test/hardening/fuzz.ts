/**
 * The fuzz targets of the hardening suite, shared by the test
 * (test/hardening/fuzz.test.ts, a bounded number of runs) and the longer
 * `npm run fuzz` (TALLYD_FUZZ_RUNS runs per target). Each target takes one input and throws
 * when tallyd does something other than framing it, rejecting it with a
 * FramingError / ConfigError, or rejecting its events one by one.
 */
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { parseConfigText } from '../../src/config/index.js';
import type { ResolvedConfig } from '../../src/config/types.js';
import { Engine } from '../../src/engine/engine.js';
import { ConfigError } from '../../src/errors.js';
import { countBatchEvents, FORMAT_JSON, FORMAT_MSGPACK, FORMAT_NDJSON, FramingError, frameBatch, type BatchFormat } from '../../src/event/decode.js';
import { scanMsgpack, MsgpackScanError } from '../../src/event/msgpack.js';
import { eventArb, MIXED_CONFIG } from '../helpers/events.js';

const plainPackr = new Packr({ useRecords: false, variableMapSize: true });
export const FUZZ_CONFIG: ResolvedConfig = parseConfigText(MIXED_CONFIG, 'mixed.conf');

/** Byte sequences that mean something special to a msgpack decoder. */
const INTERESTING: number[][] = [
  [0xc1],
  [0xc0],
  [0xdd, 0xff, 0xff, 0xff, 0xff],
  [0xdf, 0xff, 0xff, 0xff, 0xff],
  [0xdb, 0xff, 0xff, 0xff, 0xff],
  [0xc6, 0x7f, 0xff, 0xff, 0xff],
  [0xc9, 0xff, 0xff, 0xff, 0xff, 0x72],
  [0xd4, 0x72, 0x40],
  [0xd5, 0x72, 0x40, 0x00],
  [0xc7, 0x04, 0x62, 0, 0, 0, 9],
  [0xd6, 0x69, 0, 0, 0, 1],
  [0xd6, 0x70, 0, 0, 0, 1],
  [0xc7, 0x01, 0x73, 0x90],
  [0xc7, 0x02, 0x74, 0x01, 0x00],
  [0xd4, 0x65, 0x00],
  [0xd4, 0x78, 0x00],
  [0xd4, 0x42, 0x80],
  [0xd6, 0xff, 0, 0, 0, 1],
  [0xd4, 0x00, 0x00],
  [0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0],
  [0xcb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0],
  [0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
  [0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0],
  [0xa2, 0xff, 0xfe],
  [0xa9, ...Buffer.from('__proto__')],
  [0xab, ...Buffer.from('constructor')],
  [0x91, 0x91, 0x91, 0x91],
  [0x81, 0x80, 0x01],
];

type Mutation = { kind: 'flip' | 'insert' | 'delete' | 'truncate' | 'splice'; at: number; byte: number; pick: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('flip', 'insert', 'delete', 'truncate', 'splice'),
  at: fc.nat(),
  byte: fc.integer({ min: 0, max: 255 }),
  pick: fc.nat(),
});

function mutate(base: Uint8Array, ms: readonly Mutation[]): Buffer {
  let b = Buffer.from(base);
  for (const m of ms) {
    const at = b.length === 0 ? 0 : m.at % (b.length + 1);
    switch (m.kind) {
      case 'flip':
        if (at < b.length) b[at] = m.byte;
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), Buffer.from([m.byte]), b.subarray(at)]);
        break;
      case 'delete':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]);
        break;
      case 'truncate':
        b = b.subarray(0, at);
        break;
      case 'splice':
        b = Buffer.concat([b.subarray(0, at), Buffer.from(INTERESTING[m.pick % INTERESTING.length] as number[]), b.subarray(at)]);
        break;
    }
  }
  return b;
}

/** msgpack batches: valid ones, mutated ones, and raw bytes. */
export const msgpackInputArb: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 2, arbitrary: fc.tuple(fc.array(eventArb, { maxLength: 8 }), fc.array(mutationArb, { minLength: 1, maxLength: 6 })).map(([evs, ms]) => mutate(plainPackr.pack(evs), ms)) },
  { weight: 1, arbitrary: fc.tuple(fc.jsonValue({ maxDepth: 4 }), fc.array(mutationArb, { maxLength: 3 })).map(([v, ms]) => mutate(plainPackr.pack(v), ms)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)) },
  {
    weight: 1,
    arbitrary: fc.array(fc.constantFrom(...INTERESTING), { maxLength: 12 }).map((parts) => Buffer.from(parts.flat())),
  },
);

const jsonFragments = ['{', '}', '[', ']', ',', ':', '"', '\\', '"event"', '"fields"', '"duration"', '"__proto__"', '"constructor"', '1e400', '-0', 'NaN', 'null', 'true', '"x"', '\n', ' ', '\uFFFD', '\u0000', '"\ud800"'];

/** JSON and NDJSON texts: valid events, mutated, and fragment soup. */
export const jsonInputArb: fc.Arbitrary<Buffer> = fc.oneof(
  fc.tuple(fc.array(eventArb, { maxLength: 6 }), fc.array(mutationArb, { maxLength: 4 })).map(([evs, ms]) => mutate(Buffer.from(JSON.stringify(evs)), ms)),
  fc.tuple(fc.array(eventArb, { maxLength: 6 }), fc.array(mutationArb, { maxLength: 4 })).map(([evs, ms]) => mutate(Buffer.from(evs.map((e) => JSON.stringify(e)).join('\n')), ms)),
  fc.array(fc.constantFrom(...jsonFragments), { maxLength: 40 }).map((p) => Buffer.from(p.join(''))),
  fc.jsonValue({ maxDepth: 5 }).map((v) => Buffer.from(JSON.stringify(v) ?? '')),
);

/**
 * One batch through the network path: frameBatch (plain msgpack) and
 * Engine.ingest. Throws unless it is framed or refused with a FramingError,
 * and the engine answers for every event.
 */
export function fuzzBatch(engine: Engine, bytes: Buffer, format: BatchFormat): void {
  let events: unknown[];
  try {
    events = frameBatch(bytes, format, { plain: true });
  } catch (e) {
    if (!(e instanceof FramingError)) throw e;
    if (!/^invalid (msgpack|JSON): ./.test(e.message)) throw new Error(`framing error without a reason: ${e.message}`);
    if (format === FORMAT_MSGPACK && countBatchEvents(bytes, format) !== 0) throw new Error('an unframeable msgpack batch counted events');
    return;
  }
  const r = engine.ingest(events);
  if (r.accepted + r.rejected !== events.length) throw new Error(`${events.length} events, ${r.accepted} accepted + ${r.rejected} rejected`);
  for (const e of r.errors) if (!/^[a-z_]+: ./.test(e.reason)) throw new Error(`a rejection without a reason: ${JSON.stringify(e)}`);
  const counted = countBatchEvents(bytes, format);
  if (counted !== events.length) throw new Error(`countBatchEvents gives ${counted} for ${events.length} framed events`);
}

/** The offline path (`tallyd aggregate`): whatever msgpackr decodes, but only FramingError. */
export function fuzzLenient(engine: Engine, bytes: Buffer): void {
  let events: unknown[];
  try {
    events = frameBatch(bytes, FORMAT_MSGPACK);
  } catch (e) {
    if (!(e instanceof FramingError)) throw e;
    return;
  }
  engine.ingest(events);
}

/** The scanner agrees with msgpackr on what it accepts. */
export function fuzzScanner(bytes: Buffer): void {
  let n: number;
  try {
    n = scanMsgpack(bytes);
  } catch (e) {
    if (!(e instanceof MsgpackScanError)) throw e;
    return;
  }
  const events = frameBatch(bytes, FORMAT_MSGPACK);
  if (events.length !== n) throw new Error(`scanMsgpack counts ${n}, msgpackr frames ${events.length}`);
}

export { FORMAT_JSON, FORMAT_MSGPACK, FORMAT_NDJSON };

const CONFIG_LINES = [
  'metric m {',
  '}',
  '  filter = event=imap_command_finished',
  '  fields = net_in_bytes',
  '  group_by = cmd_name duration:exponential:1:5:10',
  '  group_by user {',
  '    method discrete {',
  '      modifier = %{value | domain | lower}',
  '    }',
  '  }',
  'request_timeout = 5s',
  'ws_idle_timeout = 60s',
  'max_websockets = 10',
  'ws_max_backpressure = 64k',
  'idle_timeout = 2 mins',
  'shards = 2',
  '!include missing.conf',
  '!include_try *.conf',
  'description = x \\',
  '  continued',
];

/** Config texts: valid lines shuffled and mutated. */
export const configInputArb: fc.Arbitrary<string> = fc.oneof(
  fc.array(fc.constantFrom(...CONFIG_LINES), { maxLength: 20 }).map((l) => l.join('\n')),
  fc
    .tuple(fc.array(fc.constantFrom(...CONFIG_LINES), { maxLength: 20 }), fc.array(mutationArb, { minLength: 1, maxLength: 5 }))
    .map(([l, ms]) => mutate(Buffer.from(l.join('\n')), ms).toString('latin1')),
);

/** The config parser gives a config or a ConfigError at file:line:col, nothing else. */
export function fuzzConfig(text: string, dir: string): void {
  try {
    parseConfigText(text, 'fuzz.conf', dir);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    if (!/^[^:]+:\d+:\d+: ./.test(e.message)) throw new Error(`config error without a position: ${e.message}`);
  }
}
