type WaitAsyncResult =
  | { async: false; value: 'not-equal' | 'timed-out' }
  | { async: true; value: Promise<'ok' | 'timed-out'> };

type WaitAsync = (
  typedArray: Int32Array,
  index: number,
  value: number,
  timeoutMs: number,
) => WaitAsyncResult;

const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

const settled: Promise<void> = Promise.resolve();

/** Largest timeout accepted by a wait (the setTimeout limit). */
export const MAX_WAIT_MS = 2 ** 31 - 2;

export function checkTimeout(timeoutMs: number): void {
  if (!(timeoutMs >= 0 && timeoutMs <= MAX_WAIT_MS)) {
    throw new RangeError(`wait timeout must be from 0 to ${MAX_WAIT_MS} ms, got ${timeoutMs}`);
  }
}

/**
 * Resolves once `i32[index]` is notified, is found not to hold `expected`,
 * or `timeoutMs` has passed. Never blocks the thread. A pending
 * Atomics.waitAsync does not keep a worker's event loop alive, so a timer of
 * the same length does, and settles the promise should the wait outlive it.
 */
export function waitChange(
  i32: Int32Array,
  index: number,
  expected: number,
  timeoutMs: number,
): Promise<void> {
  const res = waitAsync(i32, index, expected, timeoutMs);
  if (!res.async) return settled;
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs + 1);
    void res.value.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
