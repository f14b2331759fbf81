/** Dovecot's backslash conventions for filter strings (strescape.c, wildcard-match.c). */

/** Removes every backslash, keeping the character after it (`str_unescape`). */
export function unescape(raw: string): string {
  if (raw.indexOf('\\') < 0) return raw;
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    let c = raw[i] as string;
    if (c === '\\') {
      i++;
      if (i >= raw.length) break;
      c = raw[i] as string;
    }
    out += c;
  }
  return out;
}

/** True when the value has no unescaped `*` or `?` (`wildcard_is_escaped_literal`). */
export function isEscapedLiteral(raw: string): boolean {
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c === '*' || c === '?') return false;
    if (c === '\\') i++;
  }
  return true;
}

/** Escapes `"`, `\` and `'` with a backslash (`str_append_escaped`). */
export function escape(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '"' || c === '\\' || c === "'") out += '\\';
    out += c;
  }
  return out;
}

/**
 * Like `escape`, and also escapes `*` and `?`, so an exact value that
 * contains them is read back as exact (Dovecot exports them bare, which
 * turns `event="foo\*"` into the wildcard `event="foo*"` on re-import).
 */
export function escapeLiteral(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '"' || c === '\\' || c === "'" || c === '*' || c === '?') out += '\\';
    out += c;
  }
  return out;
}
