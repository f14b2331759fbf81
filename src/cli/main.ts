/**
 * `tallyd` command line (SPEC 9): dispatches to one module per command.
 */
import { CliError, type Command } from './common.js';
import { checkConfigCommand } from './check-config.js';
import { aggregateCommand } from './aggregate.js';
import { serveCommand } from './serve.js';
import { statsAddCommand, statsDumpCommand, statsRemoveCommand } from './stats.js';
import { loadCommand } from './load.js';
import { replayCommand } from './replay.js';
import { tallydVersion } from './version.js';

const commands: Record<string, Command> = {
  serve: serveCommand,
  'check-config': checkConfigCommand,
  aggregate: aggregateCommand,
  'stats dump': statsDumpCommand,
  'stats add': statsAddCommand,
  'stats remove': statsRemoveCommand,
  load: loadCommand,
  replay: replayCommand,
};


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
  if (name === 'stats' && rest[0] !== undefined) {
    cmdName = `stats ${rest[0]}`;
    args = rest.slice(1);
  }
  const cmd = commands[cmdName];
  if (cmd === undefined) {
    process.stderr.write(`tallyd: unknown command '${cmdName}'\n\n${usage()}\n`);
    return 2;
  }
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(cmd.help + '\n');
    return 0;
  }
  try {
    return await cmd.run(args);
  } catch (e) {
    const err = e as Error & { code?: string };
    if (e instanceof CliError) {
      process.stderr.write(`tallyd ${cmdName}: ${err.message}\n`);
      return 2;
    }
    if (typeof err.code === 'string' && err.code.startsWith('ERR_')) {
      process.stderr.write(`tallyd ${cmdName}: ${err.message}\n`);
      return 1;
    }
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      process.stderr.write(`tallyd ${cmdName}: ${err.message}\n${cmd.help}\n`);
      return 2;
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
