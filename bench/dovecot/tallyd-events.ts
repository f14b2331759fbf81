/**
 * The same sessions as Dovecot's event exporter sends them (format = json,
 * format_args = time-rfc3339; docs/dovecot.md): one flat event per command,
 * the session's fields inherited into `fields`, `duration` (µs) as the stats
 * process computed it, and packed as 1000-event msgpack batches for
 * `POST /v1/events` (Content-Type application/msgpack).
 */
import { Packr } from 'msgpackr';
import { durationOf, jsonValue, rfc3339, type ImapSession, type SourceEvent } from './sessions.js';

export interface ExportedEvent {
  event: string;
  hostname: string;
  start_time: string;
  end_time: string;
  categories: string[];
  fields: Record<string, string | number | string[]>;
}

/** event_flatten + the JSON exporter: the session's fields, then `duration`, then the command's own. */
export function exportedEvent(s: ImapSession, cmd: SourceEvent, hostname: string): ExportedEvent {
  const fields: Record<string, string | number | string[]> = {};
  for (const f of s.session.fields) fields[f[0]] = jsonValue(f);
  fields['duration'] = durationOf(cmd);
  for (const f of cmd.fields) fields[f[0]] = jsonValue(f);
  return {
    event: cmd.name ?? '',
    hostname,
    start_time: rfc3339(cmd.created),
    end_time: rfc3339(cmd.lastSent ?? cmd.created),
    categories: [...new Set([...s.session.categories, ...cmd.categories])],
    fields,
  };
}

/** plain msgpack maps (tallyd refuses msgpackr's record extension) */
const packr = new Packr({ useRecords: false });

/** Collects events into msgpack batches of `size` (an array of events per body). */
export class BatchPacker {
  readonly batches: Buffer[] = [];
  readonly counts: number[] = [];
  bytes = 0;
  private pending: ExportedEvent[] = [];

  constructor(private readonly size: number) {}

  add(e: ExportedEvent): void {
    this.pending.push(e);
    if (this.pending.length >= this.size) this.flush();
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const body = Buffer.from(packr.pack(this.pending)); // a private copy, whatever msgpackr reuses
    this.batches.push(body);
    this.counts.push(this.pending.length);
    this.bytes += body.length;
    this.pending = [];
  }
}
