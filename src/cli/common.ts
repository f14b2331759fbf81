/** Shared pieces of the command modules: the command shape, usage errors, option values. */
import { parseTime } from '../config/settings.js';

export interface Command {
  readonly help: string;
  run(args: string[]): Promise<number>;
}

/**
 * A usage error: printed with the command's name and, unless `usage` is
 * false (a file that cannot be read, say), the command's usage; exit code 2.
 */
export class CliError extends Error {
  readonly code = 'ERR_CLI_USAGE';
  /** whether the command's usage follows the message */
  readonly usage: boolean;
  constructor(message: string, opts: { usage?: boolean } = {}) {
    super(message);
    this.name = 'CliError';
    this.usage = opts.usage ?? true;
  }
}

/**
 * node:util parseArgs' errors (unknown option, missing value, unexpected
 * argument, ...) as usage errors, in tallyd's words; null for any other error.
 */
export function parseArgsError(e: unknown): CliError | null {
  const err = e as { code?: unknown; message?: unknown };
  if (typeof err.code !== 'string' || !err.code.startsWith('ERR_PARSE_ARGS_')) return null;
  const message = String(err.message);
  const unknown = /^Unknown option '([^']*)'/.exec(message);
  if (unknown !== null) return new CliError(`unknown option '${unknown[1]}'`);
  const positional = /^Unexpected argument '([^']*)'/.exec(message);
  if (positional !== null) return new CliError(`unexpected argument '${positional[1]}'`);
  const missing = /^Option '([^']*)' argument missing/.exec(message);
  if (missing !== null) return new CliError(`option '${missing[1]}' needs a value`);
  return new CliError(message.replace(/\.$/, ''));
}

/**
 * A duration option in the config's syntax (`10s`, `500ms`, `2m`, `1h`,
 * `10 secs`); a bare number is seconds, as in the config, and may have a
 * fraction (`1.5`). Returns milliseconds; `fallbackMs` when not given.
 */
export function durationOption(name: string, text: string | undefined, fallbackMs: number, opts: { min?: number; allowZero?: boolean } = {}): number {
  if (text === undefined) return fallbackMs;
  const t = text.trim();
  let ms: number | null;
  if (/^(\d+\.\d*|\.\d+)$/.test(t)) ms = Math.round(Number(t) * 1000);
  else ms = parseTime(t);
  const min = opts.min ?? (opts.allowZero === true ? 0 : 1);
  if (ms === null || ms < min) {
    const floor = opts.allowZero === true ? '0 or more' : 'more than 0';
    throw new CliError(`${name} must be a duration of ${floor} (e.g. 10s, 500ms, 2m; a bare number is seconds), not '${text}'`);
  }
  return ms;
}
