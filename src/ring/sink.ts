/**
 * Reusable destination for RingConsumer.read: the header fields of the last
 * record read, and its payload in `buffer[0, length)`. `buffer` is replaced by
 * a larger one when a record does not fit, so read it again after each read.
 */
export class RecordSink {
  type: number;
  format: number;
  id: number;
  length: number;
  buffer: Buffer;

  constructor(initialBytes = 64 * 1024) {
    this.type = 0;
    this.format = 0;
    this.id = 0;
    this.length = 0;
    this.buffer = Buffer.allocUnsafeSlow(Math.max(initialBytes, 16));
  }

  /** The payload of the last record read, as a view over `buffer` (allocates a view). */
  payload(): Buffer {
    return this.buffer.subarray(0, this.length);
  }

  /** Makes `buffer` hold at least `bytes`, growing it geometrically; returns it. */
  reserve(bytes: number): Buffer {
    if (this.buffer.length < bytes) {
      this.buffer = Buffer.allocUnsafeSlow(Math.max(bytes, Math.min(this.buffer.length * 2, 2 ** 30)));
    }
    return this.buffer;
  }
}
