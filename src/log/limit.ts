/**
 * At most one log line per key (peer and reason, say) per window: a client
 * that sends ten thousand bad batches a second costs one line every ten
 * seconds, which says how many were left out.
 */

/** Keys remembered at most; past that, the oldest are forgotten (their next line is logged at once). */
const MAX_KEYS = 4096;

export class LogLimiter {
  /** key → when its window started and how many lines it has held back since */
  private readonly keys = new Map<string, { since: number; suppressed: number }>();

  constructor(
    readonly windowMs = 10_000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * Whether a line for `key` may be logged now. When it may, the result is
   * the number of lines held back for `key` since the last one logged (0 the
   * first time); null when this one is held back.
   */
  take(key: string): number | null {
    const t = this.now();
    const k = this.keys.get(key);
    if (k !== undefined && t - k.since < this.windowMs) {
      k.suppressed++;
      return null;
    }
    const suppressed = k?.suppressed ?? 0;
    if (k !== undefined) this.keys.delete(key);
    else if (this.keys.size >= MAX_KEYS) this.keys.delete(this.keys.keys().next().value as string);
    this.keys.set(key, { since: t, suppressed: 0 });
    return suppressed;
  }
}
