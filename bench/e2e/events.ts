/**
 * The events `tallyd load` sends: its own generator (src/cli/mailevents.ts,
 * same seed, users and pool size, plain msgpack maps), so the references
 * aggregate exactly what the server was sent. Falls back to the bench's
 * generator of the same shape when that module is not built.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MailEvents, packBatch } from '../fixtures/mail.js';

const MAILEVENTS = new URL('../../src/cli/mailevents.js', import.meta.url);

interface Generator {
  batch(n: number): unknown[];
}

export interface EventPool {
  /** where the events come from */
  source: string;
  decoded: unknown[][];
  encoded: Buffer[];
}

export async function loadPool(opts: { seed: number; users: number; pool: number; batch: number }): Promise<EventPool> {
  let gen: Generator;
  let source: string;
  if (existsSync(fileURLToPath(MAILEVENTS))) {
    const mod = (await import(MAILEVENTS.href)) as { MailEventGenerator: new (o: { seed: number; users: number }) => Generator };
    gen = new mod.MailEventGenerator({ seed: opts.seed, users: opts.users });
    source = `tallyd load's generator (seed ${opts.seed}, ${opts.users} users, ${opts.pool} batches)`;
  } else {
    gen = new MailEvents({ seed: opts.seed, users: opts.users });
    source = `bench/fixtures/mail.ts (src/cli/mailevents.js not built; seed ${opts.seed}, ${opts.users} users)`;
  }
  const decoded: unknown[][] = [];
  for (let i = 0; i < opts.pool; i++) decoded.push(gen.batch(opts.batch));
  return { source, decoded, encoded: decoded.map(packBatch) };
}
