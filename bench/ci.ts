/**
 * CI guard: a short run (< 2 minutes) of the ratio benchmarks. Exits 1 when
 * a ratio's median falls below its floor in bench/floors.json, 0 otherwise.
 * Absolute times are printed, never asserted. Targets are reported as
 * verdicts and do not fail the run (a floor guards against regression from
 * where the code is; a target is where it should get to).
 *
 *   npm run bench:ci [-- --json] [--skip-e2e] [--floors FILE (default bench/floors.json)]
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { runDovecotBench } from './dovecot/index.js';
import { runE2e } from './e2e.js';
import { killAll } from './e2e/proc.js';
import { budgetOverSubMetricBytes, promOverTallyd, scanOverMsgpackr, templateOverOpenMetrics, type RatioResult } from './lib/ratios.js';
import { CPU, NODE } from './lib/report.js';

interface Floor {
  floor: number;
  target: number;
  what: string;
}

type Floors = Record<string, Floor>;

const FLOORS = new URL('../../bench/floors.json', import.meta.url);

interface Outcome extends RatioResult {
  name: string;
  floor: number;
  target: number;
  what: string;
  pass: boolean;
  targetMet: boolean;
  seconds: number;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      'skip-e2e': { type: 'boolean', default: false },
      'skip-dovecot': { type: 'boolean', default: false },
      floors: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write('usage: npm run bench:ci -- [--json] [--skip-e2e] [--skip-dovecot] [--floors FILE]\n');
    return 0;
  }
  const floors = (JSON.parse(readFileSync(values.floors ?? FLOORS, 'utf8')) as { checks: Floors }).checks;
  const log = (s: string): void => void process.stderr.write(`bench:ci: ${s}\n`);
  const t00 = performance.now();
  const measures: [string, () => Promise<RatioResult> | RatioResult][] = [
    ['prom_over_tallyd_cpu', () => promOverTallyd(5, 300)],
    ['template_over_openmetrics_100k', () => templateOverOpenMetrics(100_000, 7)],
    ['budget_over_sparse_submetric_heap', () => budgetOverSubMetricBytes(20_000, 3)],
    ['scan_over_msgpackr_engine', () => scanOverMsgpackr(5, 100_000)],
  ];
  if (!values['skip-dovecot']) {
    // one bench:dovecot run gives both tallyd/Dovecot ratios (HTTP msgpack and tallyd's own writer socket)
    let dv: Promise<Awaited<ReturnType<typeof runDovecotBench>>> | null = null;
    const dovecotRuns = (): Promise<Awaited<ReturnType<typeof runDovecotBench>>> => (dv ??= runDovecotBench({ runs: 3, events: 300_000, log }));
    const per = (r: Awaited<ReturnType<typeof runDovecotBench>>, k: 'dovecot' | 'tallyd' | 'tallydWriter'): string =>
      r.runs.map((x) => Math.round((x[k]?.eventsPerCpuSecond ?? 0) / 1000)).join(', ');
    measures.push([
      'tallyd_over_dovecot_cpu',
      async () => {
        const r = await dovecotRuns();
        if (r.skipped !== undefined || r.ratio === null) return { value: Number.NaN, rounds: [], detail: `skipped: ${r.skipped ?? 'no ratio'}`, skipped: true };
        return {
          value: r.ratio,
          rounds: r.runs.map((x) => x.ratio as number),
          detail: `tallyd serve ${per(r, 'tallyd')}k events/CPU-s; Dovecot stats ${per(r, 'dovecot')}k events/CPU-s`,
        };
      },
    ]);
    measures.push([
      'tallyd_writer_over_dovecot_cpu',
      async () => {
        const r = await dovecotRuns();
        if (r.skipped !== undefined || r.ratioWriter === null) return { value: Number.NaN, rounds: [], detail: `skipped: ${r.skipped ?? 'no ratio'}`, skipped: true };
        return {
          value: r.ratioWriter,
          rounds: r.runs.map((x) => x.ratioWriter as number),
          detail: `tallyd on its stats-writer socket ${per(r, 'tallydWriter')}k events/CPU-s; Dovecot stats ${per(r, 'dovecot')}k events/CPU-s`,
        };
      },
    ]);
  }
  if (!values['skip-e2e']) {
    measures.push([
      'e2e_http_2shards_over_naive',
      async () => {
        const r = await runE2e({
          shards: 2,
          rounds: 3,
          seconds: 5,
          scrapeSeconds: 0,
          series: [],
          transports: ['http'],
          nativeFree: false,
          throughputOnly: true,
          log,
        });
        const key = Object.keys(r.roundRatios).find((k) => k.startsWith('e2e http')) as string;
        const rounds = r.roundRatios[key] ?? [];
        const e2e = r.throughput.map((t) => Math.round(t.load.acceptedPerSec));
        const naive = r.references.map((x) => Math.round(x.eventsPerSec));
        return { value: r.ratios[key] ?? Number.NaN, rounds, detail: `tallyd 2 shards over HTTP ${e2e.join(', ')} events/s; naive loop ${naive.join(', ')} events/s` };
      },
    ]);
  }
  const outcomes: Outcome[] = [];
  for (const [name, run] of measures) {
    const f = floors[name];
    if (f === undefined) throw new Error(`bench/floors.json has no floor for ${name}`);
    log(`${name}…`);
    const t0 = performance.now();
    const r: RatioResult & { skipped?: boolean } = await run();
    // a ratio whose peer is not installed (Dovecot outside CI) is reported, not failed
    const pass = r.skipped === true || r.value >= f.floor;
    outcomes.push({ ...r, name, ...f, pass, targetMet: r.value >= f.target, seconds: (performance.now() - t0) / 1000 });
  }
  const failed = outcomes.filter((o) => !o.pass);
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ node: NODE, cpu: CPU, date: new Date().toISOString(), outcomes })}\n`);
  } else {
    const L = [
      `node ${NODE}, ${CPU}, ${new Date().toISOString()}, ${((performance.now() - t00) / 1000).toFixed(0)} s`,
      '',
      '| ratio (higher is better) | median | rounds | floor | guard | target | target verdict | measured |',
      '| --- | ---: | --- | ---: | --- | ---: | --- | --- |',
    ];
    for (const o of outcomes) {
      L.push(
        `| ${o.name}: ${o.what} | ${o.value.toFixed(3)} | ${o.rounds.map((x) => x.toFixed(2)).join(', ')} | ${o.floor} | ${o.pass ? 'pass' : 'FAIL'} | ${o.target} | ${o.targetMet ? 'met' : `missed (${((100 * o.value) / o.target).toFixed(1)}% of target)`} | ${o.detail} |`,
      );
    }
    process.stdout.write(`${L.join('\n')}\n`);
  }
  if (failed.length > 0) {
    process.stderr.write(`bench:ci: below floor: ${failed.map((o) => `${o.name} ${o.value.toFixed(2)} < ${o.floor}`).join('; ')}\n`);
    return 1;
  }
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const guard = setTimeout(() => {
    process.stderr.write('bench:ci: 5-minute limit reached; stopping\n');
    killAll();
    process.exit(2);
  }, 5 * 60 * 1000);
  guard.unref();
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`bench:ci: ${(e as Error).stack ?? String(e)}\n`);
      killAll();
      process.exitCode = 2;
    },
  );
}
