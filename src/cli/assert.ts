/**
 * `tallyd aggregate --assert EXPR`: a check over the dump's names and
 * statistics, for CI gates. EXPR is `METRIC[ FIELD] STAT OP VALUE`:
 * METRIC a dump name (`imap_command_SELECT`), FIELD `duration` (the
 * default) or one of the metric's `fields`, STAT a dump statistic (count,
 * sum, min, max, avg, median, stddev, variance, %P), OP one of
 * < <= == != >= >, VALUE a number. The measured value is the exact
 * statistic, not the dump's rounded cell.
 */
import { statOf } from '../aggregate/index.js';
import type { DistSnapshot } from '../aggregate/types.js';
import { dumpNamePart } from '../export/dump.js';
import type { EngineSnapshot, NodeSnapshot } from '../metrics/types.js';
import { CliError } from './common.js';

export type AssertOp = '<' | '<=' | '==' | '!=' | '>=' | '>';
const OPS: readonly AssertOp[] = ['<', '<=', '==', '!=', '>=', '>'];
const STATS = ['count', 'sum', 'min', 'max', 'avg', 'median', 'stddev', 'variance'];

export interface Assertion {
  /** the expression as given */
  text: string;
  metric: string;
  field: string;
  stat: string;
  op: AssertOp;
  value: number;
}

export interface AssertResult {
  assertion: Assertion;
  pass: boolean;
  /** the measured values (several when dump rows share the name), empty when there is none */
  measured: number[];
  /** why there is no value: `no such metric`, `no such field` */
  missing: string | null;
}

/** A malformed assertion: a usage error naming the expression and the 1-based column. */
function malformed(text: string, col: number, why: string): CliError {
  return new CliError(`--assert '${text}': column ${col}: ${why}`);
}

/** Parses one `--assert` expression; throws CliError (exit 2) when malformed. */
export function parseAssertion(text: string): Assertion {
  const tokens: { t: string; col: number }[] = [];
  for (const m of text.matchAll(/\S+/g)) tokens.push({ t: m[0], col: (m.index ?? 0) + 1 });
  if (tokens.length < 4 || tokens.length > 5) {
    const col = tokens.length > 5 ? (tokens[5] as { col: number }).col : text.length + 1;
    throw malformed(text, col, `expected METRIC [FIELD] STAT OP VALUE, got ${tokens.length} word(s)`);
  }
  const [metric, ...rest] = tokens as [{ t: string; col: number }, ...{ t: string; col: number }[]];
  const field = rest.length === 4 ? (rest.shift() as { t: string }).t : 'duration';
  const [stat, op, value] = rest as [{ t: string; col: number }, { t: string; col: number }, { t: string; col: number }];
  if (!STATS.includes(stat.t) && !/^%(?:\d+(?:\.\d*)?|\.\d+)$/.test(stat.t)) {
    throw malformed(text, stat.col, `unknown statistic '${stat.t}' (expected ${STATS.join(', ')} or %P such as %99)`);
  }
  if (stat.t.startsWith('%') && Number(stat.t.slice(1)) > 100) throw malformed(text, stat.col, `percentile '${stat.t}' is above 100`);
  if (!(OPS as readonly string[]).includes(op.t)) throw malformed(text, op.col, `unknown operator '${op.t}' (expected ${OPS.join(' ')})`);
  if (!/^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$/i.test(value.t)) throw malformed(text, value.col, `'${value.t}' is not a number`);
  return { text, metric: metric.t, field, stat: stat.t, op: op.t as AssertOp, value: Number(value.t) };
}

function compare(a: number, op: AssertOp, b: number): boolean {
  switch (op) {
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '==':
      return a === b;
    case '!=':
      return a !== b;
    case '>=':
      return a >= b;
    case '>':
      return a > b;
  }
}

/** Every dump row's distributions by dump name (`metric`, `metric_child`, ...), fields by name. */
function dumpRows(snap: EngineSnapshot): Map<string, Map<string, DistSnapshot | undefined>[]> {
  const rows = new Map<string, Map<string, DistSnapshot | undefined>[]>();
  for (const ms of snap.metrics) {
    const fields = ms.def.fields;
    const visit = (node: NodeSnapshot, name: string): void => {
      const byField = new Map<string, DistSnapshot | undefined>([['duration', node.dists[0]]]);
      for (let i = 0; i < fields.length; i++) byField.set(fields[i] as string, node.dists[i + 1]);
      const list = rows.get(name);
      if (list === undefined) rows.set(name, [byField]);
      else list.push(byField);
      for (const c of node.children) visit(c, `${name}_${dumpNamePart(c.name)}`);
    };
    visit(ms.root, ms.def.name);
  }
  return rows;
}

/**
 * Evaluates the assertions over a full-depth snapshot. A name no dump row
 * has fails (`no such metric`), as does a field the metric does not have;
 * rows sharing a name must each pass.
 */
export function evaluateAssertions(snap: EngineSnapshot, assertions: readonly Assertion[]): AssertResult[] {
  const rows = dumpRows(snap);
  return assertions.map((a) => {
    const list = rows.get(a.metric);
    if (list === undefined) return { assertion: a, pass: false, measured: [], missing: 'no such metric' };
    const measured: number[] = [];
    for (const byField of list) {
      if (!byField.has(a.field)) return { assertion: a, pass: false, measured: [], missing: `no such field '${a.field}'` };
      const d = byField.get(a.field);
      const v = d === undefined ? undefined : statOf(d, a.stat);
      measured.push(v ?? 0);
    }
    return { assertion: a, pass: measured.every((v) => compare(v, a.op, a.value)), measured, missing: null };
  });
}

/** A measured value as printed: integers plainly, others with up to 6 decimals. */
export function formatMeasured(v: number): string {
  if (Number.isInteger(v)) return String(v);
  return String(Math.round(v * 1e6) / 1e6);
}

/** `PASS expr (measured 300)` / `FAIL expr (measured 3)` / `FAIL expr (no such metric)` */
export function formatResult(r: AssertResult): string {
  const what = r.missing ?? `measured ${r.measured.map(formatMeasured).join(', ')}`;
  return `${r.pass ? 'PASS' : 'FAIL'} ${r.assertion.text} (${what})`;
}
