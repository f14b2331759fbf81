import type { TallyEvent } from '../event/types.js';
import type { FilterNode } from './ast.js';
import { unchain } from './canonical.js';
import { fieldPredicate, type Pred } from './field.js';
import type { SlotResolver } from './types.js';
import { wildcardTest } from './wildcard.js';
import { internalize } from '../event/intern.js';

/** A compiled sub-expression: a predicate, or a constant known at compile time. */
type Part = { readonly constant: boolean; readonly pred: null } | { readonly constant: null; readonly pred: Pred };

const TRUE: Part = { constant: true, pred: null };
const FALSE: Part = { constant: false, pred: null };

function pred(p: Pred): Part {
  return { constant: null, pred: p };
}

export const never: Pred = () => false;

function eventName(name: string, wildcard: boolean): Part {
  if (name === '') return FALSE;
  if (!wildcard) {
    const n = internalize(name);
    return pred((ev) => ev.name === n);
  }
  if (/^\*+$/.test(name)) return pred((ev) => typeof ev.name === 'string' && ev.name !== '');
  const test = wildcardTest(name, false);
  return pred((ev) => {
    const n = ev.name;
    return typeof n === 'string' && n !== '' && test(n);
  });
}

function category(name: string): Part {
  if (name === '') return FALSE;
  return pred((ev) => {
    const cats = ev.categories;
    if (cats == null) return false;
    for (let i = 0; i < cats.length; i++) if (cats[i] === name) return true;
    return false;
  });
}

function and2(a: Pred, b: Pred): Pred {
  return (ev) => a(ev) && b(ev);
}

function or2(a: Pred, b: Pred): Pred {
  return (ev) => a(ev) || b(ev);
}

function allOf(ps: Pred[]): Pred {
  if (ps.length === 2) return and2(ps[0] as Pred, ps[1] as Pred);
  return (ev) => {
    for (let i = 0; i < ps.length; i++) if (!(ps[i] as Pred)(ev)) return false;
    return true;
  };
}

function anyOf(ps: Pred[]): Pred {
  if (ps.length === 2) return or2(ps[0] as Pred, ps[1] as Pred);
  return (ev) => {
    for (let i = 0; i < ps.length; i++) if ((ps[i] as Pred)(ev)) return true;
    return false;
  };
}

/**
 * `((a AND b) OR c) AND d`: evaluated as a left fold, with the same
 * short-circuits as the nested form (AND evaluates its right side only when
 * the left is true, OR only when it is false), at one stack frame.
 */
function fold(ps: Pred[], isAnd: boolean[]): Pred {
  const first = ps[0] as Pred;
  return (ev) => {
    let acc = first(ev);
    for (let i = 1; i < ps.length; i++) if (isAnd[i] === acc) acc = (ps[i] as Pred)(ev);
    return acc;
  };
}

function chain(node: Extract<FilterNode, { type: 'and' | 'or' }>, slots: SlotResolver | null): Part {
  const { first, steps } = unchain(node);
  let acc = compilePart(first, slots);
  let ps: Pred[] = acc.pred === null ? [] : [acc.pred];
  let isAnd: boolean[] = [false];
  for (const step of steps) {
    const and = step.type === 'and';
    if (acc.constant !== null) {
      if (acc.constant !== and) continue;
      acc = compilePart(step.right, slots);
      ps = acc.pred === null ? [] : [acc.pred];
      isAnd = [false];
      continue;
    }
    const right = compilePart(step.right, slots);
    if (right.constant === null) {
      ps.push(right.pred);
      isAnd.push(and);
    } else if (right.constant !== and) {
      acc = and ? FALSE : TRUE;
      ps = [];
      isAnd = [false];
    }
  }
  if (acc.constant !== null) return acc;
  if (ps.length === 1) return pred(ps[0] as Pred);
  if (isAnd.every((a, i) => i === 0 || a)) return pred(allOf(ps));
  if (isAnd.every((a, i) => i === 0 || !a)) return pred(anyOf(ps));
  return pred(fold(ps, isAnd));
}

function compilePart(node: FilterNode, slots: SlotResolver | null): Part {
  switch (node.type) {
    case 'and':
    case 'or':
      return chain(node, slots);
    case 'not': {
      const inner = compilePart(node.operand, slots);
      if (inner.constant !== null) return inner.constant ? FALSE : TRUE;
      const p = inner.pred;
      return pred((ev) => !p(ev));
    }
    case 'event':
      return eventName(node.name, node.wildcard);
    case 'category':
      return node.logType !== null ? FALSE : category(node.name);
    case 'source_location':
      return FALSE;
    case 'field':
      return pred(fieldPredicate(node.key, node.op, node.value, node.key === 'duration' || slots === null ? -1 : slots.slotOf(node.key)));
  }
}

/**
 * The predicate for a whole filter; unnamed events are refused up front when
 * every match needs a name. With `slots`, field conditions read
 * `TallyEvent.vals` at the key's slot instead of `fields`.
 */
export function compilePredicate(ast: FilterNode | null, requiresName: boolean, slots: SlotResolver | null = null): Pred {
  if (ast === null) return never;
  const part = compilePart(ast, slots);
  if (part.pred === null) {
    if (!part.constant) return never;
    return requiresName ? (ev: TallyEvent) => ev.name !== '' : () => true;
  }
  const p = part.pred;
  if (!requiresName) return p;
  return (ev: TallyEvent) => ev.name !== '' && p(ev);
}
