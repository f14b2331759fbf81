/**
 * Every error tallyd raises, typed and coded, in one place (the README's
 * "Errors" table is generated from the same list).
 */
export const ErrorCodes = {
  ERR_CONFIG_SYNTAX: 'config file syntax error (unbalanced braces, missing "=", bad continuation)',
  ERR_CONFIG_INCLUDE: 'an !include file cannot be read',
  ERR_CONFIG_SETTING: 'a tallyd setting has an invalid value',
  ERR_CONFIG_METRIC: 'a metric block is invalid (name, filter, fields, group_by, exporter)',
  ERR_CONFIG_FILTER: 'an event filter does not parse',
  ERR_CONFIG_GROUP_BY: 'a group_by level is invalid',
  ERR_CONFIG_DUPLICATE: 'a metric name is used twice',
  ERR_CONFIG_REMOTE_WRITE: 'a remote_write block or external_labels is invalid (url, interval, timeout, unknown key, duplicate name)',
  ERR_REMOTE_WRITE: 'a remote_write cannot start (snappy compression does not load)',
  ERR_METRIC_NOT_FOUND: 'no metric of that name exists',
  ERR_INGEST_FRAMING: 'a batch cannot be framed (truncated msgpack, invalid JSON)',
  ERR_INGEST_CONTENT_TYPE: 'the request content type is not an ingest format',
  ERR_INGEST_TOO_LARGE: 'the body exceeds max_body_bytes',
  ERR_INGEST_UNAUTHORIZED: 'the peer is outside ingest_networks or lacks the ingest token',
  ERR_INGEST_BUSY: 'the shard ring is full (backpressure)',
  ERR_INGEST_LOST: 'a shard died while processing the batch',
  ERR_INTERNAL: 'tallyd failed on a request (a bug): counted, never reported as bad input',
  ERR_HTTP_UNAUTHORIZED: 'the peer is outside trusted_networks',
  ERR_HTTP_NOT_FOUND: 'no such route',
  ERR_HTTP_METHOD: 'the route does not take that method',
  ERR_HTTP_BUSY: 'too many live pages are open, or tallyd is shutting down',
  ERR_SERVER_LISTEN: 'the server cannot listen on its address (in use, or not an address of this host)',
  ERR_SOCKET: 'a Dovecot socket cannot be created (the path is not a socket, is in use, or its owner or mode cannot be set)',
  ERR_RELOAD_NO_CONFIG: 'a reload was asked of a server started without --config (nothing to read again)',
  ERR_CLI_USAGE: 'the command line is wrong',
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class TallydError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'TallydError';
    this.code = code;
  }
}

/** A position in a config file; line and col are 1-based. */
export interface SourcePos {
  file: string;
  line: number;
  col: number;
}

/** A config error: its message is always `file:line:col: text`. */
export class ConfigError extends TallydError {
  readonly pos: SourcePos;
  readonly detail: string;
  constructor(code: ErrorCode, pos: SourcePos, detail: string) {
    super(code, `${pos.file}:${pos.line}:${pos.col}: ${detail}`);
    this.name = 'ConfigError';
    this.pos = pos;
    this.detail = detail;
  }
}
