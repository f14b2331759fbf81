import { parseArgs } from 'node:util';
import { defaultConfig, loadConfigFile } from '../config/index.js';
import { Engine } from '../engine/engine.js';
import { depthFor, parseDumpFields, renderExport, type ExportFormat } from '../export/index.js';
import { CliError, type Command } from './common.js';
import { readEventFile } from './input.js';
import { tallydVersion } from './version.js';

const FORMATS: readonly ExportFormat[] = ['dump', 'openmetrics', 'prometheus', 'dovecot', 'json'];

export const aggregateCommand: Command = {
  help: [
    'Usage: tallyd aggregate [--config FILE] [--format FORMAT] [-f FIELDS] FILE...',
    '',
    'Runs the aggregation engine over event files and prints one export.',
    'FILE is NDJSON or JSON (told apart by content), msgpack when its name ends',
    'in .msgpack, or - for standard input. A Dovecot event-exporter log (JSON',
    'lines) replays as is.',
    '',
    'Options:',
    '  -c, --config FILE    config file (default: the built-in config)',
    '  --format FORMAT      dump (default), openmetrics, prometheus, dovecot, json',
    '  -f, --fields FIELDS  dump columns, split on spaces and commas',
    '                       (default "count sum min max avg median stddev %95")',
  ].join('\n'),
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        format: { type: 'string', default: 'dump' },
        fields: { type: 'string', short: 'f' },
      },
    });
    const format = values.format as ExportFormat;
    if (!FORMATS.includes(format)) throw new CliError(`--format must be one of ${FORMATS.join(', ')}`);
    if (positionals.length === 0) throw new CliError('expected at least one event FILE (or - for stdin)');
    const cfg = values.config !== undefined ? loadConfigFile(values.config) : defaultConfig();
    for (const w of cfg.warnings) process.stderr.write(`${w.pos.file}:${w.pos.line}:${w.pos.col}: warning: ${w.message}\n`);
    const engine = new Engine(cfg);
    let rejected = 0;
    for (const name of positionals) {
      const file = readEventFile(name);
      let result;
      try {
        result = engine.ingestBytes(file.bytes, file.format);
      } catch (e) {
        throw new CliError(`${name}: ${(e as Error).message}`);
      }
      rejected += result.rejected;
      for (const err of result.errors) process.stderr.write(`${name}: event ${err.index}: ${err.reason}\n`);
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
    return 0;
  },
};
