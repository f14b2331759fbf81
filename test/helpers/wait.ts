/** Bounded waits for tests: a deadline on waiting for a condition, never an assertion on time. */

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolves once `cond()` holds; throws with `what` after `ms` (a bound on the wait, not an assertion on time). */
export async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string, stepMs = 50): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`gave up after ${ms} ms waiting for: ${what}`);
    await sleep(stepMs);
  }
}
