/**
 * The process's logger: pino, writing JSON lines, or pino-pretty's readable
 * lines (in-process, synchronous: no worker thread) to standard output.
 * Which one: `--log-format`, else TALLYD_LOG_FORMAT, else pretty when
 * standard output is a terminal and JSON otherwise.
 */
import { destination, pino, type Logger } from 'pino';
import { PinoPretty } from 'pino-pretty';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const LOG_FORMATS = ['pretty', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export function isLogLevel(s: string): s is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(s);
}

export function isLogFormat(s: string): s is LogFormat {
  return (LOG_FORMATS as readonly string[]).includes(s);
}

/** The format when none is given: pretty for a person at a terminal, JSON for a log collector. */
export function defaultLogFormat(isTTY: boolean): LogFormat {
  return isTTY ? 'pretty' : 'json';
}

export interface LoggerOptions {
  level: LogLevel;
  format: LogFormat;
  /** colours in pretty lines; default: whether standard output is a terminal */
  colorize?: boolean;
  /** file descriptor to write to; default 1 (standard output) */
  fd?: number;
}

export function createLogger(opts: LoggerOptions): Logger {
  const fd = opts.fd ?? 1;
  const base = { name: 'tallyd', level: opts.level };
  if (opts.format === 'json') return pino(base, destination({ fd, sync: true }));
  const stream = PinoPretty({
    destination: fd,
    sync: true,
    colorize: opts.colorize ?? (fd === 1 ? process.stdout.isTTY === true : false),
    translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l',
    ignore: 'pid,hostname,name',
    singleLine: true,
  });
  return pino(base, stream);
}
