/**
 * `tallyd replay` (docs/contract.md §9): sends the events of a file (NDJSON, such as a
 * Dovecot event-exporter log, or a JSON array) to a running server in
 * batches, as JSON arrays, in file order, and reports what was accepted and
 * rejected.
 */
import { closeSync, createReadStream, openSync, readFileSync, readSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { CliError, durationOption, type Command } from './common.js';
import {
  authHeaders,
  DEFAULT_URL,
  describeFailure,
  endpoint,
  errorOf,
  intOption,
  RemoteError,
  request,
  serverUrl,
  type Answer,
} from './http.js';

/** A batch is sent early when its body reaches this many bytes (max_body_bytes is 16 MiB by default). */
const FLUSH_BYTES = 4 * 1024 * 1024;
/** Rejection reasons printed; the rest are counted. */
const SHOWN_REASONS = 10;

interface Item {
  /** the event's JSON text */
  text: string;
  /** where it is, for messages: `FILE:LINE` or `FILE: event I` */
  where: string;
}

interface Totals {
  events: number;
  accepted: number;
  rejected: number;
  batches: number;
  busy: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

class Replayer {
  readonly totals: Totals = { events: 0, accepted: 0, rejected: 0, batches: 0, busy: 0 };
  private shown = 0;
  /** the progress line, on a terminal */
  progress: Progress | null = null;
  private readonly url: URL;
  private readonly headers: Record<string, string>;

  constructor(
    private readonly base: URL,
    token: string | undefined,
    private readonly timeoutMs: number,
  ) {
    this.url = endpoint(base, '/v1/events');
    this.headers = { ...authHeaders(token), 'content-type': 'application/json' };
  }

  reject(where: string, reason: string): void {
    this.totals.rejected++;
    if (this.shown < SHOWN_REASONS) {
      this.progress?.clear();
      process.stderr.write(`${where}: ${reason}\n`);
    }
    this.shown++;
  }

  /** a line that is not JSON: rejected here, as the server would reject it in NDJSON */
  broken(where: string, reason: string): void {
    this.totals.events++;
    this.reject(where, reason);
  }

  /** POSTs one body; busy answers are retried after a backoff. */
  private async post(body: string): Promise<Answer> {
    let backoff = 50;
    const first = performance.now();
    for (;;) {
      const a = await request(this.base, this.url, { method: 'POST', headers: this.headers, body, timeoutMs: this.timeoutMs });
      if (a.status !== 503) return a;
      this.totals.busy++;
      if (performance.now() - first > 60_000) throw new RemoteError(`the server stayed busy for 60 s: ${describeFailure(a)}`, 503);
      const ra = Number(a.headers['retry-after']);
      await sleep(Number.isFinite(ra) && ra > 0 ? Math.min(ra * 1000, backoff) : backoff);
      backoff = Math.min(backoff * 2, 2000);
    }
  }

  async send(items: Item[]): Promise<void> {
    if (items.length === 0) return;
    const a = await this.post(`[${items.map((i) => i.text).join(',')}]`);
    if (a.status === 200) {
      this.totals.batches++;
      let o: { accepted?: unknown; rejected?: unknown; errors?: { index?: number; reason?: string }[] };
      try {
        o = JSON.parse(a.body.toString('utf8')) as typeof o;
      } catch {
        throw new RemoteError('the answer to a batch is not JSON');
      }
      if (typeof o.accepted !== 'number' || typeof o.rejected !== 'number') {
        throw new RemoteError('the answer to a batch has no accepted/rejected counts');
      }
      this.totals.events += items.length;
      this.totals.accepted += o.accepted;
      const listed = o.errors ?? [];
      for (const e of listed) {
        const item = typeof e.index === 'number' ? items[e.index] : undefined;
        this.reject(item?.where ?? 'event ?', e.reason ?? 'rejected');
      }
      // the server lists the first 10 errors of a batch: count the others too
      const unlisted = o.rejected - listed.length;
      if (unlisted > 0) {
        this.totals.rejected += unlisted;
        this.shown += unlisted;
      }
      return;
    }
    if ((a.status === 400 || a.status === 413) && items.length > 1) {
      // one event the server cannot frame (or too big a body) must not cost its neighbours
      const half = Math.ceil(items.length / 2);
      await this.send(items.slice(0, half));
      await this.send(items.slice(half));
      return;
    }
    if ((a.status === 400 || a.status === 413) && items.length === 1) {
      const item = items[0] as Item;
      this.totals.events++;
      this.reject(item.where, errorOf(a)?.message ?? describeFailure(a));
      return;
    }
    throw new RemoteError(`HTTP ${a.status}: ${describeFailure(a)}`, a.status);
  }

  /** how many reasons were not printed */
  get hidden(): number {
    return Math.max(0, this.shown - SHOWN_REASONS);
  }
}

/** How often the progress line is rewritten, ms. */
const PROGRESS_MS = 200;

/**
 * A progress line on stderr, rewritten in place at most every 200 ms:
 * events sent, the rate, the time since the start. Only on a terminal.
 */
class Progress {
  private readonly timer: NodeJS.Timeout;
  private shown = false;

  constructor(
    private readonly name: string,
    private readonly totals: Totals,
    private readonly t0: number,
  ) {
    this.timer = setInterval(() => this.draw(), PROGRESS_MS);
    this.timer.unref();
  }

  private draw(): void {
    const secs = (performance.now() - this.t0) / 1000;
    const t = this.totals;
    const rate = secs > 0 ? Math.round(t.events / secs) : 0;
    process.stderr.write(`\r\x1b[K${this.name}: ${t.events} events sent (${t.accepted} accepted, ${t.rejected} rejected), ${rate} events/s, ${secs.toFixed(1)} s`);
    this.shown = true;
  }

  /** Wipes the line (before another message, and at the end). */
  clear(): void {
    if (this.shown) process.stderr.write('\r\x1b[K');
    this.shown = false;
  }

  stop(): void {
    clearInterval(this.timer);
    this.clear();
  }
}

/** The first non-blank byte of a file, to tell a JSON array from NDJSON. */
function firstByte(path: string): number | null {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(4096);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) return null;
      for (let i = 0; i < n; i++) {
        const c = buf[i] as number;
        if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09 && c !== 0xef && c !== 0xbb && c !== 0xbf) return c;
      }
    }
  } finally {
    closeSync(fd);
  }
}

function readStdin(): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on('data', (c: Buffer) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks)));
    process.stdin.on('error', reject);
  });
}

/** The lines of a file or of stdin, numbered from 1. */
async function* lines(path: string, text: string | null): AsyncGenerator<[string, number]> {
  if (text !== null) {
    let n = 0;
    for (const line of text.split('\n')) yield [line, ++n];
    return;
  }
  const rl = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  let n = 0;
  for await (const line of rl) yield [line, ++n];
}

function fileError(path: string, e: unknown): CliError {
  const code = (e as NodeJS.ErrnoException).code;
  const why = code === 'ENOENT' ? 'No such file or directory' : code === 'EISDIR' ? 'Is a directory' : code === 'EACCES' ? 'Permission denied' : (e as Error).message;
  return new CliError(`${path}: ${why}`, { usage: false });
}

export const replayCommand: Command = {
  help: [
    'Usage: tallyd replay FILE --url URL [--batch B] [--token T]',
    '',
    'Sends the events of FILE to POST /v1/events in batches (JSON arrays),',
    'in file order, and prints how many the server accepted and rejected.',
    'FILE holds one JSON event per line (NDJSON, e.g. a Dovecot event-exporter',
    'log) or one JSON array of events; - reads standard input. A line that is',
    'not JSON is rejected on its own; the reasons of the first 10 rejected',
    'events go to stderr (FILE:LINE: reason). Exits 0 when every batch was',
    'delivered (rejected events included), 1 when the server could not be',
    'reached or refused a batch.',
    '',
    'Options:',
    `  --url URL            the server (default: $TALLYD_URL, else ${DEFAULT_URL})`,
    '  --batch B            events per request (default 1000)',
    '  --token T            ingest token (default: $TALLYD_INGEST_TOKEN)',
    '  --timeout D          how long to wait for one answer (default 30s; 500ms, 2m, ...)',
    '  --json               print the totals as one JSON object',
    '  -q, --quiet          no progress line (shown on stderr when it is a terminal)',
  ].join('\n'),
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        url: { type: 'string' },
        batch: { type: 'string' },
        token: { type: 'string' },
        timeout: { type: 'string' },
        json: { type: 'boolean', default: false },
        quiet: { type: 'boolean', short: 'q', default: false },
      },
    });
    const [path, ...extra] = positionals;
    if (path === undefined) throw new CliError('missing FILE parameter (an NDJSON or JSON file, or - for stdin)');
    if (extra.length > 0) throw new CliError(`unexpected parameter '${extra[0]}' (one FILE at a time)`);
    const base = serverUrl(values.url);
    const batchSize = intOption('--batch', values.batch, 1000);
    const timeoutMs = durationOption('--timeout', values.timeout, 30_000);
    const name = path === '-' ? '(stdin)' : path;

    // JSON array or NDJSON, by the first non-blank character
    let text: string | null = null;
    let first: number | null;
    try {
      if (path === '-') {
        text = (await readStdin()).toString('utf8');
        const m = /[^\s\uFEFF]/.exec(text);
        first = m === null ? null : m[0].charCodeAt(0);
      } else {
        first = firstByte(path);
      }
    } catch (e) {
      throw fileError(path, e);
    }

    // is anything there? (fail before reading the file, not after its first batch)
    await request(base, endpoint(base, '/livez'), { agent: false, timeoutMs });

    const r = new Replayer(base, values.token, timeoutMs);
    const t0 = performance.now();
    if (process.stderr.isTTY === true && !values.quiet) r.progress = new Progress(name, r.totals, t0);
    const report = (): void => {
      r.progress?.stop();
      const t = r.totals;
      const secs = ((performance.now() - t0) / 1000).toFixed(3);
      if (r.hidden > 0) process.stderr.write(`${name}: ... and ${r.hidden} more rejected event(s)\n`);
      if (values.json) {
        process.stdout.write(
          JSON.stringify({ file: name, events: t.events, accepted: t.accepted, rejected: t.rejected, batches: t.batches, busy_refusals: t.busy, elapsed_s: Number(secs) }) + '\n',
        );
      } else {
        process.stdout.write(`${name}: ${t.events} events, ${t.accepted} accepted, ${t.rejected} rejected (${t.batches} batches, ${secs} s)\n`);
      }
    };

    try {
      if (first === 0x5b) {
        // one JSON array
        let all: unknown;
        try {
          all = JSON.parse(text ?? readFileSync(path, 'utf8').replace(/^\uFEFF/, ''));
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== undefined) throw fileError(path, e);
          throw new CliError(`${name}: not a JSON array: ${(e as Error).message}`, { usage: false });
        }
        const events = all as unknown[];
        for (let i = 0; i < events.length; i += batchSize) {
          await r.send(events.slice(i, i + batchSize).map((ev, j) => ({ text: JSON.stringify(ev) ?? 'null', where: `${name}: event ${i + j}` })));
        }
      } else if (first !== null) {
        let batch: Item[] = [];
        let bytes = 0;
        try {
          for await (const [raw, n] of lines(path, text)) {
            const line = (n === 1 ? raw.replace(/^\uFEFF/, '') : raw).trim();
            if (line === '') continue;
            try {
              JSON.parse(line);
            } catch (e) {
              r.broken(`${name}:${n}`, `invalid JSON: ${(e as Error).message}`);
              continue;
            }
            batch.push({ text: line, where: `${name}:${n}` });
            bytes += line.length + 1;
            if (batch.length >= batchSize || bytes >= FLUSH_BYTES) {
              await r.send(batch);
              batch = [];
              bytes = 0;
            }
          }
        } catch (e) {
          if ((e as NodeJS.ErrnoException).syscall !== undefined) throw fileError(path, e);
          throw e;
        }
        await r.send(batch);
      }
    } catch (e) {
      if (e instanceof RemoteError && r.totals.batches > 0) report();
      r.progress?.stop();
      throw e;
    }
    report();
    return 0;
  },
};
