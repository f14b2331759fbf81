import type { TallyEvent } from '../event/types.js';
import type { ParsedFilter } from './ast.js';
import { canonicalOf, requiresEventName } from './canonical.js';
import { compilePredicate } from './compile.js';
import { parseAst } from './parser.js';
import type { CompiledFilter, SlotResolver } from './types.js';

export type { CompiledFilter, SlotResolver } from './types.js';
export type { CmpOp, FieldOperand, FilterNode, LogType, ParsedFilter } from './ast.js';
export { FilterSyntaxError } from './errors.js';
export { MAX_NESTING } from './parser.js';

/** Parses a filter into its syntax tree and Dovecot's canonical export form. Throws FilterSyntaxError. */
export function parseFilter(source: string): ParsedFilter {
  const ast = parseAst(source);
  return { ast, canonical: canonicalOf(ast) };
}

class Filter implements CompiledFilter {
  constructor(
    readonly source: string,
    readonly requiresName: boolean,
    readonly canonical: string,
    readonly match: (ev: TallyEvent) => boolean,
  ) {}
}

/**
 * Parses and compiles a filter into a tree of specialised predicates. The
 * empty filter compiles and matches nothing. Throws FilterSyntaxError.
 * With `slots`, field conditions read TallyEvent.vals (an engine's events);
 * without, the event's `fields` object.
 */
export function compileFilter(source: string, slots: SlotResolver | null = null): CompiledFilter {
  const { ast, canonical } = parseFilter(source);
  const requiresName = ast === null || requiresEventName(ast);
  return new Filter(source, requiresName, canonical, compilePredicate(ast, requiresName, slots));
}
