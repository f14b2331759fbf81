/**
 * npm run bench:dovecot [-- --events N] [--runs R] [--json] [--skip-tallyd] [--skip-dovecot] [--skip-writer]
 *
 * Dovecot 2.3's stats process and `tallyd serve` on the same metrics and
 * events: events per CPU-second of each, and their ratio (bench/dovecot/).
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULTS, runDovecotBench, type BenchResult, type Side } from './dovecot/index.js';

const USAGE = `usage: npm run bench:dovecot -- [--events N] [--runs R] [--shards N] [--warmup B|all] [--json] [--skip-tallyd] [--skip-dovecot] [--skip-writer]
  --events N      events per run (default ${DEFAULTS.events})
  --runs R        runs, alternating which server goes first (default ${DEFAULTS.runs})
  --shards N      tallyd's shards (default ${DEFAULTS.shards})
  --warmup B|all  batches tallyd gets, then resets, before it is measured (default all: the whole workload once; 0: none)
  --json          the result as JSON on stdout
`;

const k = (n: number): string => `${Math.round(n / 1000)}k`;

function row(who: string, s: Side | null): string {
  if (s === null) return `| ${who} | – | – | – | – | – |`;
  return `| ${who} | ${s.events} | ${s.wallSeconds.toFixed(2)} | ${s.cpuSeconds.toFixed(2)} | ${k(s.eventsPerSecond)} | ${k(s.eventsPerCpuSecond)} |`;
}

function table(r: BenchResult): string {
  const L: string[] = [];
  r.runs.forEach((x, i) => {
    L.push(`run ${i + 1}${x.ratio === null ? '' : `: tallyd/Dovecot ${x.ratio.toFixed(2)}× events per CPU-second`}`);
    L.push('| server | events | wall s | CPU s | events/s | events/CPU-s |', '| --- | ---: | ---: | ---: | ---: | ---: |');
    L.push(
      row('Dovecot 2.3 stats (stats-writer socket)', x.dovecot),
      row('tallyd serve (HTTP msgpack batches)', x.tallyd),
      row('tallyd serve (its stats-writer socket)', x.tallydWriter),
      '',
    );
    for (const [who, sd] of [['HTTP', x.tallyd], ['stats-writer', x.tallydWriter]] as const) {
      const t = sd?.threads;
      if (t !== undefined) L.splice(L.length - 1, 0, `tallyd (${who}) CPU s by thread: main ${t.main.toFixed(2)}, shards ${t.busiest.map((b) => b.toFixed(2)).join(' + ')}, other threads ${t.rest.toFixed(2)}`);
    }
    if (x.ratioWriter !== null) L.splice(L.length - 1, 0, `tallyd on its stats-writer socket / Dovecot: ${x.ratioWriter.toFixed(2)}×`);
  });
  if (r.ratio !== null) L.push(`ratio tallyd (HTTP msgpack)/Dovecot, events per CPU-second: median ${r.ratio.toFixed(2)} (${(r.ratioMin as number).toFixed(2)}–${(r.ratioMax as number).toFixed(2)}) over ${r.runs.length} runs`);
  if (r.ratioWriter !== null) L.push(`ratio tallyd (stats-writer socket)/Dovecot, events per CPU-second: median ${r.ratioWriter.toFixed(2)} (${(r.ratioWriterMin as number).toFixed(2)}–${(r.ratioWriterMax as number).toFixed(2)}) over ${r.runs.length} runs`);
  const bytes: string[] = [];
  if ((r.msgpackBytesPerEvent ?? 0) > 0) bytes.push(`msgpack ${(r.msgpackBytesPerEvent as number).toFixed(0)}`);
  if ((r.writerBytesPerEvent ?? 0) > 0) bytes.push(`stats-writer ${(r.writerBytesPerEvent as number).toFixed(0)}`);
  if (bytes.length > 0) L.push(`bytes per event: ${bytes.join(', ')}`);
  return `${L.join('\n')}\n`;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      events: { type: 'string' },
      runs: { type: 'string' },
      shards: { type: 'string' },
      warmup: { type: 'string' },
      json: { type: 'boolean', default: false },
      'skip-tallyd': { type: 'boolean', default: false },
      'skip-dovecot': { type: 'boolean', default: false },
      'skip-writer': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const int = (s: string | undefined, d: number, what: string): number => {
    if (s === undefined) return d;
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${what}: a positive integer, not ${JSON.stringify(s)}`);
    return n;
  };
  const r = await runDovecotBench({
    events: int(values.events, DEFAULTS.events, 'events'),
    runs: int(values.runs, DEFAULTS.runs, 'runs'),
    shards: int(values.shards, DEFAULTS.shards, 'shards'),
    warmupBatches: values.warmup === '0' ? 0 : values.warmup === 'all' ? Infinity : int(values.warmup, DEFAULTS.warmupBatches, 'warmup'),
    dovecot: !values['skip-dovecot'],
    tallyd: !values['skip-tallyd'],
    tallydWriter: !values['skip-writer'],
    log: (s) => void process.stderr.write(`bench:dovecot: ${s}\n`),
  });
  if (values.json) process.stdout.write(`${JSON.stringify(r)}\n`);
  else if (r.skipped !== undefined) process.stdout.write(`bench:dovecot: skipped: ${r.skipped}\n`);
  else process.stdout.write(table(r));
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => (process.exitCode = code),
    (e: unknown) => {
      process.stderr.write(`bench:dovecot: ${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
