/**
 * The micro-benchmark runner (tinybench v6).
 *
 *   npm run bench -- [--scope decode|filter|record|ring|merge|render|memory|all]
 *                    [--reporter table|json] [--time MS] [--quick] [--out FILE]
 *
 * --scope takes a comma-separated list. table: a markdown table per run;
 * json: one JSON object per task on stdout (name, opsPerSec = throughput mean,
 * latencyP50Ms/latencyP99Ms, rme, samples, node, cpu, …). Progress goes to
 * stderr. --out also writes the JSON lines to FILE.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CPU, NODE, formatTable, type AnyRow } from './lib/report.js';
import type { SuiteOptions } from './suites/common.js';
import { decodeJsSuite, decodeSuite } from './suites/decode.js';
import { filterSuite } from './suites/filter.js';
import { memorySuite } from './suites/memory.js';
import { mergeSuite } from './suites/merge.js';
import { recordSuite } from './suites/record.js';
import { renderSuite } from './suites/render.js';
import { ringSuite } from './suites/ring.js';

export const SUITES: Record<string, (o: SuiteOptions) => Promise<AnyRow[]>> = {
  decode: decodeSuite,
  filter: filterSuite,
  record: recordSuite,
  ring: ringSuite,
  merge: mergeSuite,
  render: renderSuite,
  memory: memorySuite,
};

/** run by other suites in a child process, not part of `all` */
const INTERNAL: Record<string, (o: SuiteOptions) => Promise<AnyRow[]>> = {
  'decode-js': decodeJsSuite,
};

const USAGE = `usage: npm run bench -- [--scope ${Object.keys(SUITES).join('|')}|all[,…]] [--reporter table|json] [--time MS] [--quick] [--out FILE]`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      scope: { type: 'string', default: 'all' },
      reporter: { type: 'string', default: 'table' },
      time: { type: 'string', default: '1000' },
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const scopes = values.scope === 'all' ? Object.keys(SUITES) : values.scope.split(',').map((s) => s.trim());
  for (const s of scopes) {
    if (SUITES[s] === undefined && INTERNAL[s] === undefined) {
      process.stderr.write(`unknown scope '${s}'\n${USAGE}\n`);
      return 2;
    }
  }
  if (values.reporter !== 'table' && values.reporter !== 'json') {
    process.stderr.write(`unknown reporter '${values.reporter}'\n${USAGE}\n`);
    return 2;
  }
  const time = Number(values.time);
  if (!(time > 0)) {
    process.stderr.write(`--time must be a positive number of ms\n`);
    return 2;
  }
  const opts: SuiteOptions = { time, quick: values.quick };
  const all: AnyRow[] = [];
  const started = new Date();
  for (const s of scopes) {
    process.stderr.write(`bench: ${s}…\n`);
    const t0 = performance.now();
    const rows = await ((SUITES[s] ?? INTERNAL[s]) as (o: SuiteOptions) => Promise<AnyRow[]>)(opts);
    process.stderr.write(`bench: ${s} done in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    all.push(...rows);
    if (values.reporter === 'json') for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`);
  }
  if (values.reporter === 'table') {
    process.stdout.write(`node ${NODE}, ${CPU}, ${started.toISOString()}, --time ${time}${values.quick ? ' --quick' : ''}\n\n`);
    process.stdout.write(`${formatTable(all)}\n`);
  }
  if (values.out !== undefined) writeFileSync(values.out, all.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return 0;
}

process.exitCode = await main();
