/**
 * The last warnings and errors of the process, for the live page: rejected
 * events with their reasons, refused and lost batches, shard deaths. A
 * fixed ring on the main thread; an entry equal to the newest one (same
 * level, source and message) is folded into it as a repeat, so a client
 * sending the same bad event in a loop takes one line, not the whole ring.
 */
import type { IngestOutcome } from '../../shard/runtime.js';

export type RecentLevel = 'warn' | 'error';

export interface RecentEntry {
  /** Unix time of the latest occurrence, ms */
  t: number;
  level: RecentLevel;
  /** what it is about: `ingest`, `shard` */
  source: string;
  message: string;
  /** occurrences folded into this entry (1: one) */
  count: number;
}

/** Entries kept. */
export const RECENT_MAX = 50;

export class RecentLog {
  private readonly entries: RecentEntry[] = [];
  /** bumped on every change: the stream sends the list again only when it moved */
  seq = 0;

  add(level: RecentLevel, source: string, message: string): void {
    this.seq++;
    const last = this.entries[this.entries.length - 1];
    if (last !== undefined && last.level === level && last.source === source && last.message === message) {
      last.count++;
      last.t = Date.now();
      return;
    }
    this.entries.push({ t: Date.now(), level, source, message, count: 1 });
    if (this.entries.length > RECENT_MAX) this.entries.shift();
  }

  /** newest first */
  list(): RecentEntry[] {
    return this.entries.map((e) => ({ ...e })).reverse();
  }

  /** Notes what went wrong with a batch (nothing for a clean one). `via`: `HTTP from 10.0.0.1`, `WebSocket`. */
  noteOutcome(o: IngestOutcome, via: string): void {
    switch (o.status) {
      case 'ok': {
        if (o.rejected === 0 && o.fatal === undefined) return;
        const reasons = [...new Set(o.errors.map((e) => e.reason))].slice(0, 3).join(', ');
        const what = `${o.rejected} of ${o.accepted + o.rejected} events rejected`;
        this.add('warn', 'ingest', `${via}: ${what}${reasons !== '' ? ` (${reasons})` : ''}${o.fatal !== undefined ? `; ${o.fatal}` : ''}`);
        return;
      }
      case 'framing':
        this.add('warn', 'ingest', `${via}: batch refused: ${o.message}`);
        return;
      case 'internal':
        this.add('error', 'ingest', `${via}: the shard failed on a batch: ${o.message}`);
        return;
      case 'busy':
        this.add('warn', 'ingest', `${via}: batch refused, every shard ring is full (backpressure)`);
        return;
      case 'lost':
        this.add('error', 'ingest', `${via}: batch lost with a shard worker that died`);
        return;
      case 'closed':
        return;
    }
  }
}
