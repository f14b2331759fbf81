/**
 * The live page's static files, served by tallyd itself (the machines may
 * have no internet): uPlot's script and style from its package, resolved
 * through the module system so a global install finds them too, and the
 * page's own script and style from static/ beside this file (the build
 * copies it into dist/). Paths are resolved when tallyd starts, files read once, on first use.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { HttpResponse } from '../types.js';

const require = createRequire(import.meta.url);

const FILES: Record<string, { path: string; type: string }> = {
  'uPlot.iife.min.js': { path: require.resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  'uPlot.min.css': { path: require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
  'live.js': { path: fileURLToPath(new URL('./static/live.js', import.meta.url)), type: 'text/javascript; charset=utf-8' },
  'live.css': { path: fileURLToPath(new URL('./static/live.css', import.meta.url)), type: 'text/css; charset=utf-8' },
};

const cache = new Map<string, Buffer>();

/** `/assets/NAME`, or null when there is no such asset. */
export function asset(name: string): HttpResponse | null {
  const f = Object.hasOwn(FILES, name) ? FILES[name] : undefined;
  if (f === undefined) return null;
  let body = cache.get(name);
  if (body === undefined) {
    body = readFileSync(f.path);
    cache.set(name, body);
  }
  return { status: 200, headers: { 'content-type': f.type, 'cache-control': 'public, max-age=3600' }, body };
}
