/**
 * group_by in Dovecot 2.4's nested syntax:
 *
 *   group_by duration {
 *     method exponential {
 *       min_magnitude = 1
 *       max_magnitude = 5
 *       base = 10
 *     }
 *   }
 *
 * with `method linear { min max step }` and `method discrete { modifier }`,
 * and Dovecot's `metric_group_by <field>: ...` error strings.
 */
import { ConfigError } from '../errors.js';
import type { SourcePos } from '../errors.js';
import { checkField, checkModifier, MAX_LINEAR_RANGES, MAX_MAGNITUDE } from './groupby.js';
import type { BlockNode, ConfigValue } from './tree.js';
import type { GroupByLevel } from './types.js';

type Method = 'discrete' | 'exponential' | 'linear';

const KEYS: Readonly<Record<Method, readonly string[]>> = {
  discrete: ['modifier'],
  exponential: ['min_magnitude', 'max_magnitude', 'base'],
  linear: ['min', 'max', 'step'],
};

function gbError(pos: SourcePos, field: string, text: string): ConfigError {
  return new ConfigError('ERR_CONFIG_GROUP_BY', pos, `metric_group_by ${field}: ${text}`);
}

/** `metric_group_by_method_linear_min`, `linear_min` and `min` all name `min` in a linear block. */
function shortKey(key: string, method: Method): string {
  for (const prefix of [`metric_group_by_method_${method}_`, `${method}_`]) {
    if (key.startsWith(prefix)) return key.slice(prefix.length);
  }
  return key;
}

interface MethodBlock {
  readonly method: Method;
  readonly block: BlockNode;
  readonly values: ReadonlyMap<string, ConfigValue>;
}

function readMethod(block: BlockNode, field: string): MethodBlock {
  const name = block.name ?? '';
  if (name !== 'discrete' && name !== 'exponential' && name !== 'linear') {
    throw gbError(block.namePos, field, `unknown aggregation function '${name}' (expected discrete, exponential or linear)`);
  }
  const values = new Map<string, ConfigValue>();
  for (const child of block.children) {
    if (child.kind === 'block') {
      throw gbError(child.typePos, field, `Unknown block '${child.type}' in method ${name}`);
    }
    const key = shortKey(child.key, name);
    if (!KEYS[name].includes(key)) {
      throw gbError(child.keyPos, field, `Unknown setting '${child.key}' in method ${name} (expected ${KEYS[name].join(', ')})`);
    }
    values.set(key, child.value);
  }
  return { method: name, block, values };
}

function num(m: MethodBlock, key: string, field: string, dflt: number): { n: number; pos: SourcePos } {
  const v = m.values.get(key);
  if (v === undefined) return { n: dflt, pos: m.block.namePos };
  const n = /^\d+$/.test(v.text) ? Number(v.text) : NaN;
  if (!Number.isSafeInteger(n)) {
    throw gbError(v.pos, field, `metric_group_by_method_${m.method}_${key} must be a non-negative integer, not '${v.text}'`);
  }
  return { n, pos: v.pos };
}

function exponential(m: MethodBlock, field: string): GroupByLevel {
  const min = num(m, 'min_magnitude', field, 0);
  const max = num(m, 'max_magnitude', field, 0);
  const base = num(m, 'base', field, 10);
  const p = 'metric_group_by_method_exponential_';
  if (base.n !== 2 && base.n !== 10) throw gbError(base.pos, field, `${p}base must be 2 or 10`);
  if (min.n > max.n) {
    throw gbError(min.pos, field, `${p}min_magnitude (${min.n}) must be <= ${p}max_magnitude (${max.n})`);
  }
  const limit = MAX_MAGNITUDE[base.n];
  if (max.n > limit) {
    throw gbError(max.pos, field, `${p}max_magnitude (${max.n}) must be <= ${limit} with base ${base.n}`);
  }
  return { kind: 'exponential', field, min: min.n, max: max.n, base: base.n };
}

function linear(m: MethodBlock, field: string): GroupByLevel {
  const min = num(m, 'min', field, 0);
  const max = num(m, 'max', field, 0);
  const step = num(m, 'step', field, 0);
  const p = 'metric_group_by_method_linear_';
  if (step.n === 0) throw gbError(step.pos, field, `${p}step must not be 0`);
  if (min.n >= max.n) throw gbError(min.pos, field, `${p}min (${min.n}) must be smaller than ${p}max (${max.n})`);
  if (min.n + step.n > max.n) {
    throw gbError(step.pos, field, `${p}min (${min.n}) + ${p}step (${step.n}) must be <= ${p}max (${max.n})`);
  }
  const ranges = Math.ceil((max.n - min.n) / step.n);
  if (ranges > MAX_LINEAR_RANGES) {
    throw gbError(step.pos, field, `${p}step (${step.n}) makes too many ranges (${ranges} > ${MAX_LINEAR_RANGES})`);
  }
  return { kind: 'linear', field, min: min.n, max: max.n, step: step.n };
}

/** The level a `group_by FIELD { ... }` block (or several merged blocks of one field) defines. */
export function groupByFromBlocks(blocks: readonly BlockNode[]): GroupByLevel {
  const first = blocks[0] as BlockNode;
  const field = first.name ?? '';
  checkField(field, first.namePos, 'metric_group_by');
  let method: MethodBlock | null = null;
  for (const b of blocks) {
    for (const child of b.children) {
      if (child.kind === 'setting') {
        throw gbError(child.keyPos, field, `Unknown setting '${child.key}' (expected a method block)`);
      }
      if (child.type !== 'method') throw gbError(child.typePos, field, `Unknown block '${child.type}' (expected method)`);
      if (method !== null) throw gbError(child.typePos, field, 'Only one metric_group_by_method named filter is allowed');
      method = readMethod(child, field);
    }
  }
  if (method === null) return { kind: 'discrete', field, modifier: null };
  switch (method.method) {
    case 'exponential':
      return exponential(method, field);
    case 'linear':
      return linear(method, field);
    case 'discrete': {
      const v = method.values.get('modifier');
      if (v === undefined || v.text === '') return { kind: 'discrete', field, modifier: null };
      checkModifier(field, v.text, v.posAt);
      return { kind: 'discrete', field, modifier: v.text };
    }
  }
}
