import type { TallyEvent } from '../../src/event/types.js';
import { compileFilter } from '../../src/filter/index.js';

export function ev(
  name: string,
  fields?: Record<string, unknown>,
  opts: { categories?: string[]; duration?: number } = {},
): TallyEvent {
  return { name, categories: opts.categories, fields, duration: opts.duration ?? 0, negative: false };
}

export function matches(filter: string, e: TallyEvent): boolean {
  return compileFilter(filter).match(e);
}

/** The error a source raises, or undefined when it parses. */
export function errorOf(source: string): { message: string; offset: number; name: string } | undefined {
  try {
    compileFilter(source);
    return undefined;
  } catch (e) {
    const err = e as Error & { offset: number };
    return { message: err.message, offset: err.offset, name: err.name };
  }
}
