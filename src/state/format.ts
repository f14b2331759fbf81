/**
 * The state file's format (docs/reliability.md): a 32-byte header — magic
 * `TALLYDST`, format version (u32 LE), payload length (u64 LE), 12 reserved
 * bytes — then the payload (msgpack), then the SHA-256 of header and payload.
 * A file that does not read back exactly is refused with the reason: not a
 * state file, an unknown version, truncated, or a checksum mismatch.
 */
import { createHash } from 'node:crypto';
import { Packr } from 'msgpackr';
import type { BucketsHist, DistHist, DistSnapshot } from '../aggregate/types.js';
import type { ChildKey, EngineCounters, NodeSnapshot } from '../metrics/types.js';

export const STATE_MAGIC = Buffer.from('TALLYDST', 'latin1');
export const STATE_VERSION = 1;
export const HEADER_BYTES = 32;
export const DIGEST_BYTES = 32;

/** One metric's saved state; `defKey` is its definition's canonical form. */
export interface SavedMetric {
  name: string;
  defKey: string;
  overflow: number;
  root: NodeSnapshot;
}

export interface SavedState {
  /** ms since the epoch */
  savedAt: number;
  /** the runtime's batch sequence: first-seen order continues after it */
  seq: number;
  counters: EngineCounters;
  metrics: SavedMetric[];
}

export type StateProblem = 'not_a_state_file' | 'unknown_version' | 'truncated' | 'checksum' | 'undecodable';

export class StateFormatError extends Error {
  constructor(
    readonly reason: StateProblem,
    message: string,
  ) {
    super(message);
    this.name = 'StateFormatError';
  }
}

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

/** A dist on disk: moments, and its values or its HDR buckets as little-endian byte strings. */
interface WireDist {
  c: number;
  s: number;
  lo: number;
  hi: number;
  me: number;
  m2: number;
  v?: Uint8Array;
  i?: Uint8Array;
  n?: Uint8Array;
}
type WireNode = [name: string, key: ChildKey, firstSeq: number, count: number, dists: WireDist[], children: WireNode[]];

function bytesOf(a: Float64Array | Uint16Array | Uint32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Copies into an aligned buffer (msgpackr's bin may sit at any offset). */
function f64(b: Uint8Array): Float64Array {
  if (b.byteLength % 8 !== 0) throw new StateFormatError('undecodable', 'a value array has a partial element');
  return new Float64Array(new Uint8Array(b).buffer);
}
function u16(b: Uint8Array): Uint16Array {
  if (b.byteLength % 2 !== 0) throw new StateFormatError('undecodable', 'a bucket index array has a partial element');
  return new Uint16Array(new Uint8Array(b).buffer);
}

function distOut(d: DistSnapshot): WireDist {
  const w: WireDist = { c: d.count, s: d.sum, lo: d.min, hi: d.max, me: d.mean, m2: d.m2 };
  const h = d.hist as DistHist | undefined;
  if (h === undefined || d.count === 0) return w;
  if (h.kind === 'values') w.v = bytesOf(h.values);
  else {
    w.i = bytesOf(h.index);
    w.n = bytesOf(h.counts instanceof Float64Array ? h.counts : Float64Array.from(h.counts));
  }
  return w;
}

function distIn(w: WireDist): DistSnapshot {
  const d: DistSnapshot = { count: w.c, sum: w.s, min: w.lo, max: w.hi, mean: w.me, m2: w.m2 };
  if (w.v !== undefined) d.hist = { kind: 'values', values: f64(w.v) } as DistHist;
  else if (w.i !== undefined && w.n !== undefined) {
    const index = u16(w.i);
    const counts = f64(w.n);
    if (index.length !== counts.length) throw new StateFormatError('undecodable', 'bucket index and count arrays differ in length');
    const hist: BucketsHist = { kind: 'hdr', index, counts };
    d.hist = hist;
  }
  return d;
}

function nodeOut(n: NodeSnapshot): WireNode {
  return [n.name, n.key, n.firstSeq, n.count, n.dists.map(distOut), n.children.map(nodeOut)];
}

function nodeIn(w: WireNode): NodeSnapshot {
  if (!Array.isArray(w) || w.length !== 6 || typeof w[0] !== 'string' || !Array.isArray(w[4]) || !Array.isArray(w[5])) {
    throw new StateFormatError('undecodable', 'a sub-metric node is malformed');
  }
  return { name: w[0], key: w[1], firstSeq: w[2], count: w[3], dists: w[4].map(distIn), children: w[5].map(nodeIn) };
}

export function encodeState(st: SavedState): Buffer {
  const payload = packr.pack({
    savedAt: st.savedAt,
    seq: st.seq,
    counters: st.counters,
    metrics: st.metrics.map((m) => ({ name: m.name, defKey: m.defKey, overflow: m.overflow, root: nodeOut(m.root) })),
  });
  const header = Buffer.alloc(HEADER_BYTES);
  STATE_MAGIC.copy(header, 0);
  header.writeUInt32LE(STATE_VERSION, 8);
  header.writeBigUInt64LE(BigInt(payload.length), 12);
  const digest = createHash('sha256').update(header).update(payload).digest();
  return Buffer.concat([header, payload, digest]);
}

export function decodeState(buf: Buffer): SavedState {
  if (buf.length < HEADER_BYTES) {
    if (buf.length >= 8 && !buf.subarray(0, 8).equals(STATE_MAGIC)) throw new StateFormatError('not_a_state_file', 'the file does not start with TALLYDST');
    throw new StateFormatError('truncated', `the file has ${buf.length} bytes, less than the ${HEADER_BYTES}-byte header`);
  }
  if (!buf.subarray(0, 8).equals(STATE_MAGIC)) throw new StateFormatError('not_a_state_file', 'the file does not start with TALLYDST');
  const version = buf.readUInt32LE(8);
  if (version !== STATE_VERSION) {
    throw new StateFormatError('unknown_version', `format version ${version} is not known (this tallyd reads version ${STATE_VERSION})`);
  }
  const len = Number(buf.readBigUInt64LE(12));
  const want = HEADER_BYTES + len + DIGEST_BYTES;
  if (buf.length < want) throw new StateFormatError('truncated', `the file has ${buf.length} bytes, its header announces ${want}`);
  if (buf.length > want) throw new StateFormatError('checksum', `the file has ${buf.length - want} bytes past its end`);
  const payload = buf.subarray(HEADER_BYTES, HEADER_BYTES + len);
  const digest = createHash('sha256').update(buf.subarray(0, HEADER_BYTES)).update(payload).digest();
  if (!digest.equals(buf.subarray(HEADER_BYTES + len))) throw new StateFormatError('checksum', 'the SHA-256 checksum does not match the contents');
  let o: { savedAt: number; seq: number; counters: EngineCounters; metrics: { name: string; defKey: string; overflow: number; root: WireNode }[] };
  try {
    o = packr.unpack(payload) as typeof o;
  } catch (e) {
    throw new StateFormatError('undecodable', `the payload does not decode: ${(e as Error).message}`);
  }
  if (typeof o !== 'object' || o === null || !Array.isArray(o.metrics) || typeof o.counters !== 'object') {
    throw new StateFormatError('undecodable', 'the payload is not a tallyd state');
  }
  return {
    savedAt: o.savedAt,
    seq: o.seq,
    counters: o.counters,
    metrics: o.metrics.map((m) => ({ name: m.name, defKey: m.defKey, overflow: m.overflow, root: nodeIn(m.root) })),
  };
}
