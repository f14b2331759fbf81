/** The parsed form of an event filter (Dovecot's grammar, contract §4). */

export type CmpOp = '=' | '<' | '>' | '<=' | '>=';

export type LogType = 'debug' | 'info' | 'warning' | 'error' | 'fatal' | 'panic';

/** `category=<one of these>` means the log type of the emission, not a category. */
export const LOG_TYPES: ReadonlySet<string> = new Set<LogType>(['debug', 'info', 'warning', 'error', 'fatal', 'panic']);

/** How a field condition's value was classified (docs/contract.md §4), in that order. */
export type FieldOperand =
  /** an integer; `unit` says whether it came from a size or interval (µs) */
  | { readonly kind: 'int'; readonly value: number; readonly text: string; readonly unit: 'none' | 'size' | 'interval' }
  /** an IP address or CIDR; `words` are 16-bit words (2 for IPv4, 8 for IPv6) */
  | {
      readonly kind: 'ip';
      readonly family: 4 | 6;
      readonly words: readonly number[];
      readonly bits: number;
      readonly zone: string;
      readonly text: string;
    }
  /** a number with the ambiguous unit M (MiB or minutes): never matches a number */
  | { readonly kind: 'ambiguous'; readonly text: string }
  /** a string without wildcards, unescaped */
  | { readonly kind: 'string'; readonly text: string }
  /** a wildcard pattern, still escaped; `numeric` when made only of digits, `*` and `?` */
  | { readonly kind: 'wildcard'; readonly pattern: string; readonly numeric: boolean };

export type FilterNode =
  | { readonly type: 'and' | 'or'; readonly left: FilterNode; readonly right: FilterNode; readonly offset: number }
  | { readonly type: 'not'; readonly operand: FilterNode; readonly offset: number }
  /** `name` is unescaped for an exact name, the escaped pattern when `wildcard` */
  | { readonly type: 'event'; readonly name: string; readonly wildcard: boolean; readonly offset: number }
  /** `logType` set: the log type of the emission; else the category `name` */
  | { readonly type: 'category'; readonly name: string; readonly logType: LogType | null; readonly offset: number }
  | { readonly type: 'source_location'; readonly location: string; readonly offset: number }
  | {
      readonly type: 'field';
      readonly key: string;
      readonly op: CmpOp;
      readonly value: FieldOperand;
      readonly offset: number;
    };

export type LogicNode = Extract<FilterNode, { type: 'and' | 'or' }>;

export interface ParsedFilter {
  /** the expression, or null for an empty filter (which matches nothing) */
  readonly ast: FilterNode | null;
  /** Dovecot's export form, e.g. `(event="abc")`; empty for an empty filter */
  readonly canonical: string;
}
