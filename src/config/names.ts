/** Name rules shared by the config validators. */

const OPENMETRICS_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const FIELD_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** A valid OpenMetrics metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`. */
export function isOpenMetricsName(s: string): boolean {
  return OPENMETRICS_NAME.test(s);
}

/** An event field name as `fields` and `group_by` take it: one word. */
export function isFieldName(s: string): boolean {
  return FIELD_NAME.test(s);
}

/** Words of a space-separated list with their offsets in `s`. */
export function splitWords(s: string, separators: RegExp = /[ \t\r\n]/): { word: string; offset: number }[] {
  const out: { word: string; offset: number }[] = [];
  let i = 0;
  while (i < s.length) {
    while (i < s.length && separators.test(s[i] as string)) i++;
    const start = i;
    while (i < s.length && !separators.test(s[i] as string)) i++;
    if (i > start) out.push({ word: s.slice(start, i), offset: start });
  }
  return out;
}
