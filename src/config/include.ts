/**
 * `!include` path expansion: glob(3)-style patterns (`*`, `?`, `[...]`,
 * `{a,b}`), relative to the including file's directory, matches sorted.
 */
import { readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';

const GLOB_CHARS = /[*?[{]/;

export function hasGlob(pattern: string): boolean {
  return GLOB_CHARS.test(pattern);
}

/** `{a,b}c` → `ac`, `bc` (nested braces supported; an unbalanced `{` is literal). */
export function expandBraces(pattern: string): string[] {
  const open = pattern.indexOf('{');
  if (open < 0) return [pattern];
  let depth = 0;
  const commas: number[] = [];
  let close = -1;
  for (let i = open; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '{') depth++;
    else if (c === '}') {
      depth--;
      if (depth === 0) {
        close = i;
        break;
      }
    } else if (c === ',' && depth === 1) commas.push(i);
  }
  if (close < 0) return [pattern];
  const head = pattern.slice(0, open);
  const tail = pattern.slice(close + 1);
  const parts: string[] = [];
  let from = open + 1;
  for (const c of [...commas, close]) {
    parts.push(pattern.slice(from, c));
    from = c + 1;
  }
  const tails = expandBraces(tail);
  const out: string[] = [];
  for (const p of parts) for (const h of expandBraces(head + p)) for (const t of tails) out.push(h + t);
  return out;
}

function segmentRegex(seg: string): RegExp {
  let re = '^';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i] as string;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = seg.indexOf(']', i + 2);
      if (end < 0) {
        re += '\\[';
        continue;
      }
      let body = seg.slice(i + 1, end);
      const negate = body.startsWith('!') || body.startsWith('^');
      if (negate) body = body.slice(1);
      re += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, '\\$&')}]`;
      i = end;
    } else if (c === '\\' && i + 1 < seg.length) {
      re += (seg[++i] as string).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(re + '$');
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function globOne(pattern: string, baseDir: string): string[] {
  const abs = isAbsolute(pattern);
  const segs = pattern.split('/').filter((s, i) => s !== '' || (i === 0 && abs));
  let found: string[] = [abs ? '/' : ''];
  for (let i = abs ? 1 : 0; i < segs.length; i++) {
    const seg = segs[i] as string;
    const next: string[] = [];
    for (const dir of found) {
      if (!/[*?[]/.test(seg)) {
        next.push(dir === '' ? seg : join(dir, seg));
        continue;
      }
      const onDisk = resolve(baseDir, dir === '' ? '.' : dir);
      if (!isDir(onDisk)) continue;
      let names: string[];
      try {
        names = readdirSync(onDisk);
      } catch {
        continue;
      }
      const re = segmentRegex(seg);
      for (const name of names.sort()) {
        if (name.startsWith('.') && !seg.startsWith('.')) continue;
        if (re.test(name)) next.push(dir === '' ? name : join(dir, name));
      }
    }
    found = next;
  }
  return found.filter((p) => {
    try {
      statSync(resolve(baseDir, p));
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * The existing files a glob pattern names, relative ones joined to `baseDir`
 * (so they read like the including file's name), sorted per brace alternative.
 */
export function globInclude(pattern: string, baseDir: string): string[] {
  const out: string[] = [];
  for (const alt of expandBraces(pattern)) {
    for (const p of globOne(alt, baseDir)) {
      const shown = isAbsolute(p) ? p : join(baseDir, p);
      if (!out.includes(shown)) out.push(shown);
    }
  }
  return out;
}
