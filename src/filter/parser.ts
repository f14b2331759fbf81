import { LOG_TYPES, type CmpOp, type FilterNode, type LogType } from './ast.js';
import { FilterSyntaxError } from './errors.js';
import { isEscapedLiteral, unescape } from './escape.js';
import { Lexer, type Token } from './lexer.js';
import { classifyFieldValue } from './values.js';

/** Deepest nesting of `(` and `NOT` accepted (keeps parsing and matching off the stack limit). */
export const MAX_NESTING = 256;

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}

function describe(t: Token): string {
  switch (t.type) {
    case 'end':
      return 'end of input';
    case 'and':
    case 'or':
    case 'not':
      return t.type.toUpperCase();
    case 'word':
      return `word "${clip(t.text)}"`;
    case 'string':
      return `quoted string "${clip(t.text)}"`;
    case 'invalid': {
      const cp = t.text.codePointAt(0) ?? 0;
      if (cp < 0x20 || cp === 0x7f) return `character U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
      return `'${t.text}'`;
    }
    default:
      return `'${t.text}'`;
  }
}

/**
 * Dovecot's grammar by recursive descent: AND and OR share one precedence
 * level and associate left, NOT binds tightest.
 */
class Parser {
  private readonly lexer: Lexer;
  private tok: Token;
  private depth = 0;

  constructor(private readonly src: string) {
    this.lexer = new Lexer(src);
    this.tok = this.lexer.next();
  }

  parse(): FilterNode | null {
    if (this.tok.type === 'end') return null;
    const expr = this.expr();
    if (this.current().type !== 'end') this.unexpected();
    return expr;
  }

  private current(): Token {
    return this.tok;
  }

  private advance(): Token {
    const t = this.tok;
    this.tok = this.lexer.next();
    return t;
  }

  private unexpected(): never {
    throw new FilterSyntaxError(`syntax error, unexpected ${describe(this.tok)}`, this.tok.offset, this.src);
  }

  private expr(): FilterNode {
    let left = this.unary();
    for (;;) {
      const t = this.tok;
      if (t.type !== 'and' && t.type !== 'or') return left;
      this.advance();
      const right = this.unary();
      left = { type: t.type, left, right, offset: t.offset };
    }
  }

  private unary(): FilterNode {
    const t = this.tok;
    if (t.type === 'not' || t.type === '(') {
      if (++this.depth > MAX_NESTING) {
        throw new FilterSyntaxError('expression nested too deeply', t.offset, this.src);
      }
      this.advance();
      let node: FilterNode;
      if (t.type === 'not') {
        node = { type: 'not', operand: this.unary(), offset: t.offset };
      } else {
        node = this.expr();
        if (this.tok.type !== ')') this.unexpected();
        this.advance();
      }
      this.depth--;
      return node;
    }
    return this.comparison();
  }

  private comparison(): FilterNode {
    const keyTok = this.tok;
    if (keyTok.type !== 'word' && keyTok.type !== 'string') this.unexpected();
    this.advance();
    const opTok = this.tok;
    let op: CmpOp;
    if (opTok.type === '=') op = '=';
    else if (opTok.type === '<' || opTok.type === '>') op = opTok.type;
    else this.unexpected();
    this.advance();
    if (op !== '=' && this.tok.type === '=') {
      op = op === '<' ? '<=' : '>=';
      this.advance();
    }
    const v = this.tok;
    let raw: string;
    if (v.type === 'word' || v.type === 'string') raw = v.text;
    else if (v.type === 'and' || v.type === 'or' || v.type === 'not') raw = v.type;
    else this.unexpected();
    this.advance();
    const key = keyTok.type === 'string' ? unescape(keyTok.text) : keyTok.text;
    return this.condition(key, op, raw, keyTok.offset, opTok.offset);
  }

  private condition(key: string, op: CmpOp, raw: string, offset: number, opOffset: number): FilterNode {
    const special = key === 'event' || key === 'category' || key === 'source_location';
    if (special && op !== '=') {
      throw new FilterSyntaxError('Only fields support inequality comparisons', opOffset, this.src);
    }
    if (key === 'event') {
      const exact = isEscapedLiteral(raw);
      return { type: 'event', name: exact ? unescape(raw) : raw, wildcard: !exact, offset };
    }
    if (key === 'category') {
      if (LOG_TYPES.has(raw)) return { type: 'category', name: raw, logType: raw as LogType, offset };
      return { type: 'category', name: unescape(raw), logType: null, offset };
    }
    if (key === 'source_location') return { type: 'source_location', location: unescape(raw), offset };
    return { type: 'field', key, op, value: classifyFieldValue(raw), offset };
  }
}

export function parseAst(source: string): FilterNode | null {
  return new Parser(source).parse();
}
