import type { TallyEvent } from '../event/types.js';

/** A filter compiled into a predicate tree of closures (built once, never per event). */
export interface CompiledFilter {
  /** the source text it was compiled from */
  readonly source: string;
  /** true when every match needs a named event (Dovecot's fast path, contract §4) */
  readonly requiresName: boolean;
  /** Dovecot's canonical export form, e.g. `(event="abc")` */
  readonly canonical: string;
  match(ev: TallyEvent): boolean;
}

/** Gives a field key its slot of TallyEvent.vals (src/event/plan.ts FieldSlots). */
export interface SlotResolver {
  slotOf(key: string): number;
}
