/**
 * group_by in Dovecot 2.3's string syntax (also what `stats add --group-by`
 * takes): `cmd_name duration:exponential:1:5:10 size:linear:100:1000:100
 * user:discrete:%L{domain}`, with Dovecot's error strings plus the holes
 * tallyd closes (docs/contract.md §3).
 */
import { ConfigError } from '../errors.js';
import type { SourcePos } from '../errors.js';
import { modifierError } from './modifier.js';
import { isFieldName, splitWords } from './names.js';
import type { GroupByLevel } from './types.js';

export type PosAt = (offset: number) => SourcePos;

/** Largest exponential magnitude per base (B^max must stay an exact int64). */
export const MAX_MAGNITUDE: Readonly<Record<2 | 10, number>> = { 2: 62, 10: 18 };
/** Largest number of regular linear ranges (every range may become a bucket series). */
export const MAX_LINEAR_RANGES = 10_000;

/** Position mapper over a standalone string: line 1, column = offset + 1. */
export function stringPos(file: string): PosAt {
  return (offset) => ({ file, line: 1, col: offset + 1 });
}

function gbError(pos: SourcePos, text: string): ConfigError {
  return new ConfigError('ERR_CONFIG_GROUP_BY', pos, text);
}

/** Check a discrete modifier, reporting at its position in the source. */
export function checkModifier(field: string, modifier: string, posAt: PosAt): void {
  const err = modifierError(modifier);
  if (err !== null) throw gbError(posAt(err.offset), `Failed to expand discrete modifier for ${field}: ${err.reason}`);
}

export function checkField(field: string, pos: SourcePos, what: string): void {
  if (field === '') throw gbError(pos, `${what} field name can't be empty`);
  if (!isFieldName(field)) throw gbError(pos, `${what} field '${field}' is not a valid field name`);
}

interface Part {
  readonly text: string;
  readonly offset: number;
}

function splitColons(item: string, base: number): Part[] {
  const out: Part[] = [];
  let off = 0;
  for (const text of item.split(':')) {
    out.push({ text, offset: base + off });
    off += text.length + 1;
  }
  return out;
}

function quantized(field: string, func: Part, args: Part[], posAt: PosAt): GroupByLevel {
  const f = func.text;
  const nums: number[] = [];
  if (args.length !== 3) {
    const at = args[3] ?? args[args.length - 1] ?? func;
    throw gbError(posAt(at.offset), `group_by '${f}' aggregate function takes 3 int args`);
  }
  for (const a of args) {
    const n = /^-?\d+$/.test(a.text) ? Number(a.text) : NaN;
    if (!Number.isSafeInteger(n)) throw gbError(posAt(a.offset), `group_by '${f}' aggregate function takes 3 int args`);
    nums.push(n);
  }
  const [min, max, other] = nums as [number, number, number];
  const neg = nums.findIndex((n) => n < 0);
  if (neg >= 0) throw gbError(posAt((args[neg] as Part).offset), `group_by '${f}' aggregate function arguments must be >= 0`);
  const [minArg, maxArg, otherArg] = args as [Part, Part, Part];
  if (min >= max) {
    throw gbError(posAt(minArg.offset), `group_by '${f}' aggregate function min must be < max (${min} must be < ${max})`);
  }
  if (f === 'exponential') {
    if (other !== 2 && other !== 10) {
      throw gbError(posAt(otherArg.offset), `group_by 'exponential' aggregate function base must be one of: 2, 10 (base=${other})`);
    }
    const limit = MAX_MAGNITUDE[other];
    if (max > limit) {
      throw gbError(
        posAt(maxArg.offset),
        `group_by 'exponential' aggregate function max magnitude must be <= ${limit} with base ${other} (max=${max})`,
      );
    }
    return { kind: 'exponential', field, min, max, base: other };
  }
  if (other === 0) throw gbError(posAt(otherArg.offset), `group_by 'linear' aggregate function step must be > 0 (step=0)`);
  if (min + other > max) {
    throw gbError(
      posAt(otherArg.offset),
      `group_by 'linear' aggregate function min+step must be <= max (${min + other} must be <= ${max})`,
    );
  }
  const ranges = Math.ceil((max - min) / other);
  if (ranges > MAX_LINEAR_RANGES) {
    throw gbError(
      posAt(otherArg.offset),
      `group_by 'linear' aggregate function makes too many ranges (${ranges} > ${MAX_LINEAR_RANGES})`,
    );
  }
  return { kind: 'linear', field, min, max, step: other };
}

function parseItem(item: string, offset: number, posAt: PosAt): GroupByLevel {
  const parts = splitColons(item, offset);
  const [fieldPart, func, ...args] = parts as [Part, ...Part[]];
  const field = fieldPart.text;
  checkField(field, posAt(fieldPart.offset), 'group_by');
  if (func === undefined) return { kind: 'discrete', field, modifier: null };
  switch (func.text) {
    case 'discrete': {
      const extra = args[1];
      if (extra !== undefined) throw gbError(posAt(extra.offset), 'Too many parameters for discrete modifier');
      const mod = args[0];
      if (mod === undefined || mod.text === '') return { kind: 'discrete', field, modifier: null };
      checkModifier(field, mod.text, (o) => posAt(mod.offset + o));
      return { kind: 'discrete', field, modifier: mod.text };
    }
    case 'exponential':
    case 'linear':
      return quantized(field, func, args, posAt);
    default:
      throw gbError(posAt(func.offset), `unknown aggregation function '${func.text}' on field '${field}'`);
  }
}

/**
 * Parse a 2.3-syntax group_by string into its levels. `posAt` maps an offset
 * in `src` to a config position (default: `<request>`, line 1).
 */
export function parseGroupBy(src: string, posAt: PosAt = stringPos('<request>')): GroupByLevel[] {
  return splitWords(src).map(({ word, offset }) => parseItem(word, offset, posAt));
}

/** One level in 2.3 syntax (what `check-config` prints). */
export function formatGroupByLevel(level: GroupByLevel): string {
  switch (level.kind) {
    case 'discrete':
      return level.modifier === null ? level.field : `${level.field}:discrete:${level.modifier.replace(/\s*\|\s*/g, '|')}`;
    case 'exponential':
      return `${level.field}:exponential:${level.min}:${level.max}:${level.base}`;
    case 'linear':
      return `${level.field}:linear:${level.min}:${level.max}:${level.step}`;
  }
}

export function formatGroupBy(levels: readonly GroupByLevel[]): string {
  return levels.map(formatGroupByLevel).join(' ');
}
