/**
 * A filter that cannot be parsed. `offset` is the 0-based index (UTF-16 code
 * units, as in JavaScript strings) of the offending token in the source, or
 * the source length when the input ended too early.
 */
export class FilterSyntaxError extends Error {
  readonly offset: number;
  readonly source: string;

  constructor(message: string, offset: number, source: string) {
    super(`event filter: ${message}`);
    this.name = 'FilterSyntaxError';
    this.offset = offset;
    this.source = source;
  }
}
