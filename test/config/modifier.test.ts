import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileModifier, ModifierError, modifierError } from '../../src/config/index.js';

const apply = (src: string, v: string) => compileModifier(src)(v);

describe('discrete modifiers', () => {
  it('expands %{value} and %{domain} (text after the first @, empty if none)', () => {
    expect(apply('%{value}', 'User@Example.COM')).toBe('User@Example.COM');
    expect(apply('%{domain}', 'User@Example.COM')).toBe('Example.COM');
    expect(apply('%{domain}', 'a@b@c')).toBe('b@c');
    expect(apply('%{domain}', 'nobody')).toBe('');
  });

  it('folds case with %L{} and %U{}', () => {
    expect(apply('%L{domain}', 'User@Example.COM')).toBe('example.com');
    expect(apply('%U{value}', 'select')).toBe('SELECT');
    expect(apply('%L{value}', 'MiXeD')).toBe('mixed');
  });

  it('supports the 2.4 pipe form with lower, upper, domain and username', () => {
    expect(apply('%{value | domain | lower}', 'User@Example.COM')).toBe('example.com');
    expect(apply('%{value|domain|lower}', 'User@Example.COM')).toBe('example.com');
    expect(apply('%{value | username}', 'User@Example.COM')).toBe('User');
    expect(apply('%{value | username | upper}', 'nobody')).toBe('NOBODY');
    expect(apply('%{value | upper}', 'ok')).toBe('OK');
    expect(apply('%L{value | domain}', 'a@B.ORG')).toBe('b.org');
  });

  it('keeps literal text and %% around variables', () => {
    expect(apply('domain=%L{domain}', 'u@X.org')).toBe('domain=x.org');
    expect(apply('<%{value | username}>@%{domain}!', 'joe@example.com')).toBe('<joe>@example.com!');
    expect(apply('100%%', 'x')).toBe('100%');
    expect(apply('fixed', 'x')).toBe('fixed');
    expect(apply('', 'x')).toBe('');
  });

  const bad: [string, number, string][] = [
    ['%{user | domain}', 2, "Unknown variable 'user' (known: value, domain)"],
    ['%{value | lowercase}', 10, "Unknown filter 'lowercase' (known: lower, upper, domain, username)"],
    ['x%{value', 1, "Missing '}' in modifier"],
    ['%{}', 2, 'Missing variable name in %{}'],
    ['%{value |}', 9, "Missing filter name after '|'"],
    ['%d', 0, "Unsupported '%d': use %{value}, %{domain}, %L{...} or %U{...}"],
    ['%Lx', 0, "Unsupported '%Lx': use %{value}, %{domain}, %L{...} or %U{...}"],
    ['abc%', 3, "Unterminated '%' at end of modifier"],
    ['%{constructor}', 2, "Unknown variable 'constructor' (known: value, domain)"],
  ];
  it.each(bad)('%s is rejected at offset %i', (src, offset, reason) => {
    const err = modifierError(src);
    expect(err).toBeInstanceOf(ModifierError);
    expect(err?.offset).toBe(offset);
    expect(err?.reason).toBe(reason);
    expect(() => compileModifier(src)).toThrow(ModifierError);
  });

  it('never throws anything but ModifierError, and compiled modifiers never throw', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('%', '{', '}', '|', ' ', 'L', 'U', 'value', 'domain', 'lower', 'x', '@') }), fc.string(), (src, v) => {
        let fn: ((s: string) => string) | null = null;
        try {
          fn = compileModifier(src);
        } catch (e) {
          expect(e).toBeInstanceOf(ModifierError);
        }
        if (fn !== null) expect(typeof fn(v)).toBe('string');
      }),
    );
  });
});
