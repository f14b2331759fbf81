import type { TallyEvent } from '../event/types.js';
import type { CmpOp, FieldOperand } from './ast.js';
import { IpBuf, inNetwork, parseIp, unmapV4, type IpNet } from './ip.js';
import { exactTest, globCodes, wildcardTest, wildcardTokens, type StrTest } from './wildcard.js';

export type Pred = (ev: TallyEvent) => boolean;
type NumTest = (v: number) => boolean;

const hasOwn = Object.prototype.hasOwnProperty;

function numCompare(op: CmpOp, k: number): NumTest {
  switch (op) {
    case '=':
      return (v) => v === k;
    case '<':
      return (v) => v < k;
    case '>':
      return (v) => v > k;
    case '<=':
      return (v) => v <= k;
    case '>=':
      return (v) => v >= k;
  }
}

const digits = new Uint8Array(320);

/** Writes the decimal text of an integer into `digits`; -1 for a non-integer. */
function decimalInto(v: number): number {
  if (!Number.isInteger(v)) return -1;
  if (!Number.isSafeInteger(v)) {
    const s = BigInt(v).toString();
    for (let i = 0; i < s.length; i++) digits[i] = s.charCodeAt(i);
    return s.length;
  }
  let n = v < 0 ? -v : v;
  let len = 0;
  do {
    digits[len++] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  } while (n > 0);
  if (v < 0) digits[len++] = 0x2d;
  for (let i = 0, j = len - 1; i < j; i++, j--) {
    const t = digits[i] as number;
    digits[i] = digits[j] as number;
    digits[j] = t;
  }
  return len;
}

/** `40*` against an integer: a wildcard over its decimal text. */
function numericWildcard(pattern: string): NumTest {
  const t = wildcardTokens(pattern, false);
  return (v) => {
    const len = decimalInto(v);
    return len >= 0 && globCodes(t, digits, len);
  };
}

const scratch = new IpBuf();

/** An IP/CIDR value against a string: containment when it parses as an address, else its text. */
function ipTest(words: readonly number[], family: 4 | 6, bits: number, zone: string, text: string): StrTest {
  const net: IpNet = { family, w: Uint16Array.from(words), bits, zone };
  const byText = exactTest(text, true);
  return (s) => {
    if (parseIp(s, 0, s.length, scratch)) {
      unmapV4(scratch);
      return inNetwork(scratch, s, net);
    }
    return byText(s);
  };
}

interface FieldTests {
  /** test for a number value, null when no number matches */
  readonly num: NumTest | null;
  /** test for a non-empty string or a strlist element, null when none matches */
  readonly str: StrTest | null;
  /** the condition is `field=""`: true for a missing field, an empty string or an empty list */
  readonly wantEmpty: boolean;
}

/** Specialises one field condition by its operand kind and operator (docs/contract.md §4). */
export function fieldTests(op: CmpOp, v: FieldOperand): FieldTests {
  const eq = op === '=';
  switch (v.kind) {
    case 'int':
      return { num: numCompare(op, v.value), str: eq ? exactTest(v.text, true) : null, wantEmpty: false };
    case 'ip':
      return { num: null, str: eq ? ipTest(v.words, v.family, v.bits, v.zone, v.text) : null, wantEmpty: false };
    case 'ambiguous':
      return { num: null, str: eq ? wildcardTest(v.text, true) : null, wantEmpty: false };
    case 'string':
      return { num: null, str: eq ? exactTest(v.text, true) : null, wantEmpty: eq && v.text === '' };
    case 'wildcard':
      return {
        num: eq && v.numeric ? numericWildcard(v.pattern) : null,
        str: eq ? wildcardTest(v.pattern, true) : null,
        wantEmpty: false,
      };
  }
}

function listMatches(list: readonly unknown[], str: StrTest | null, wantEmpty: boolean): boolean {
  const n = list.length;
  if (n === 0) return wantEmpty;
  if (str === null) return false;
  for (let i = 0; i < n; i++) {
    const el = list[i];
    if (typeof el === 'string' && str(el)) return true;
  }
  return false;
}

/** The test of one present (non-null) value. */
function valueTest(num: NumTest | null, str: StrTest | null, wantEmpty: boolean): (val: unknown) => boolean {
  return (val) => {
    if (typeof val === 'string') return val === '' ? wantEmpty : str !== null && str(val);
    if (typeof val === 'number') return num !== null && num(val);
    if (val == null) return wantEmpty;
    if (Array.isArray(val)) return listMatches(val, str, wantEmpty);
    return false;
  };
}

/**
 * The predicate for `key op value` on an event field (`duration` reads
 * ev.duration). `slot` >= 0: the value is `ev.vals[slot]` (null when absent);
 * otherwise `ev.fields[key]`.
 */
export function fieldPredicate(key: string, op: CmpOp, v: FieldOperand, slot = -1): Pred {
  const { num, str, wantEmpty } = fieldTests(op, v);
  if (key === 'duration') {
    if (num === null) return () => false;
    return (ev) => {
      const d = ev.duration;
      return typeof d === 'number' && num(d);
    };
  }
  const test = valueTest(num, str, wantEmpty);
  if (slot >= 0) return (ev) => test((ev.vals as unknown[])[slot]);
  if (key === 'hostname') {
    // the event's top-level hostname when it has no hostname field of its own
    return (ev) => {
      const f = ev.fields;
      const v = f == null || !hasOwn.call(f, key) ? null : f[key];
      return test(v ?? ev.hostname ?? null);
    };
  }
  return (ev) => {
    const f = ev.fields;
    if (f == null || !hasOwn.call(f, key)) return wantEmpty;
    return test(f[key]);
  };
}
