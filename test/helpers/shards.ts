/**
 * Killing a shard's worker while it is working, for the tests of lost
 * batches. "While it is working" must not depend on the scheduler: a test
 * that hands over batches and then polls (yielding to the event loop) lets
 * the main thread settle acks meanwhile, and on a loaded machine the worker
 * may have answered everything before the kill lands (nothing lost, the test
 * fails although tallyd is right).
 *
 * So: the worker to kill is looked up first; the caller hands over its
 * batches; `killWhenTaken` then blocks this thread (Atomics.wait, no
 * event-loop turn, so no ack is settled) until the shard has taken a record
 * out of its ring, and terminates the worker at once; `restarted` waits for
 * its replacement. What the worker answered before the kill landed is still
 * merged (the runtime drains the worker's port), so a kill that came too
 * late shows as no lost batch: the caller tries again with fresh batches
 * (bounded), and checks every kill.
 */
import type { Worker } from 'node:worker_threads';
import { afterEach } from 'vitest';
import type { ResolvedConfig } from '../../src/config/index.js';
import { Runtime } from '../../src/shard/runtime.js';
import { until } from './wait.js';

export interface Victim {
  shard: number;
  thread: Worker;
  threadId: number;
  /** records the shard had taken out of its ring when it was picked */
  takenBefore: number;
  restartsBefore: number;
}

/** Shard `shard`'s live worker as piscina lists it (a restarted one may be listed a moment after it said ready). */
export async function pickVictim(rt: Runtime, shard: number): Promise<Victim> {
  let thread: Worker | undefined;
  await until(() => (thread = rt.piscina.threads.find((t) => t.threadId === rt.threadIds[shard])) !== undefined, 20_000, `shard ${shard}'s worker in piscina's threads`);
  const s = rt.stats().shards[shard];
  return { shard, thread: thread as Worker, threadId: (thread as Worker).threadId, takenBefore: s?.taken ?? 0, restartsBefore: s?.restarts ?? 0 };
}

const blocker = new Int32Array(new SharedArrayBuffer(4));

/**
 * Blocks (no event-loop turn) until the victim's shard has taken a record
 * since it was picked, then terminates its worker; resolves once the thread
 * is gone (the runtime is replacing it: see `restarted`).
 */
export async function killWhenTaken(rt: Runtime, v: Victim, deadlineMs = 20_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while ((rt.stats().shards[v.shard]?.taken ?? 0) <= v.takenBefore) {
    if (Date.now() > deadline) throw new Error(`shard ${v.shard} took no record within ${deadlineMs} ms`);
    Atomics.wait(blocker, 0, 0, 1);
  }
  await v.thread.terminate();
}

/** Resolves once the runtime has counted the victim's crash (its lost batches answered) and the new worker is ready. */
export function restarted(rt: Runtime, v: Victim): Promise<void> {
  return until(
    () => (rt.stats().shards[v.shard]?.restarts ?? 0) > v.restartsBefore && rt.threadIds[v.shard] !== v.threadId && rt.threadIds[v.shard] !== -1,
    20_000,
    `shard ${v.shard} to be restarted`,
  );
}

/**
 * `start(shards, ringBytes)` for one test file's config; every runtime it
 * started is closed after each test.
 */
/** Runtimes on `config`; every batch goes to a shard (inline_batch_bytes 0) unless `inlineBatchBytes` is given. */
export function runtimeStarter(config: ResolvedConfig, inlineBatchBytes = 0): (shards: number, ringBytes?: number) => Promise<Runtime> {
  let running: Runtime[] = [];
  afterEach(async () => {
    for (const rt of running) await rt.close(() => undefined).catch(() => undefined);
    running = [];
  });
  return async (shards, ringBytes = 1 << 20) => {
    const rt = await Runtime.start({ config, shards, ringBytes, inlineBatchBytes });
    running.push(rt);
    return rt;
  };
}
