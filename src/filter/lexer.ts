import { FilterSyntaxError } from './errors.js';

export type TokenType =
  | 'and'
  | 'or'
  | 'not'
  | '<'
  | '>'
  | '='
  | '('
  | ')'
  | 'word'
  | 'string'
  | 'invalid'
  | 'end';

export interface Token {
  readonly type: TokenType;
  /** word text, raw quoted-string content (escapes kept), or the invalid character */
  readonly text: string;
  readonly offset: number;
}

function isWordChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) || // a-z
    (c >= 0x41 && c <= 0x5a) || // A-Z
    (c >= 0x30 && c <= 0x3a) || // 0-9 :
    c === 0x2e || // .
    c === 0x2a || // *
    c === 0x3f || // ?
    c === 0x2f || // /
    c === 0x25 || // %
    c === 0x5f || // _
    c === 0x2d // -
  );
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/** Produces tokens on demand, so the first error in source order is the one reported. */
export class Lexer {
  private pos = 0;

  constructor(private readonly src: string) {}

  next(): Token {
    const src = this.src;
    let pos = this.pos;
    while (pos < src.length && isSpace(src.charCodeAt(pos))) pos++;
    if (pos >= src.length) {
      this.pos = pos;
      return { type: 'end', text: '', offset: src.length };
    }
    const start = pos;
    const c = src.charCodeAt(pos);
    if (c === 0x22) return this.quoted(start);
    if (isWordChar(c)) {
      pos++;
      while (pos < src.length && isWordChar(src.charCodeAt(pos))) pos++;
      this.pos = pos;
      const text = src.slice(start, pos);
      if (text.length === 3 || text.length === 2) {
        const lower = text.toLowerCase();
        if (lower === 'and' || lower === 'or' || lower === 'not') return { type: lower, text, offset: start };
      }
      return { type: 'word', text, offset: start };
    }
    if (c === 0x3c || c === 0x3e || c === 0x3d || c === 0x28 || c === 0x29) {
      this.pos = pos + 1;
      return { type: src[start] as TokenType, text: src[start] as string, offset: start };
    }
    const cp = src.codePointAt(pos) as number;
    const text = String.fromCodePoint(cp);
    this.pos = pos + text.length;
    return { type: 'invalid', text, offset: start };
  }

  private quoted(start: number): Token {
    const src = this.src;
    let pos = start + 1;
    while (pos < src.length) {
      const c = src.charCodeAt(pos);
      if (c === 0x22) {
        this.pos = pos + 1;
        return { type: 'string', text: src.slice(start + 1, pos), offset: start };
      }
      pos += c === 0x5c ? 2 : 1;
    }
    throw new FilterSyntaxError('unterminated quoted string', start, src);
  }
}
