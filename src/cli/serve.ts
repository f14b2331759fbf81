import { writeFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultConfig, loadConfigFile } from '../config/index.js';
import { DEFAULT_DUMP_FIELDS, renderDump } from '../export/index.js';
import { startServer } from '../server/start.js';
import { createLogger, defaultLogFormat, isLogFormat, isLogLevel, LOG_FORMATS, LOG_LEVELS } from '../log/logger.js';
import { CliError, durationOption, type Command } from './common.js';
import { withOverrides } from './settings.js';
import { tallydRevision, tallydVersion } from './version.js';

export const serveCommand: Command = {
  help: [
    'Usage: tallyd serve [--config FILE] [--listen HOST:PORT] [--shards N] [--native-free]',
    '                    [--dovecot-writer-socket PATH] [--dovecot-reader-socket PATH]',
    '',
    'Runs tallyd. Without --config it runs the built-in default config (the',
    "Dovecot statistics page's example metrics) on 127.0.0.1:9900.",
    '',
    'Options:',
    '  -c, --config FILE      config file (Dovecot syntax)',
    '  --listen HOST:PORT     overrides `listen`',
    '  --shards N             overrides `shards` (shard worker threads)',
    '  --native-free          serve with node:http instead of uWebSockets.js',
    '  --dovecot-writer-socket PATH  overrides `dovecot_writer_socket` (Dovecot stats-writer)',
    '  --dovecot-reader-socket PATH  overrides `dovecot_reader_socket` (doveadm stats -s PATH)',
    '  --final-dump FILE      on shutdown, write the final dump table to FILE',
    '  --drain-timeout D      give up draining after D (default 10s; 500ms, 2m, ...;',
    '                         a bare number is seconds)',
    '  --log-level LEVEL      fatal, error, warn, info (default), debug, trace, silent',
    '                         (default: $TALLYD_LOG_LEVEL, else info)',
    '  --log-format F         pretty or json (default: $TALLYD_LOG_FORMAT, else pretty',
    '                         when standard output is a terminal, json otherwise)',
    '',
    'Settings precedence: built-in < file < TALLYD_<SETTING> environment',
    'variables (e.g. TALLYD_INGEST_TOKEN) < flags. SIGTERM/SIGINT drain and',
    'exit 0; a second signal exits at once. SIGHUP reloads the config file.',
  ].join('\n'),
  async run(args) {
    const { values } = parseArgs({
      args,
      options: {
        config: { type: 'string', short: 'c' },
        listen: { type: 'string' },
        shards: { type: 'string' },
        'dovecot-writer-socket': { type: 'string' },
        'dovecot-reader-socket': { type: 'string' },
        'native-free': { type: 'boolean', default: false },
        'final-dump': { type: 'string' },
        'drain-timeout': { type: 'string' },
        'log-level': { type: 'string' },
        'log-format': { type: 'string' },
      },
    });
    const level = values['log-level'] ?? (process.env.TALLYD_LOG_LEVEL || 'info');
    if (!isLogLevel(level)) throw new CliError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, not '${level}'`);
    const format = values['log-format'] ?? (process.env.TALLYD_LOG_FORMAT || defaultLogFormat(process.stdout.isTTY === true));
    if (!isLogFormat(format)) throw new CliError(`--log-format must be ${LOG_FORMATS.join(' or ')}, not '${format}'`);
    const drainMs = durationOption('--drain-timeout', values['drain-timeout'], 10_000);
    const logger = createLogger({ level, format });
    const base = values.config !== undefined ? loadConfigFile(values.config) : defaultConfig();
    const flags: Record<string, string> = {};
    if (values.listen !== undefined) flags.listen = values.listen;
    if (values.shards !== undefined) flags.shards = values.shards;
    if (values['dovecot-writer-socket'] !== undefined) flags.dovecot_writer_socket = values['dovecot-writer-socket'];
    if (values['dovecot-reader-socket'] !== undefined) flags.dovecot_reader_socket = values['dovecot-reader-socket'];
    const config = withOverrides(base, process.env, flags);
    const configPath = values.config;
    for (const w of config.warnings) logger.warn({ at: `${w.pos.file}:${w.pos.line}:${w.pos.col}` }, w.message);
    const server = await startServer({
      config,
      version: tallydVersion(),
      revision: tallydRevision(),
      nativeFree: values['native-free'],
      logger,
      ...(values.config !== undefined ? { configFile: resolvePath(values.config) } : {}),
      ...(configPath !== undefined ? { reloadConfig: () => withOverrides(loadConfigFile(configPath), process.env, flags) } : {}),
    });
    process.on('SIGHUP', () => void server.reload('SIGHUP'));
    return new Promise<number>((resolve) => {
      let signalled = false;
      const onSignal = (sig: NodeJS.Signals): void => {
        if (signalled) {
          logger.warn({ signal: sig }, 'second signal: exiting now');
          process.exit(1);
        }
        signalled = true;
        logger.info({ signal: sig }, 'draining');
        const timer = setTimeout(() => {
          logger.error({ drainMs }, 'drain did not finish in time: exiting');
          process.exit(1);
        }, drainMs);
        timer.unref();
        server
          .stop((snap) => ({ dump: renderDump(snap, [...DEFAULT_DUMP_FIELDS], { compat: config.settings.dovecotCompat }), counters: { ...snap.counters } }))
          .then(
            ({ dump, counters }) => {
              if (values['final-dump'] !== undefined) writeFileSync(values['final-dump'], dump);
              logger.info({ counters }, 'drained; final merge taken');
              clearTimeout(timer);
              resolve(0);
              // open client connections must not keep a drained server alive
              setImmediate(() => process.exit(0));
            },
            (err: unknown) => {
              logger.error({ err }, 'drain failed');
              resolve(1);
            },
          );
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      // the start line comes after the handlers: a supervisor that signals
      // on seeing it must find them installed, never the default action
      const { listener } = server;
      logger.info(
        {
          version: tallydVersion(),
          revision: tallydRevision(),
          config: values.config ?? 'built-in',
          listen: `${listener.host}:${listener.port}`,
          transport: listener.kind,
          shards: server.runtime.shardCount,
          metrics: config.metrics.length,
          dovecotWriterSocket: server.dovecot.writerPath,
          dovecotReaderSocket: server.dovecot.readerPath,
        },
        'tallyd is serving',
      );
    });
  },
};
