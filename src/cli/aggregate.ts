import { parseArgs } from 'node:util';
import { defaultConfig, loadConfigFile } from '../config/index.js';
import { Engine } from '../engine/engine.js';
import { depthFor, parseDumpFields, renderExport, type ExportFormat } from '../export/index.js';
import { evaluateAssertions, formatResult, parseAssertion } from './assert.js';
import { CliError, type Command } from './common.js';
import { renderJunit, writeJunit } from './junit.js';
import { streamEventFile } from './stream.js';
import { tallydVersion } from './version.js';

const FORMATS: readonly ExportFormat[] = ['dump', 'openmetrics', 'prometheus', 'dovecot', 'json'];

export const aggregateCommand: Command = {
  help: [
    'Usage: tallyd aggregate [--config FILE] [--format FORMAT] [-f FIELDS]',
    '                        [--assert EXPR]... [--junit FILE] FILE...',
    '',
    'Runs the aggregation engine over event files and prints one export.',
    'FILE is NDJSON or JSON (told apart by content), msgpack when its name ends',
    'in .msgpack, or - for standard input. A Dovecot event-exporter log (JSON',
    'lines) replays as is. Files are read as streams (bounded memory); a',
    'rejected event is named FILE:LINE (FILE: event I in msgpack).',
    '',
    'Options:',
    '  -c, --config FILE    config file (default: the built-in config)',
    '  --format FORMAT      dump (default), openmetrics, prometheus, dovecot, json',
    '  -f, --fields FIELDS  dump columns, split on spaces and commas',
    '                       (default "count sum min max avg median stddev %95")',
    '  --assert EXPR        a CI gate: METRIC [FIELD] STAT OP VALUE over dump',
    '                       names, e.g. \'imap_command_SELECT duration %99 <= 5000\',',
    '                       \'auth_request_fail count == 0\'; STAT is count sum min',
    '                       max avg median stddev variance %P, OP < <= == != >= >.',
    '                       Repeatable. After the export, one PASS/FAIL line each;',
    '                       exit 1 when one fails (a missing metric fails),',
    '                       2 when one is malformed',
    '  --junit FILE         also write the assertions\' results as JUnit XML',
  ].join('\n'),
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        format: { type: 'string', default: 'dump' },
        fields: { type: 'string', short: 'f' },
        assert: { type: 'string', multiple: true },
        junit: { type: 'string' },
      },
    });
    const t0 = performance.now();
    const assertions = (values.assert ?? []).map(parseAssertion);
    if (values.junit !== undefined && assertions.length === 0) throw new CliError('--junit needs at least one --assert');
    const format = values.format as ExportFormat;
    if (!FORMATS.includes(format)) throw new CliError(`--format must be one of ${FORMATS.join(', ')}`);
    if (positionals.length === 0) throw new CliError('expected at least one event FILE (or - for stdin)');
    const cfg = values.config !== undefined ? loadConfigFile(values.config) : defaultConfig();
    for (const w of cfg.warnings) process.stderr.write(`${w.pos.file}:${w.pos.line}:${w.pos.col}: warning: ${w.message}\n`);
    const engine = new Engine(cfg);
    let rejected = 0;
    for (const path of positionals) {
      const name = path === '-' ? '(stdin)' : path;
      try {
        for await (const batch of streamEventFile(path, name)) {
          const result = batch.kind === 'bytes' ? engine.ingestBytes(batch.bytes, batch.format) : engine.ingest(batch.events);
          rejected += result.rejected;
          for (const err of result.errors) process.stderr.write(`${batch.where(err.index)}: ${err.reason.replace(/^invalid_json: line \d+: /, 'invalid_json: ')}\n`);
        }
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        const why = code === 'ENOENT' ? 'No such file or directory' : code === 'EISDIR' ? 'Is a directory' : code === 'EACCES' ? 'Permission denied' : null;
        if (why !== null) throw new CliError(`${name}: ${why}`);
        throw e;
      }
    }
    if (rejected > 0) process.stderr.write(`tallyd aggregate: ${rejected} event(s) rejected\n`);
    const snap = engine.snapshot(depthFor(format));
    const out = renderExport(format, snap, {
      prefix: cfg.settings.metricPrefix,
      style: cfg.settings.openmetricsStyle,
      compat: cfg.settings.dovecotCompat,
      version: tallydVersion(),
      startTimeSeconds: Math.floor(Date.now() / 1000),
      extra: [],
      ...(values.fields !== undefined ? { fields: parseDumpFields(values.fields) } : {}),
    });
    process.stdout.write(out);
    if (assertions.length === 0) return 0;
    const results = evaluateAssertions(depthFor(format) === 'full' ? snap : engine.snapshot('full'), assertions);
    for (const r of results) process.stdout.write(formatResult(r) + '\n');
    const failed = results.filter((r) => !r.pass).length;
    process.stdout.write(`${results.length} assertion(s): ${results.length - failed} passed, ${failed} failed\n`);
    if (values.junit !== undefined) {
      const xml = renderJunit(results, { suite: 'tallyd aggregate', files: positionals, timeSeconds: (performance.now() - t0) / 1000 });
      try {
        writeJunit(values.junit, xml);
      } catch (e) {
        throw new CliError(`--junit ${values.junit}: ${(e as Error).message}`);
      }
    }
    return failed > 0 ? 1 : 0;
  },
};
