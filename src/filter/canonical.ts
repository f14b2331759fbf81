import { LOG_TYPES, type FilterNode, type LogicNode } from './ast.js';
import { escape, escapeLiteral } from './escape.js';
import { operandText } from './values.js';

/**
 * A left-associative chain `((a OP b) OP c) ...` as its first operand and the
 * (op, operand) steps, walked without recursion so long chains cost no stack.
 */
export function unchain(node: LogicNode): { first: FilterNode; steps: LogicNode[] } {
  const steps: LogicNode[] = [];
  let cur: FilterNode = node;
  while (cur.type === 'and' || cur.type === 'or') {
    steps.push(cur);
    cur = cur.left;
  }
  steps.reverse();
  return { first: cur, steps };
}

function condition(node: FilterNode): string {
  switch (node.type) {
    case 'event':
      return `event="${node.wildcard ? node.name : escapeLiteral(node.name)}"`;
    case 'category':
      if (node.logType !== null) return `category=${node.logType}`;
      return `category="${LOG_TYPES.has(node.name) ? '\\' : ''}${escape(node.name)}"`;
    case 'source_location':
      return `source_location="${escape(node.location)}"`;
    case 'field': {
      const v = node.value;
      const exact = v.kind !== 'wildcard' && v.kind !== 'ambiguous';
      const text = operandText(v);
      return `"${escape(node.key)}"${node.op}"${exact ? escapeLiteral(text) : text}"`;
    }
    default:
      return '';
  }
}

function render(node: FilterNode): string {
  if (node.type === 'not') return `(NOT ${render(node.operand)})`;
  if (node.type !== 'and' && node.type !== 'or') return condition(node);
  const { first, steps } = unchain(node);
  let out = '('.repeat(steps.length) + render(first);
  for (const s of steps) out += ` ${s.type === 'and' ? 'AND' : 'OR'} ${render(s.right)})`;
  return out;
}

/** Dovecot's export form (`event_filter_export`): `event=abc` → `(event="abc")`. */
export function canonicalOf(ast: FilterNode | null): string {
  return ast === null ? '' : `(${render(ast)})`;
}

/**
 * Dovecot's `filter_node_requires_event_name`: AND needs either side, OR
 * both, NOT its operand (so `NOT event=foo` also needs a name).
 */
export function requiresEventName(node: FilterNode): boolean {
  if (node.type === 'event') return true;
  if (node.type === 'not') return requiresEventName(node.operand);
  if (node.type !== 'and' && node.type !== 'or') return false;
  const { first, steps } = unchain(node);
  let acc = requiresEventName(first);
  for (const s of steps) {
    acc = s.type === 'and' ? acc || requiresEventName(s.right) : acc && requiresEventName(s.right);
  }
  return acc;
}
