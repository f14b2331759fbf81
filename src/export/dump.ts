/**
 * The `doveadm stats dump` table (docs/contract.md §8.5).
 */
import { parsePercent, percentileOf, statOf } from '../aggregate/index.js';
import type { DistSnapshot } from '../aggregate/types.js';
import type { EngineSnapshot, NodeSnapshot } from '../metrics/types.js';
import { formatC2, formatFloor } from './cformat.js';
import type { DumpOptions } from './types.js';

export const DEFAULT_DUMP_FIELDS: readonly string[] = ['count', 'sum', 'min', 'max', 'avg', 'median', 'stddev', '%95'];

export const CONTENT_TYPE_DUMP = 'text/plain; charset=utf-8';

/** `-f` / `?fields=`: split on spaces and commas, empty words dropped; an empty list means the default. */
export function parseDumpFields(spec: string | undefined | null): string[] {
  const words = spec === undefined || spec === null ? [] : spec.split(/[ ,]+/).filter((w) => w !== '');
  return words.length === 0 ? DEFAULT_DUMP_FIELDS.slice() : words;
}

const TWO_DECIMALS = new Set(['avg', 'stddev', 'variance']);

type Cell = (d: DistSnapshot | undefined) => string;

/** The formatter of one column, decided once per render (a `%P` is parsed once). */
export function dumpColumn(field: string): Cell {
  if (field.charCodeAt(0) === 37) {
    const p = parsePercent(field.slice(1));
    return (d) => {
      const v = d === undefined ? undefined : percentileOf(d, p);
      return v === undefined ? '' : formatFloor(v);
    };
  }
  const two = TWO_DECIMALS.has(field);
  return (d) => {
    const v = d === undefined ? undefined : statOf(d, field);
    return v === undefined ? '' : two ? formatC2(v) : formatFloor(v);
  };
}

/** One cell: avg, stddev and variance as `%.2f`, the rest as integers (floor), an unknown field empty. */
export function dumpCell(d: DistSnapshot | undefined, field: string): string {
  return dumpColumn(field)(d);
}

/** A child's part of a dump name: space, tab, CR and LF become `_`. */
export function dumpNamePart(name: string): string {
  return /[ \t\r\n]/.test(name) ? name.replace(/[ \t\r\n]/g, '_') : name;
}

/**
 * Header `metric_name\tfield\t<fields>`, then per node (root first, children
 * pre-order in first-seen order) a `duration` row and one row per configured
 * field. Names are printed as the engine made them, in both compat modes:
 * two children with one display name print two rows with one name, as
 * Dovecot does.
 */
export function renderDump(snap: EngineSnapshot, fields: readonly string[], _opts: DumpOptions): string {
  const out: string[] = [['metric_name', 'field', ...fields].join('\t')];
  const columns = fields.map(dumpColumn);
  const nf = columns.length;
  const row = (name: string, field: string, d: DistSnapshot | undefined): void => {
    let line = `${name}\t${field}`;
    for (let i = 0; i < nf; i++) line += `\t${(columns[i] as Cell)(d)}`;
    out.push(line);
  };
  for (const ms of snap.metrics) {
    const cfg = ms.def.fields;
    const visit = (node: NodeSnapshot, name: string): void => {
      row(name, 'duration', node.dists[0]);
      for (let i = 0; i < cfg.length; i++) row(name, cfg[i] as string, node.dists[i + 1]);
      for (const c of node.children) visit(c, `${name}_${dumpNamePart(c.name)}`);
    };
    visit(ms.root, ms.def.name);
  }
  out.push('');
  return out.join('\n');
}
