import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TallyEvent } from '../../src/event/types.js';
import { FilterSyntaxError, compileFilter, parseFilter } from '../../src/filter/index.js';

const PIECES = [
  'a', 'x', 'ip', 'tag', 'event', 'category', 'source_location', 'duration', 'EVENT', '__proto__', 'constructor',
  '=', '<', '>', '<=', '>=', '(', ')', ' ', '\t', 'AND', 'or', 'Not', '"', '\\', '*', '?', '1', '-5', '007', '1kb',
  '10M', '1s', '250ms', '10.0.0.0/8', '::1', 'fe80::1%eth0', '"x y"', '""', 'error', 'imap', '4*', '5.5', '@',
  'é', '😀', '%', '/', '\u0000', '\n', '[::1]', '9223372036854775808',
];

const sourceArb = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.array(fc.constantFrom(...PIECES), { maxLength: 14 }).map((a) => a.join('')),
  fc.array(fc.constantFrom(...PIECES), { maxLength: 14 }).map((a) => a.join(' ')),
);

const KEYS = ['a', 'x', 'ip', 'tag', 'duration', '__proto__', 'constructor', 'toString', 'EVENT', 'x y'];

const valueArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom('', 'abc', 'ABC', '7', '007', '1024', '10.1.2.3', '::1', '2001:0:0:0:0:0:0:1', 'fe80::1%eth0', 'x y', '1m', '*', '😀'),
  fc.string({ maxLength: 8 }),
  fc.integer(),
  fc.constantFrom(0, -0, 1.5, -42, 2 ** 53, 2 ** 60, 1e21, -1e300, 1024, 1000000),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.array(fc.oneof(fc.string({ maxLength: 5 }), fc.constantFrom('abc', '10.0.0.1', '')), { maxLength: 4 }),
  fc.constant(null),
  fc.boolean(),
  fc.constant({ nested: 1 }),
  fc.constant([[1], 2]),
);

const eventArb: fc.Arbitrary<TallyEvent> = fc.record({
  name: fc.oneof(fc.constantFrom('', 'a', 'b', 'foo', 'imap_command_finished', 'foo*'), fc.string({ maxLength: 6 })),
  categories: fc.option(fc.array(fc.constantFrom('imap', 'error', 'mail', ''), { maxLength: 3 }), { nil: undefined }),
  fields: fc.option(
    fc.dictionary(fc.constantFrom(...KEYS), valueArb, { maxKeys: 5 }).map((d) => {
      const body = Object.entries(d).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v) ?? 'null'}`);
      return JSON.parse(`{${body.join(',')}}`) as Record<string, unknown>;
    }),
    { nil: undefined },
  ),
  duration: fc.oneof(fc.nat(), fc.constantFrom(0, 999_999, 1_000_000, 2 ** 40)),
  negative: fc.constant(false),
});

const LEAVES = [
  'event=a', 'event=foo*', 'event="foo\\*"', 'event=*', 'NOT event=b', 'category=imap', 'category=error',
  'source_location=f.c:1', 'a=abc', 'a=ABC*', 'a=""', 'a=*', 'x=7', 'x=007', 'x>5', 'x<=1kb', 'x=4*', 'x>4*',
  'x=5.5', 'x=10M', 'ip=10.0.0.0/8', 'ip=::1', 'ip=2001::1', 'ip=10.*', 'tag=abc', 'tag=""', 'tag=a*',
  'duration<1s', 'duration>=250ms', 'constructor=""', '__proto__=*', '"x y"=1', 'a=not',
];

type Tree = { leaf: string } | { not: Tree } | { op: 'AND' | 'OR'; l: Tree; r: Tree };

const treeArb = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(...LEAVES).map((leaf): Tree => ({ leaf })),
    tie('tree').map((t): Tree => ({ not: t as Tree })),
    fc.record({ op: fc.constantFrom('AND' as const, 'OR' as const), l: tie('tree'), r: tie('tree') }).map((t) => t as Tree),
  ),
})).tree;

/** Renders with explicit grouping, so the source's meaning is the tree's. */
function render(t: Tree): string {
  if ('leaf' in t) return t.leaf;
  if ('not' in t) return `NOT (${render(t.not)})`;
  return `(${render(t.l)} ${t.op} ${render(t.r)})`;
}

/** Dovecot's evaluation over the tree (before the unnamed-event fast path), leaf by leaf. */
function reference(t: Tree, e: TallyEvent): boolean {
  if ('leaf' in t) {
    if (t.leaf.startsWith('NOT ')) return !compileFilter(t.leaf.slice(4)).match(e);
    return compileFilter(t.leaf).match(e);
  }
  if ('not' in t) return !reference(t.not, e);
  return t.op === 'AND' ? reference(t.l, e) && reference(t.r, e) : reference(t.l, e) || reference(t.r, e);
}

function needsName(t: Tree): boolean {
  if ('leaf' in t) return t.leaf.startsWith('event=') || t.leaf === 'NOT event=b';
  if ('not' in t) return needsName(t.not);
  return t.op === 'AND' ? needsName(t.l) || needsName(t.r) : needsName(t.l) && needsName(t.r);
}

describe('robustness', () => {
  it('compileFilter throws nothing but FilterSyntaxError on arbitrary input', () => {
    fc.assert(
      fc.property(sourceArb, (src) => {
        try {
          const f = compileFilter(src);
          expect(typeof f.canonical).toBe('string');
        } catch (e) {
          expect(e).toBeInstanceOf(FilterSyntaxError);
          const err = e as FilterSyntaxError;
          expect(err.message.startsWith('event filter: ')).toBe(true);
          expect(err.offset).toBeGreaterThanOrEqual(0);
          expect(err.offset).toBeLessThanOrEqual(src.length);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('match never throws and always returns a boolean on arbitrary events', () => {
    fc.assert(
      fc.property(fc.oneof(sourceArb, treeArb.map(render)), fc.array(eventArb, { minLength: 1, maxLength: 5 }), (src, events) => {
        let f;
        try {
          f = compileFilter(src);
        } catch {
          return;
        }
        for (const e of events) expect(typeof f.match(e)).toBe('boolean');
      }),
      { numRuns: 3000 },
    );
  });

  it('leaves the prototype of field objects alone', () => {
    const fields = JSON.parse('{"__proto__": {"polluted": 1}, "constructor": "x"}') as Record<string, unknown>;
    const e: TallyEvent = { name: 'e', categories: undefined, fields, duration: 0, negative: false };
    expect(compileFilter('constructor=x').match(e)).toBe(true);
    expect(compileFilter('__proto__=*').match(e)).toBe(false);
    expect(compileFilter('polluted=1').match(e)).toBe(false);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});

describe('semantics', () => {
  it('the compiled tree agrees with evaluating each condition on its own', () => {
    fc.assert(
      fc.property(treeArb, eventArb, (t, e) => {
        const want = needsName(t) && e.name === '' ? false : reference(t, e);
        expect(compileFilter(render(t)).match(e)).toBe(want);
        expect(compileFilter(render(t)).requiresName).toBe(needsName(t));
      }),
      { numRuns: 3000 },
    );
  });

  it('the canonical form parses back to itself and means the same', () => {
    fc.assert(
      fc.property(fc.oneof(treeArb.map(render), sourceArb), fc.array(eventArb, { maxLength: 4 }), (src, events) => {
        let canonical: string;
        try {
          canonical = parseFilter(src).canonical;
        } catch {
          return;
        }
        if (canonical === '') return;
        expect(parseFilter(canonical).canonical).toBe(canonical);
        const a = compileFilter(src);
        const b = compileFilter(canonical);
        expect(b.requiresName).toBe(a.requiresName);
        for (const e of events) expect(b.match(e)).toBe(a.match(e));
      }),
      { numRuns: 3000 },
    );
  });

  it('ungrouped chains associate left with equal precedence', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...LEAVES.filter((l) => !l.includes('event'))), { minLength: 1, maxLength: 8 }),
        fc.array(fc.constantFrom('AND', 'OR'), { minLength: 7, maxLength: 7 }),
        eventArb,
        (leaves, ops, e) => {
          let grouped = leaves[0] as string;
          let flat = leaves[0] as string;
          for (let i = 1; i < leaves.length; i++) {
            grouped = `(${grouped} ${ops[i - 1]} ${leaves[i]})`;
            flat = `${flat} ${ops[i - 1]} ${leaves[i]}`;
          }
          expect(compileFilter(flat).match(e)).toBe(compileFilter(grouped).match(e));
          expect(parseFilter(flat).canonical).toBe(parseFilter(grouped).canonical);
        },
      ),
    );
  });
});
