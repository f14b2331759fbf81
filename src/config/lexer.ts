/**
 * Dovecot config lexing: physical lines → logical lines.
 *
 * A logical line is one statement: comments removed, surrounding blanks
 * trimmed, `\`-continued physical lines joined with one space. Every
 * character of a logical line maps back to its file, line and column.
 */
import type { SourcePos } from '../errors.js';

interface Segment {
  /** offset in the logical text where this physical piece starts */
  readonly start: number;
  readonly line: number;
  /** 1-based column of the piece's first character in its physical line */
  readonly col: number;
}

export class LogicalLine {
  readonly text: string;
  readonly file: string;
  private readonly segments: readonly Segment[];

  constructor(text: string, file: string, segments: readonly Segment[]) {
    this.text = text;
    this.file = file;
    this.segments = segments;
  }

  /** position of the character at `offset` (offsets past the end map after the last character) */
  posAt(offset: number): SourcePos {
    const segs = this.segments;
    let seg = segs[0] as Segment;
    for (let i = 1; i < segs.length; i++) {
      const s = segs[i] as Segment;
      if (s.start > offset) break;
      seg = s;
    }
    return { file: this.file, line: seg.line, col: seg.col + Math.max(0, offset - seg.start) };
  }
}

const isBlank = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v';

/**
 * Index where a comment starts in `s` (from `from`), or -1. A comment is a `#`
 * outside quotes at the start of the text or after a blank. A quote opens a
 * quoted string only where a token starts (`doesn't` is a word, not a quote).
 */
function commentStart(s: string, from: number): number {
  let quote: string | null = null;
  for (let i = from; i < s.length; i++) {
    const c = s[i];
    if (quote !== null) {
      if (c === '\\' && i + 1 < s.length) i++;
      else if (c === quote) quote = null;
      continue;
    }
    if ((c === '"' || c === "'") && (i === from || /[\s=(<>,]/.test(s[i - 1] as string))) quote = c;
    else if (c === '#' && (i === from || isBlank(s[i - 1]))) return i;
  }
  return -1;
}

/** Split config text into logical lines. */
export function lexLines(text: string, file: string): LogicalLine[] {
  const out: LogicalLine[] = [];
  const physical = text.split('\n');
  let pending = '';
  let segments: Segment[] = [];

  for (let n = 0; n < physical.length; n++) {
    const raw = physical[n] as string;
    const lineNo = n + 1;
    let start = 0;
    while (start < raw.length && isBlank(raw[start])) start++;
    if (start >= raw.length || raw[start] === '#') continue;
    let end = raw.length;
    const hash = commentStart(raw, start);
    if (hash >= 0) end = hash;
    while (end > start && isBlank(raw[end - 1])) end--;
    if (end === start) continue;

    let continues = false;
    if (raw[end - 1] === '\\') {
      continues = true;
      end--;
      while (end > start && isBlank(raw[end - 1])) end--;
    }
    segments.push({ start: pending.length, line: lineNo, col: start + 1 });
    pending += raw.slice(start, end);
    if (continues) {
      pending += ' ';
      continue;
    }
    out.push(new LogicalLine(pending, file, segments));
    pending = '';
    segments = [];
  }
  if (segments.length > 0) {
    out.push(new LogicalLine(pending.replace(/ $/, ''), file, segments));
  }
  return out;
}
