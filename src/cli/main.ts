/**
 * `tallyd` command line (docs/contract.md §9): dispatches to one module per command.
 */
import { ConfigError } from '../errors.js';
import { CliError, parseArgsError, type Command } from './common.js';
import { tallydVersion } from './version.js';

/** Each command's module loads only when it runs (a short-lived client need not load the server). */
const commands: Record<string, { summary: string; load: () => Promise<Command> }> = {
  serve: {
    summary: 'run the server (HTTP/WebSocket ingest, scrape, dump, admin)',
    load: async () => (await import('./serve.js')).serveCommand,
  },
  'check-config': {
    summary: 'validate a config file and print the resolved metrics',
    load: async () => (await import('./check-config.js')).checkConfigCommand,
  },
  aggregate: {
    summary: 'aggregate event files offline and print one export',
    load: async () => (await import('./aggregate.js')).aggregateCommand,
  },
  'stats dump': {
    summary: 'print the dump table of a running server (doveadm stats dump)',
    load: async () => (await import('./stats.js')).statsDumpCommand,
  },
  'stats add': {
    summary: 'add a metric to a running server (doveadm stats add)',
    load: async () => (await import('./stats.js')).statsAddCommand,
  },
  'stats remove': {
    summary: 'remove a metric from a running server (doveadm stats remove)',
    load: async () => (await import('./stats.js')).statsRemoveCommand,
  },
  load: {
    summary: 'bounded load generator: mail events to a server, rate and latency report',
    load: async () => (await import('./load.js')).loadCommand,
  },
  replay: {
    summary: 'send the events of an NDJSON/JSON file to a running server',
    load: async () => (await import('./replay.js')).replayCommand,
  },
};

/** `tallyd stats` alone: its subcommands. */
function statsUsage(): string {
  const lines = ['Usage: tallyd stats <subcommand> [options]', '', 'Subcommands:'];
  for (const [name, c] of Object.entries(commands)) {
    if (name.startsWith('stats ')) lines.push(`  ${name.slice('stats '.length).padEnd(8)} ${c.summary}`);
  }
  lines.push('', 'Run `tallyd stats <subcommand> --help` for its options.');
  return lines.join('\n');
}

/** A bad flag value found by the settings parser (`<flag --shards>:1:1: ...`) is a usage error. */
function flagError(e: unknown): CliError | null {
  if (!(e instanceof ConfigError) || !e.pos.file.startsWith('<flag ')) return null;
  return new CliError(`${e.pos.file.slice('<flag '.length, -1)}: ${e.detail.replace(/^[a-z_]+: /, '')}`);
}

function usage(): string {
  const lines = ['Usage: tallyd <command> [options]', '', 'Commands:'];
  for (const [name, c] of Object.entries(commands)) lines.push(`  ${name.padEnd(14)} ${c.summary}`);
  lines.push('', 'Run `tallyd <command> --help` for the options of a command.', '`tallyd --version` prints the version.');
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`tallyd ${tallydVersion()}\n`);
    return 0;
  }
  let cmdName = name;
  let args = rest;
  if (name === 'stats') {
    const sub = rest[0];
    if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
      process.stdout.write(statsUsage() + '\n');
      return sub === undefined ? 2 : 0;
    }
    if (commands[`stats ${sub}`] === undefined) {
      process.stderr.write(`tallyd stats: unknown subcommand '${sub}'\n\n${statsUsage()}\n`);
      return 2;
    }
    cmdName = `stats ${sub}`;
    args = rest.slice(1);
  }
  const entry = commands[cmdName];
  if (entry === undefined) {
    process.stderr.write(`tallyd: unknown command '${cmdName}'\n\n${usage()}\n`);
    return 2;
  }
  const cmd = await entry.load();
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(cmd.help + '\n');
    return 0;
  }
  try {
    return await cmd.run(args);
  } catch (e) {
    const err = e as Error & { code?: string };
    // the one place where a wrong command line becomes exit 2 and the command's usage
    const bad = e instanceof CliError ? e : (parseArgsError(e) ?? flagError(e));
    if (bad !== null) {
      process.stderr.write(`tallyd ${cmdName}: ${bad.message}\n${bad.usage ? `\n${cmd.help}\n` : ''}`);
      return 2;
    }
    if (typeof err.code === 'string' && err.code.startsWith('ERR_')) {
      process.stderr.write(`tallyd ${cmdName}: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`tallyd ${cmdName}: ${err.stack ?? String(e)}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`tallyd: ${String(e)}\n`);
    process.exitCode = 1;
  },
);
