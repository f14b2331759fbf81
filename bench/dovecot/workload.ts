/**
 * The pre-generated load: N imap_command_finished events in sessions, from
 * one seed, encoded once for each server before anything is measured, and
 * the client's tallies of them.
 */
import { CATEGORIES, SessionGenerator, flatFields } from './sessions.js';
import { Tally } from './tally.js';
import { BatchPacker, exportedEvent } from './tallyd-events.js';
import { categoryLine, sessionLines } from './writer-protocol.js';

export interface WorkloadOptions {
  events: number;
  seed: number;
  /** stats-writer connections (imap processes) */
  connections: number;
  /** events per msgpack batch */
  batchSize: number;
  /** encode for the stats-writer socket / for tallyd's HTTP ingest */
  writer: boolean;
  http: boolean;
}

export interface Workload {
  events: number;
  sessions: number;
  /** per writer connection: its byte stream in chunks (CATEGORY lines, then BEGIN/EVENT…/END per session) */
  writerChunks: Buffer[][];
  writerBytes: number;
  batches: Buffer[];
  /** events in each batch */
  batchCounts: number[];
  msgpackBytes: number;
  tally: Tally;
  buildSeconds: number;
}

const CHUNK_CHARS = 256 * 1024;
const HOSTNAME = 'imap1.example.net';

export function buildWorkload(o: WorkloadOptions): Workload {
  const t0 = performance.now();
  const gen = new SessionGenerator({ seed: o.seed, connections: o.connections });
  const tally = new Tally();
  const packer = new BatchPacker(o.batchSize);
  const writerChunks: Buffer[][] = Array.from({ length: o.connections }, () => []);
  const pending: string[] = Array.from({ length: o.connections }, () => CATEGORIES.map((c) => categoryLine(c)).join(''));
  /** per connection: the next BEGIN id (ids may be reused after END; these never are) */
  const nextId: number[] = new Array<number>(o.connections).fill(1);
  let writerBytes = 0;
  const flush = (c: number): void => {
    const b = Buffer.from(pending[c] as string, 'utf8');
    (writerChunks[c] as Buffer[]).push(b);
    writerBytes += b.length;
    pending[c] = '';
  };
  let events = 0;
  let sessions = 0;
  while (events < o.events) {
    const s = gen.next(o.events - events);
    sessions++;
    events += s.commands.length;
    for (const cmd of s.commands) {
      tally.add(cmd.name ?? '', flatFields(s, cmd));
      if (o.http) packer.add(exportedEvent(s, cmd, HOSTNAME));
    }
    if (o.writer) {
      const c = s.connection;
      pending[c] += sessionLines(s, nextId[c] as number);
      nextId[c] = (nextId[c] as number) + 1;
      if ((pending[c] as string).length >= CHUNK_CHARS) flush(c);
    }
  }
  packer.flush();
  if (o.writer) for (let c = 0; c < o.connections; c++) if ((pending[c] as string).length > 0) flush(c);
  return {
    events,
    sessions,
    writerChunks,
    writerBytes,
    batches: packer.batches,
    batchCounts: packer.counts,
    msgpackBytes: packer.bytes,
    tally,
    buildSeconds: (performance.now() - t0) / 1000,
  };
}
