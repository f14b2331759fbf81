/**
 * Wire pieces of the stats-reader protocol (Dovecot 2.3.19
 * src/stats/client-reader.c, src/lib/strescape.c): tab escaping, line
 * splitting and the DUMP reply. See docs/dovecot-sockets.md "stats-reader".
 */
import { parsePercent, percentileOf, statOf } from '../aggregate/index.js';
import type { DistSnapshot } from '../aggregate/types.js';
import { formatC2, formatFloor } from '../export/cformat.js';
import { dumpNamePart } from '../export/dump.js';
import type { EngineSnapshot, NodeSnapshot } from '../metrics/types.js';
import { tabEscape } from './writer-encode.js';
import { unescapeArg } from './writer-line.js';


/** str_append_tabescaped (the one escaping of both Dovecot sockets). */
export const readerTabEscape = tabEscape;

/**
 * t_strsplit_tabescaped: split on TAB, unescape each part. An empty line
 * gives no arguments at all (Dovecot's "empty line"); a lone TAB gives two
 * empty ones.
 */
export function splitTabEscaped(line: string): string[] {
  if (line === '') return [];
  return line.split('\t').map(unescapeArg);
}

type Cell = (d: DistSnapshot | undefined) => string;

/**
 * The value of one DUMP argument, as reader_client_dump_stats prints it:
 * count %u; sum, min, max, median and `%P` as integers; avg and variance
 * `%.02f`; any other word (stddev included: doveadm asks for `variance` and
 * takes the square root itself) an empty cell. The figures are the ones
 * renderDump prints (statOf / percentileOf, same formatting).
 */
export function readerColumn(field: string): Cell {
  if (field.charCodeAt(0) === 37) {
    const p = parsePercent(field.slice(1));
    return (d) => {
      const v = d === undefined ? undefined : percentileOf(d, p);
      return v === undefined ? '' : formatFloor(v);
    };
  }
  switch (field) {
    case 'count':
    case 'sum':
    case 'min':
    case 'max':
    case 'median':
      return (d) => {
        const v = d === undefined ? undefined : statOf(d, field);
        return v === undefined ? '' : formatFloor(v);
      };
    case 'avg':
    case 'variance':
      return (d) => {
        const v = d === undefined ? undefined : statOf(d, field);
        return v === undefined ? '' : formatC2(v);
      };
    default:
      return () => '';
  }
}

/**
 * The reply to `DUMP\t<f1>\t<f2>…` (reader_client_input_dump): per node, root
 * first then its children pre-order in first-seen order, a line
 * `<name>\t<duration values…>` then `\t<field>\t<values…>` per configured
 * field; an empty line ends the reply. The root name is tab-escaped; a
 * child's name is `<parent>_<sub name>` with space, TAB, CR and LF made `_`
 * and nothing escaped (reader_client_append_sub_name), as Dovecot sends it.
 */
export function renderReaderDump(snap: EngineSnapshot, fields: readonly string[]): string {
  const columns = fields.map(readerColumn);
  const out: string[] = [];
  const values = (d: DistSnapshot | undefined): string => {
    let s = '';
    for (const c of columns) s += `\t${c(d)}`;
    return s;
  };
  for (const ms of snap.metrics) {
    const cfg = ms.def.fields.map(readerTabEscape);
    const visit = (node: NodeSnapshot, name: string, shown: string): void => {
      let line = shown + values(node.dists[0]);
      for (let i = 0; i < cfg.length; i++) line += `\t${cfg[i] as string}${values(node.dists[i + 1])}`;
      out.push(line);
      for (const c of node.children) {
        const child = `${name}_${dumpNamePart(c.name)}`;
        visit(c, child, child);
      }
    };
    visit(ms.root, dumpNamePart(ms.def.name), readerTabEscape(ms.def.name));
  }
  out.push('', '');
  return out.join('\n');
}
