/**
 * Discrete group_by modifiers (docs/contract.md §5.2): templates over `%{value}` and
 * `%{domain}`, `%L{…}` / `%U{…}` case folding, and the 2.4 pipe form
 * `%{value | domain | lower}`. Literal text is kept; `%%` is a literal `%`.
 */

/** A modifier that does not compile: `offset` is 0-based in its source. */
export class ModifierError extends Error {
  readonly offset: number;
  readonly reason: string;
  constructor(offset: number, reason: string) {
    super(reason);
    this.name = 'ModifierError';
    this.offset = offset;
    this.reason = reason;
  }
}

type Fn = (v: string) => string;

const domain: Fn = (v) => {
  const at = v.indexOf('@');
  return at < 0 ? '' : v.slice(at + 1);
};
const username: Fn = (v) => {
  const at = v.indexOf('@');
  return at < 0 ? v : v.slice(0, at);
};
const lower: Fn = (v) => v.toLowerCase();
const upper: Fn = (v) => v.toUpperCase();
const identity: Fn = (v) => v;

const VARIABLES: Readonly<Record<string, Fn>> = { value: identity, domain };
const FILTERS: Readonly<Record<string, Fn>> = { lower, upper, domain, username };

const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

function compose(fns: readonly Fn[]): Fn {
  if (fns.length === 0) return identity;
  if (fns.length === 1) return fns[0] as Fn;
  return (v) => {
    let s = v;
    for (const f of fns) s = f(s);
    return s;
  };
}

/** Parse `name | filter | filter` (the body of `%{…}`) starting at `base` in the source. */
function parseExpr(body: string, base: number): Fn {
  const fns: Fn[] = [];
  let off = 0;
  const parts = body.split('|');
  parts.forEach((part, idx) => {
    const lead = part.length - part.trimStart().length;
    const word = part.trim();
    const at = base + off + lead;
    off += part.length + 1;
    if (idx === 0) {
      if (word === '') throw new ModifierError(at, 'Missing variable name in %{}');
      if (!hasOwn(VARIABLES, word)) throw new ModifierError(at, `Unknown variable '${word}' (known: value, domain)`);
      fns.push(VARIABLES[word] as Fn);
      return;
    }
    if (word === '') throw new ModifierError(at, "Missing filter name after '|'");
    if (!hasOwn(FILTERS, word)) {
      throw new ModifierError(at, `Unknown filter '${word}' (known: lower, upper, domain, username)`);
    }
    fns.push(FILTERS[word] as Fn);
  });
  return compose(fns);
}

/** Compile a modifier template; throws ModifierError when it is invalid. */
export function compileModifier(src: string): (value: string) => string {
  const parts: (string | Fn)[] = [];
  let lit = '';
  let i = 0;
  while (i < src.length) {
    const c = src[i] as string;
    if (c !== '%') {
      lit += c;
      i++;
      continue;
    }
    const start = i;
    let next = src[i + 1];
    if (next === '%') {
      lit += '%';
      i += 2;
      continue;
    }
    let fold: Fn | null = null;
    if (next === 'L' || next === 'U') {
      fold = next === 'L' ? lower : upper;
      i++;
      next = src[i + 1];
    }
    if (next !== '{') {
      if (next === undefined) throw new ModifierError(start, "Unterminated '%' at end of modifier");
      throw new ModifierError(start, `Unsupported '${src.slice(start, i + 2)}': use %{value}, %{domain}, %L{...} or %U{...}`);
    }
    const close = src.indexOf('}', i + 2);
    if (close < 0) throw new ModifierError(start, "Missing '}' in modifier");
    const fn = parseExpr(src.slice(i + 2, close), i + 2);
    if (lit !== '') parts.push(lit);
    lit = '';
    parts.push(fold === null ? fn : compose([fn, fold]));
    i = close + 1;
  }
  if (lit !== '') parts.push(lit);
  if (parts.length === 0) return () => '';
  if (parts.length === 1) {
    const only = parts[0] as string | Fn;
    return typeof only === 'string' ? () => only : only;
  }
  return (v) => {
    let s = '';
    for (const p of parts) s += typeof p === 'string' ? p : p(v);
    return s;
  };
}

/** The error in a modifier template, or null when it compiles. */
export function modifierError(src: string): ModifierError | null {
  try {
    compileModifier(src);
    return null;
  } catch (e) {
    if (e instanceof ModifierError) return e;
    throw e;
  }
}
