/**
 * A remote-write receiver on 127.0.0.1 (node:http): it decodes every
 * WriteRequest with the same protobuf schema and snappy as a TSDB would,
 * keeps what arrived with its headers and time, and answers as the test
 * scripts it (a status, a Retry-After, a dropped connection, no answer).
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeWriteRequest } from '../../src/remote/encode.js';
import type { TimeSeries } from '../../src/remote/series.js';

export interface Received {
  at: number;
  headers: IncomingHttpHeaders;
  series: TimeSeries[];
  status: number;
}

/** What to do with one request: an HTTP status, or 'drop' (close the connection) or 'hang' (never answer). */
export type Answer = number | 'drop' | 'hang' | { status: number; retryAfter: string };

export class Receiver {
  readonly got: Received[] = [];
  /** answers for the next requests, in order; afterwards `then` */
  script: Answer[] = [];
  then: Answer = 200;
  private server: Server | undefined;
  url = '';

  async listen(): Promise<this> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const answer = this.script.length > 0 ? (this.script.shift() as Answer) : this.then;
        if (answer === 'drop') {
          req.socket.destroy();
          return;
        }
        if (answer === 'hang') return;
        const status = typeof answer === 'number' ? answer : answer.status;
        let series: TimeSeries[] = [];
        try {
          series = decodeWriteRequest(Buffer.concat(chunks)).timeseries;
        } catch (e) {
          res.writeHead(400).end(`undecodable: ${(e as Error).message}`);
          return;
        }
        this.got.push({ at: Date.now(), headers: req.headers, series, status });
        if (typeof answer !== 'number') res.setHeader('retry-after', answer.retryAfter);
        res.writeHead(status).end(status >= 400 ? `answer ${status}` : '');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    this.server = server;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/write`;
    return this;
  }

  /** The accepted (2xx) writes. */
  accepted(): Received[] {
    return this.got.filter((g) => g.status < 300);
  }

  async close(): Promise<void> {
    const s = this.server;
    if (s === undefined) return;
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
}

/** The value of series `name` with exactly these labels (besides __name__) in one write, or undefined. */
export function valueOf(series: TimeSeries[], name: string, labels: Record<string, string>): number | undefined {
  const want = { __name__: name, ...labels };
  for (const s of series) {
    if (s.labels.length !== Object.keys(want).length) continue;
    if (!s.labels.every((l) => (want as Record<string, string>)[l.name] === l.value)) continue;
    // proto3 leaves zeros out of the wire
    if (s.samples !== undefined) return s.samples[0]?.value ?? 0;
    return (s.histograms?.[0] as { countInt?: number } | undefined)?.countInt ?? 0;
  }
  return undefined;
}
