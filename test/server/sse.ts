/** A server-sent events client on node:http for the live stream tests: collects the events as they arrive. */
import { request, type ClientRequest, type IncomingHttpHeaders } from 'node:http';

export interface SseEvent {
  event: string;
  data: string;
}

export class SseClient {
  readonly events: SseEvent[] = [];
  status = 0;
  headers: IncomingHttpHeaders = {};
  ended = false;
  private readonly req: ClientRequest;
  private buf = '';

  private constructor(req: ClientRequest) {
    this.req = req;
  }

  /** Opens `GET path` and resolves once the answer's head has arrived. */
  static open(url: string, path = '/v1/live'): Promise<SseClient> {
    const u = new URL(path, url);
    return new Promise((resolve, reject) => {
      const req = request({ host: u.hostname, port: u.port, path: u.pathname, agent: false, headers: { accept: 'text/event-stream' } });
      const c = new SseClient(req);
      req.on('response', (res) => {
        c.status = res.statusCode ?? 0;
        c.headers = res.headers;
        res.setEncoding('utf8');
        res.on('data', (s: string) => c.feed(s));
        res.on('end', () => (c.ended = true));
        res.on('error', () => (c.ended = true));
        resolve(c);
      });
      req.on('error', reject);
      req.end();
    });
  }

  private feed(s: string): void {
    this.buf += s;
    let end: number;
    while ((end = this.buf.indexOf('\n\n')) >= 0) {
      const block = this.buf.slice(0, end);
      this.buf = this.buf.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
      }
      if (data.length > 0) this.events.push({ event, data: data.join('\n') });
    }
  }

  /** the parsed data of the events named `name` */
  all(name: string): any[] {
    return this.events.filter((e) => e.event === name).map((e) => JSON.parse(e.data));
  }

  /** the live points so far: those of the last `init`, then every `point` after it */
  points(): any[] {
    let out: any[] = [];
    for (const e of this.events) {
      const d = JSON.parse(e.data);
      if (e.event === 'init') out = [...d.points];
      else if (e.event === 'point') out.push(d.point);
    }
    return out;
  }

  last(): any {
    const p = this.points();
    return p[p.length - 1];
  }

  close(): void {
    this.req.destroy();
  }
}
