/**
 * The resolved, frozen configuration (docs/contract.md §3). Everything here is plain data
 * (structured-clonable): metric definitions are sent to shard workers as is.
 */
import type { SourcePos } from '../errors.js';

export type DovecotCompat = '2.3' | '2.4';
export type OpenMetricsStyle = 'strict' | 'dovecot';

export interface DiscreteLevel {
  readonly kind: 'discrete';
  readonly field: string;
  /** modifier template source (`%L{domain}` or `%{value | domain | lower}`), or null */
  readonly modifier: string | null;
}
export interface ExponentialLevel {
  readonly kind: 'exponential';
  readonly field: string;
  readonly min: number; // min_magnitude
  readonly max: number; // max_magnitude
  readonly base: 2 | 10;
}
export interface LinearLevel {
  readonly kind: 'linear';
  readonly field: string;
  readonly min: number;
  readonly max: number;
  readonly step: number;
}
export type GroupByLevel = DiscreteLevel | ExponentialLevel | LinearLevel;

export interface MetricDef {
  readonly name: string;
  /** filter source text, as written (compiled by src/filter) */
  readonly filter: string;
  /** configured fields, in order (`duration` may appear: a second duration distribution) */
  readonly fields: readonly string[];
  readonly groupBy: readonly GroupByLevel[];
  readonly description: string;
  /** where it was defined (absent for metrics added at run time) */
  readonly pos?: SourcePos;
}

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export interface Settings {
  readonly listen: ListenAddress;
  readonly shards: number;
  readonly trustedNetworks: readonly string[];
  readonly ingestNetworks: readonly string[];
  readonly ingestToken: string | null;
  readonly metricPrefix: string;
  readonly openmetricsStyle: OpenMetricsStyle;
  readonly dovecotCompat: DovecotCompat;
  readonly maxSubMetrics: number;
  readonly maxBodyBytes: number;
  readonly ringBytes: number;
  /** a batch of at most this many bytes is aggregated on the main thread (0: every batch goes to a shard) */
  readonly inlineBatchBytes: number;
  /** ms a whole HTTP request (headers and body) may take to arrive (request_timeout) */
  readonly requestTimeoutMs: number;
  /** ms an HTTP connection may stay idle, or leave its answer unread (idle_timeout) */
  readonly idleTimeoutMs: number;
  /** ms a WebSocket may go without a message or a pong, 0 = never closed for it (ws_idle_timeout) */
  readonly wsIdleTimeoutMs: number;
  /** bytes of unsent answers a WebSocket may hold before it is closed (ws_max_backpressure) */
  readonly wsMaxBackpressure: number;
  /** open WebSockets at most; further upgrades are refused with 503 (max_websockets) */
  readonly maxWebsockets: number;
  /** where tallyd serves Dovecot's stats-writer protocol (dovecot_writer_socket), null: off */
  readonly dovecotWriterSocket: string | null;
  /** where tallyd serves Dovecot's stats-reader protocol, for doveadm stats (dovecot_reader_socket), null: off */
  readonly dovecotReaderSocket: string | null;
  /** file mode of both sockets (dovecot_socket_mode, default 0660) */
  readonly dovecotSocketMode: number;
  /** owner and group given to both sockets, null: the process's own (dovecot_socket_user / _group) */
  readonly dovecotSocketUser: string | null;
  readonly dovecotSocketGroup: string | null;
  /** where the metrics' state is saved and restored from (state_file), null: not kept */
  readonly stateFile: string | null;
  /** ms between periodic state saves (state_interval) */
  readonly stateIntervalMs: number;
}

export interface ConfigWarning {
  readonly pos: SourcePos;
  readonly message: string;
}

/** One `remote_write NAME { … }` block. */
export interface RemoteWriteDef {
  readonly name: string;
  readonly url: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly bearerToken: string | null;
  readonly pos: SourcePos;
}

export interface ResolvedConfig {
  readonly settings: Settings;
  readonly metrics: readonly MetricDef[];
  readonly warnings: readonly ConfigWarning[];
  /** remote_write blocks, in file order (absent: none) */
  readonly remoteWrite?: readonly RemoteWriteDef[];
  /** external_labels, added to remote-written series only */
  readonly externalLabels?: readonly (readonly [string, string])[];
}
