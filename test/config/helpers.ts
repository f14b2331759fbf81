import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { parseConfigText } from '../../src/config/index.js';
import type { MetricDef } from '../../src/config/index.js';

export function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError, nothing was thrown');
}

/** The error parsing `text` (as file `test.conf`) throws. */
export function errorOf(text: string, file = 'test.conf'): ConfigError {
  return configError(() => parseConfigText(text, file));
}

/** `file:line:col: detail` split into its parts. */
export function where(e: ConfigError): string {
  return `${e.pos.file}:${e.pos.line}:${e.pos.col}`;
}

const tempDirs: string[] = [];
afterAll(() => {
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Write `files` (relative path → text) under a new temp dir (removed at exit); returns the dir. */
export function tempTree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tallyd-config-'));
  tempDirs.push(dir);
  for (const [rel, text] of Object.entries(files)) {
    const p = join(dir, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, text);
  }
  return dir;
}

export function withoutPos(m: MetricDef): Omit<MetricDef, 'pos'> {
  const { pos: _pos, ...rest } = m;
  return rest;
}
