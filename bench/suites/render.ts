/**
 * Rendering every export format from the main thread's Accumulator (what a
 * scrape renders after its flush) at 1k, 10k and 100k `series` sub-metrics
 * (3 values each) plus the built-in metrics, and the template-string floor:
 * the same series lines built from plain arrays.
 */
import { serializeFamilies } from '../../src/export/exposition.js';
import { buildModel, depthFor, renderExport, type ExportFormat, type ExportOptions } from '../../src/export/index.js';
import { benchConfig } from '../fixtures/config.js';
import { accumulatorOf, feedShards } from '../fixtures/state.js';
import { seriesArraysOf, seriesLineCount, templateLines } from '../fixtures/template.js';
import { addTask, ratioRow, rowsOf, type AnyRow, type Row } from '../lib/report.js';
import { keep, newBench, type SuiteOptions } from './common.js';

export const FORMATS: readonly ExportFormat[] = ['openmetrics', 'prometheus', 'dovecot', 'json', 'dump'];

export const RENDER_OPTS: ExportOptions = { prefix: 'dovecot', style: 'strict', version: '0.1.0', startTimeSeconds: 0, extra: [] };

export function seriesLabel(n: number): string {
  return n >= 1000 ? `${n / 1000}k` : String(n);
}

/** the Accumulator of 2 shards holding `series` sparse sub-metrics */
export function seriesState(series: number): ReturnType<typeof accumulatorOf> {
  const config = benchConfig();
  return accumulatorOf(config, feedShards(config, { shards: 2, series, valuesEach: 3, mailBatches: 4, overlap: false }));
}

export async function renderSuite(opts: SuiteOptions): Promise<AnyRow[]> {
  const rows: Row[] = [];
  const ratios: AnyRow[] = [];
  const sizes = opts.quick ? [100_000] : [1000, 10_000, 100_000];
  for (const n of sizes) {
    const acc = seriesState(n);
    const view = acc.view();
    const arrays = seriesArraysOf(view);
    const floor = templateLines(arrays);
    const om = renderExport('openmetrics', view, RENDER_OPTS);
    if (seriesLineCount(om) !== seriesLineCount(floor) || seriesLineCount(om) !== 2 * n) {
      throw new Error(`render ${n}: openmetrics has ${seriesLineCount(om)} series lines, the template ${seriesLineCount(floor)}`);
    }
    const big = n >= 100_000;
    const bench = newBench(opts, `render ${n}`, big ? { time: Math.min(opts.time, 500), iterations: 5, warmupIterations: 1 } : {});
    const label = seriesLabel(n);
    addTask(bench, `template strings, same series lines (floor), ${label} series`, () => keep(templateLines(arrays)), n, 'series');
    if (!opts.quick) {
      // the two halves of the strict renderers
      const model = buildModel(view, RENDER_OPTS);
      addTask(bench, `  openmetrics, part 1: buildModel (family model), ${label} series`, () => keep(buildModel(view, RENDER_OPTS)), n, 'series');
      addTask(bench, `  openmetrics, part 2: serializeFamilies (text of a built model), ${label} series`, () => keep(serializeFamilies(model.families, true)), n, 'series');
    }
    for (const f of FORMATS) {
      if (opts.quick && f !== 'openmetrics') continue;
      const depth = depthFor(f);
      addTask(bench, `renderExport ${f} (${depth}), ${label} series`, () => keep(renderExport(f, view, RENDER_OPTS)), n, 'series');
    }
    await bench.run();
    const r = rowsOf('render', bench);
    rows.push(...r);
    ratios.push(ratioRow('render', `renderExport openmetrics / template lines, ${label} series (target <= 3)`, r, 'renderExport openmetrics', 'template strings'));
  }
  return [...rows, ...ratios];
}
