/**
 * Dovecot config parsing: logical lines → a tree of settings and blocks,
 * with `!include` / `!include_try` expanded in place.
 */
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import type { SourcePos } from '../errors.js';
import { globInclude, hasGlob } from './include.js';
import { lexLines } from './lexer.js';
import type { LogicalLine } from './lexer.js';
import type { BlockNode, ConfigNode, ConfigValue } from './tree.js';

const MAX_INCLUDE_DEPTH = 64;

const isBlank = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v';

function syntax(pos: SourcePos, text: string): ConfigError {
  return new ConfigError('ERR_CONFIG_SYNTAX', pos, text);
}

/** Unescape a quoted string's body (`\x` → `x`), keeping where each character came from. */
function unescape(s: string, from: number): { text: string; map: number[] } {
  let text = '';
  const map: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\' && i + 1 < s.length) i++;
    text += s[i] as string;
    map.push(from + i);
  }
  return { text, map };
}

function makeValue(line: LogicalLine, from: number, baseDir: string, allowFileRef: boolean): ConfigValue {
  const raw = line.text.slice(from);
  const end = line.text.length;
  if (allowFileRef && raw.startsWith('<')) {
    let s = from + 1;
    while (isBlank(line.text[s])) s++;
    const text = line.text.slice(s);
    return { text, pos: line.posAt(s), posAt: (i) => line.posAt(s + i), fileRef: true, baseDir };
  }
  const q = raw[0];
  if (raw.length >= 2 && (q === '"' || q === "'") && raw.endsWith(q)) {
    const { text, map } = unescape(raw.slice(1, -1), from + 1);
    const posAt = (i: number): SourcePos => line.posAt(map[i] ?? end - 1);
    return { text, pos: posAt(0), posAt, fileRef: false, baseDir };
  }
  return { text: raw, pos: line.posAt(from), posAt: (i) => line.posAt(from + i), fileRef: false, baseDir };
}

type Statement =
  | { kind: 'end' }
  | { kind: 'setting'; key: string; keyPos: SourcePos; value: ConfigValue }
  | { kind: 'include'; tryOnly: boolean; path: ConfigValue }
  | { kind: 'open'; type: string; typePos: SourcePos; name: string | null; namePos: SourcePos; bracePos: SourcePos; closed: boolean };

function parseStatement(line: LogicalLine, baseDir: string): Statement {
  const t = line.text;
  if (t[0] === '}') {
    if (t.length === 1) return { kind: 'end' };
    let g = 1;
    while (isBlank(t[g])) g++;
    throw syntax(line.posAt(g), "Garbage after '}'");
  }
  let i = 0;
  while (i < t.length && !isBlank(t[i]) && t[i] !== '=' && t[i] !== '{') i++;
  const key = t.slice(0, i);
  let j = i;
  while (isBlank(t[j])) j++;
  if (t[j] === '=') {
    if (key === '') throw syntax(line.posAt(0), "Missing setting name before '='");
    let v = j + 1;
    while (isBlank(t[v])) v++;
    return { kind: 'setting', key, keyPos: line.posAt(0), value: makeValue(line, v, baseDir, true) };
  }
  if (key === '!include' || key === '!include_try') {
    if (j >= t.length) throw syntax(line.posAt(j), `${key}: missing file name`);
    return { kind: 'include', tryOnly: key === '!include_try', path: makeValue(line, j, baseDir, false) };
  }
  if (key === '') throw syntax(line.posAt(0), "Missing block type before '{'");
  let name: string | null = null;
  let namePos = line.posAt(j);
  if (t[j] !== '{') {
    if (j >= t.length) throw syntax(line.posAt(j), "Expecting '='");
    let k: number;
    const q = t[j];
    if (q === '"' || q === "'") {
      k = j + 1;
      while (k < t.length && t[k] !== q) k += t[k] === '\\' ? 2 : 1;
      if (k >= t.length) throw syntax(line.posAt(j), 'Missing closing quote in block name');
      name = unescape(t.slice(j + 1, k), 0).text;
      namePos = line.posAt(j + 1);
      k++;
    } else {
      k = j;
      while (k < t.length && !isBlank(t[k]) && t[k] !== '{') k++;
      name = t.slice(j, k);
    }
    while (isBlank(t[k])) k++;
    if (t[k] !== '{') throw syntax(line.posAt(k), t[k] === '=' ? "Expecting '{' (a setting name is one word)" : "Expecting '{'");
    j = k;
  }
  const bracePos = line.posAt(j);
  if (name === null) namePos = bracePos;
  let r = j + 1;
  while (isBlank(t[r])) r++;
  let closed = false;
  if (t[r] === '}') {
    let e = r + 1;
    while (isBlank(t[e])) e++;
    if (e < t.length) throw syntax(line.posAt(r), "Garbage after '{'");
    closed = true;
  } else if (r < t.length) throw syntax(line.posAt(r), "Garbage after '{'");
  return { kind: 'open', type: key, typePos: line.posAt(0), name, namePos, bracePos, closed };
}

interface OpenBlock {
  readonly node: BlockNode & { children: ConfigNode[] };
  readonly bracePos: SourcePos;
}

function errnoText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'No such file or directory';
  if (code === 'EACCES') return 'Permission denied';
  if (code === 'EISDIR') return 'Is a directory';
  if (code === 'ELOOP') return 'Too many levels of symbolic links';
  return e instanceof Error ? e.message : String(e);
}

function readInclude(path: string, at: SourcePos): { text: string; real: string } {
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw Object.assign(new Error('Is a directory'), { code: 'EISDIR' });
    if (!st.isFile()) throw new Error('Not a regular file');
    const text = readFileSync(path, 'utf8');
    return { text, real: realpathSync(path) };
  } catch (e) {
    throw new ConfigError('ERR_CONFIG_INCLUDE', at, `Couldn't open include file ${path}: ${errnoText(e)}`);
  }
}

function isMissing(path: string): boolean {
  try {
    statSync(path);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

function expandInclude(stmt: { tryOnly: boolean; path: ConfigValue }, baseDir: string, stack: readonly string[]): ConfigNode[] {
  const pattern = stmt.path.text;
  const at = stmt.path.pos;
  const directive = stmt.tryOnly ? '!include_try' : '!include';
  let files: string[];
  if (hasGlob(pattern)) {
    files = globInclude(pattern, baseDir);
    if (files.length === 0) {
      if (stmt.tryOnly) return [];
      const shown = isAbsolute(pattern) ? pattern : join(baseDir, pattern);
      throw new ConfigError('ERR_CONFIG_INCLUDE', at, `${directive} ${shown}: No matches`);
    }
  } else {
    const path = isAbsolute(pattern) ? pattern : join(baseDir, pattern);
    if (stmt.tryOnly && isMissing(path)) return [];
    files = [path];
  }
  const out: ConfigNode[] = [];
  for (const file of files) {
    const { text, real } = readInclude(file, at);
    if (stack.includes(real)) throw new ConfigError('ERR_CONFIG_INCLUDE', at, `Recursive include file: ${file}`);
    if (stack.length >= MAX_INCLUDE_DEPTH) throw new ConfigError('ERR_CONFIG_INCLUDE', at, `Includes nested too deeply: ${file}`);
    out.push(...parseTree(text, file, dirname(file), [...stack, real]));
  }
  return out;
}

/**
 * Parse config text into its tree. `stack` holds the real paths of the files
 * being parsed (include loop detection); `baseDir` resolves `!include` paths.
 */
export function parseTree(text: string, file: string, baseDir: string, stack: readonly string[] = [resolve(file)]): ConfigNode[] {
  const root: ConfigNode[] = [];
  const open: OpenBlock[] = [];
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  for (const line of lexLines(src, file)) {
    const stmt = parseStatement(line, baseDir);
    const top = open[open.length - 1];
    const into = top === undefined ? root : top.node.children;
    switch (stmt.kind) {
      case 'end':
        if (top === undefined) throw syntax(line.posAt(0), "Unexpected '}'");
        open.pop();
        break;
      case 'setting':
        into.push({ kind: 'setting', key: stmt.key, keyPos: stmt.keyPos, value: stmt.value });
        break;
      case 'include':
        into.push(...expandInclude(stmt, baseDir, stack));
        break;
      case 'open': {
        const node = {
          kind: 'block' as const,
          type: stmt.type,
          typePos: stmt.typePos,
          name: stmt.name,
          namePos: stmt.namePos,
          children: [] as ConfigNode[],
        };
        into.push(node);
        if (!stmt.closed) open.push({ node, bracePos: stmt.bracePos });
        break;
      }
    }
  }
  const unclosed = open[open.length - 1];
  if (unclosed !== undefined) {
    const b = unclosed.node;
    const label = b.name === null ? b.type : `${b.type} ${b.name}`;
    throw syntax(unclosed.bracePos, `Missing '}': block '${label}' is not closed`);
  }
  return root;
}
