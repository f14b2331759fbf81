/** Heap measurement for benches run with `node --expose-gc`. */

export interface HeapFigures {
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

function collect(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with node --expose-gc');
  gc();
  gc();
}

/** memory in use after a full collection (external includes arrayBuffers) */
export function heapNow(): HeapFigures {
  collect();
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
}

/** heapUsed + external grown since `before` */
export function heapGrowth(before: HeapFigures, after: HeapFigures): number {
  return after.heapUsed - before.heapUsed + (after.external - before.external);
}

export function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n.toFixed(0)} B`;
}
