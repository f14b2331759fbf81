/**
 * `tallyd load` (src/cli/load.ts) as a child process: one bounded run, its
 * `--json` report parsed.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startNode } from './proc.js';
import { TALLYD_BIN } from './server.js';

const LOAD_JS = fileURLToPath(new URL('../../src/cli/load.js', import.meta.url));

export interface LoadResult {
  accepted: number;
  acceptedPerSec: number;
  ackP50Ms: number;
  ackP99Ms: number;
  busy: number;
  errors: number;
  elapsedS: number;
  /** the report as printed */
  raw: Record<string, unknown>;
}

export interface LoadArgs {
  url: string;
  transport: 'http' | 'ws';
  seconds: number;
  batch?: number;
  /** events/s, 0 = as fast as possible */
  rate?: number;
  connections?: number;
  users?: number;
  seed?: number;
}

/** whether `tallyd load` is built (dist/src/cli/load.js) */
export function loadAvailable(): boolean {
  return existsSync(LOAD_JS);
}

function num(o: Record<string, unknown>, ...keys: string[]): number {
  for (const k of keys) if (typeof o[k] === 'number') return o[k];
  throw new Error(`tallyd load --json: none of ${keys.join(', ')} in ${JSON.stringify(o)}`);
}

export async function runLoad(a: LoadArgs): Promise<LoadResult> {
  const args = [
    TALLYD_BIN, 'load', '--url', a.url, '--transport', a.transport, '--format', 'msgpack',
    '--duration', String(a.seconds), '--batch', String(a.batch ?? 1000), '--rate', String(Math.round(a.rate ?? 0)),
    '--connections', String(a.connections ?? 4), '--seed', String(a.seed ?? 1), '--users', String(a.users ?? 1000), '--json', '--quiet',
  ];
  const child = startNode(args, (a.seconds + 60) * 1000);
  const f = await child.done;
  const line = f.stdout.trim().split('\n').pop() ?? '';
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(line) as Record<string, unknown>;
  } catch {
    throw new Error(`tallyd load (${a.transport}) exited ${f.code ?? f.signal}${f.timedOut ? ' (timed out)' : ''} without a JSON report:\n${f.stderr.slice(-2000)}`);
  }
  return {
    accepted: num(raw, 'events_accepted', 'accepted'),
    acceptedPerSec: num(raw, 'accepted_per_s', 'events_per_s', 'eventsPerSec'),
    ackP50Ms: num(raw, 'latency_p50_ms', 'ack_p50_ms'),
    ackP99Ms: num(raw, 'latency_p99_ms', 'ack_p99_ms'),
    busy: typeof raw.busy_refusals === 'number' ? raw.busy_refusals : 0,
    errors: typeof raw.errors === 'number' ? raw.errors : 0,
    elapsedS: typeof raw.elapsed_s === 'number' ? raw.elapsed_s : a.seconds,
    raw,
  };
}
