/**
 * Remote-write 1.0 wire form: a prompb WriteRequest (Prometheus' own
 * remote.proto and types.proto, vendored in ./proto), encoded by protobufjs,
 * snappy block-compressed.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { TallydError } from '../errors.js';
import type { TimeSeries } from './series.js';

const PROTO = fileURLToPath(new URL('./proto/remote.proto', import.meta.url));
let writeRequest: protobuf.Type | undefined;

export function writeRequestType(): protobuf.Type {
  writeRequest ??= protobuf.loadSync(PROTO).lookupType('prometheus.WriteRequest');
  return writeRequest;
}

export interface Snappy {
  compressSync(b: Buffer): Buffer;
  uncompressSync(b: Buffer, opts?: { asBuffer: boolean }): Buffer | string;
}
let snappy: Snappy | undefined;

/** The snappy binding (napi); throws ERR_REMOTE_WRITE when its binary does not load. */
export function loadSnappy(): Snappy {
  if (snappy !== undefined) return snappy;
  try {
    snappy = createRequire(import.meta.url)('snappy') as Snappy;
    snappy.compressSync(Buffer.from('x'));
  } catch (e) {
    throw new TallydError('ERR_REMOTE_WRITE', `remote_write needs snappy compression, and its native binary did not load: ${(e as Error).message}`);
  }
  return snappy;
}

/** The HTTP body of one WriteRequest. */
export function encodeWriteRequest(series: TimeSeries[]): Buffer {
  const T = writeRequestType();
  const raw = T.encode(T.fromObject({ timeseries: series })).finish();
  return loadSnappy().compressSync(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength));
}

/** Decodes a body back (tests, and a receiver's view of it). */
export function decodeWriteRequest(body: Buffer): { timeseries: TimeSeries[] } {
  const raw = loadSnappy().uncompressSync(body, { asBuffer: true }) as Buffer;
  const T = writeRequestType();
  return T.toObject(T.decode(raw), { longs: Number, defaults: false }) as { timeseries: TimeSeries[] };
}
