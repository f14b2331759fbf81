import { fileURLToPath } from 'node:url';

/**
 * The compiled shard worker module. Workers always run compiled JavaScript:
 * when this module itself runs from TypeScript sources (the test runner),
 * the worker comes from the build output (`npm run build`).
 */
export function workerFile(): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) {
    return here.replace(/([\\/])src[\\/]shard[\\/]paths\.ts$/, '$1dist$1src$1shard$1worker.js');
  }
  return fileURLToPath(new URL('./worker.js', import.meta.url));
}
