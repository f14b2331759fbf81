/**
 * A metric definition's canonical form: what must be equal for a saved state
 * (or, on reload, a running metric) to go on counting for it. The filter in
 * its canonical form (so spacing and quoting do not matter), the fields in
 * order, and group_by; the description does not count.
 */
import { formatGroupBy } from '../config/index.js';
import type { MetricDef } from '../config/types.js';
import { parseFilter } from '../filter/index.js';

export function defKey(def: MetricDef): string {
  let filter: string;
  try {
    filter = parseFilter(def.filter).canonical;
  } catch {
    filter = def.filter;
  }
  return JSON.stringify([def.name, filter, def.fields, formatGroupBy(def.groupBy)]);
}
