import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const srcDir = fileURLToPath(new URL('../../src/ring/', import.meta.url));
const distDir = fileURLToPath(new URL('../../dist/src/ring/', import.meta.url));

/** Worker fixtures import the compiled ring: make sure it exists and is current. */
export function assertCompiledRing(): void {
  for (const file of readdirSync(srcDir)) {
    if (!file.endsWith('.ts')) continue;
    const js = distDir + file.replace(/\.ts$/, '.js');
    if (!existsSync(js) || statSync(js).mtimeMs < statSync(srcDir + file).mtimeMs) {
      throw new Error(`${js} is missing or older than its source: run "npx tsc -p tsconfig.build.json" (npm test does)`);
    }
  }
}

export function fixture(name: string): URL {
  return new URL(`./${name}`, import.meta.url);
}
