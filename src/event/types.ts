/**
 * The event as the aggregation pipeline sees it (docs/contract.md §2.1).
 *
 * One `TallyEvent` object is reused per shard for every event it processes
 * (fixed shape, no per-event allocation): never keep a reference to it.
 */
export type FieldValue = string | number | readonly string[];

export interface TallyEvent {
  /** event name (docs/contract.md §2.1 `event`, alias `name`) */
  name: string;
  /** categories, or undefined when the event has none */
  categories: readonly string[] | undefined;
  /**
   * The event's fields exactly as decoded. Values are validated to be
   * string | number (finite) | string[] | null. Read them only through
   * `fieldOf`, which ignores inherited properties (`constructor`, `__proto__`).
   */
  fields: Readonly<Record<string, unknown>> | undefined;
  /**
   * the event's top-level `hostname` (where it came from), or undefined; read
   * as field `hostname` when the event has no such field (README "Event shape")
   */
  hostname?: string | undefined;
  /** duration in microseconds (docs/contract.md §2.2), an integer */
  duration: number;
  /** whether the duration or a field is a negative number (recorded as 0 in histograms) */
  negative: boolean;
  /**
   * The fields the metrics read, by slot (src/event/plan.ts): a value, or
   * null when absent. What compiled metrics and filters read when they were
   * compiled with slots; an engine keeps it filled.
   */
  vals?: (FieldValue | null)[];
}

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * The value of field `key`, or undefined when it is absent (missing or null).
 * `hostname` with no value of its own is the event's top-level hostname.
 * `duration` is not special here: callers that need the event's duration read
 * `ev.duration` (the compilers resolve that once, not per event).
 */
export function fieldOf(ev: TallyEvent, key: string): FieldValue | undefined {
  const f = ev.fields;
  const v = f === undefined || !hasOwn.call(f, key) ? null : f[key];
  if (v !== null && v !== undefined) return v as FieldValue;
  return key === 'hostname' ? ev.hostname : undefined;
}

export function newEvent(): TallyEvent {
  return { name: '', categories: undefined, fields: undefined, hostname: undefined, duration: 0, negative: false, vals: [] };
}
