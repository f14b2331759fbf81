/**
 * tallyd's own top-level settings (docs/contract.md §3): defaults, parsing, overrides.
 */
import { availableParallelism } from 'node:os';
import ipaddr from 'ipaddr.js';
import { ConfigError } from '../errors.js';
import type { SourcePos } from '../errors.js';
import { isOpenMetricsName, splitWords } from './names.js';
import type { DovecotCompat, ListenAddress, OpenMetricsStyle, Settings } from './types.js';

export const SETTING_KEYS = [
  'listen',
  'shards',
  'trusted_networks',
  'ingest_networks',
  'ingest_token',
  'metric_prefix',
  'openmetrics_style',
  'dovecot_compat',
  'max_sub_metrics',
  'max_body_bytes',
  'ring_bytes',
  'inline_batch_bytes',
  'request_timeout',
  'idle_timeout',
  'ws_idle_timeout',
  'ws_max_backpressure',
  'max_websockets',
  'dovecot_writer_socket',
  'dovecot_reader_socket',
  'dovecot_socket_mode',
  'dovecot_socket_user',
  'dovecot_socket_group',
  'state_file',
  'state_interval',
] as const;
export type SettingKey = (typeof SETTING_KEYS)[number];

export function isSettingKey(key: string): key is SettingKey {
  return (SETTING_KEYS as readonly string[]).includes(key);
}

const MIB = 1024 * 1024;
const MIN_RING_BYTES = 4096;
const MAX_SHARDS = 1024;
/** the largest inline_batch_bytes (a larger batch is the shards' work) */
export const MAX_INLINE_BATCH_BYTES = 64 * 1024;
const HOUR_MS = 3600_000;
/** uWebSockets.js takes a WebSocket idle timeout of 0 or 8 to 960 whole seconds (it aborts the process otherwise) */
const WS_IDLE_MIN_S = 8;
const WS_IDLE_MAX_S = 960;
const MAX_WEBSOCKETS = 1_000_000;

export function defaultSettings(): Settings {
  return {
    listen: { host: '127.0.0.1', port: 9900 },
    shards: Math.max(1, availableParallelism() - 1),
    trustedNetworks: ['127.0.0.1', '::1'],
    ingestNetworks: ['127.0.0.1', '::1'],
    ingestToken: null,
    metricPrefix: 'dovecot',
    openmetricsStyle: 'strict',
    dovecotCompat: '2.4',
    maxSubMetrics: 10000,
    maxBodyBytes: 16 * MIB,
    ringBytes: 16 * MIB,
    inlineBatchBytes: 4096,
    // uWebSockets.js closes an HTTP connection after 10 s without progress; node:http is held to the same
    requestTimeoutMs: 10_000,
    idleTimeoutMs: 10_000,
    wsIdleTimeoutMs: 120_000,
    wsMaxBackpressure: MIB,
    maxWebsockets: 1024,
    dovecotWriterSocket: null,
    dovecotReaderSocket: null,
    dovecotSocketMode: 0o660,
    dovecotSocketUser: null,
    dovecotSocketGroup: null,
    stateFile: null,
    stateIntervalMs: 60_000,
  };
}

const UNITS: Readonly<Record<string, number>> = { '': 1, b: 1, k: 1024, m: MIB, g: 1024 * MIB, t: 1024 * 1024 * MIB };

/** A size in Dovecot's syntax, powers of 1024 (`16M`, `16 MB`, `1k`, `512`, `1G`), or null. */
export function parseSize(s: string): number | null {
  const m = /^(\d+)\s*(?:([kKmMgGtT])(?:i?[bB])?|([bB]))?$/.exec(s.trim());
  if (m === null) return null;
  const unit = (m[2] ?? m[3] ?? '').toLowerCase();
  const n = Number(m[1]) * (UNITS[unit] ?? 1);
  return Number.isSafeInteger(n) ? n : null;
}

const TIME_UNITS: Readonly<Record<string, number>> = {
  ms: 1, msec: 1, msecs: 1, millisecond: 1, milliseconds: 1,
  s: 1000, sec: 1000, secs: 1000, second: 1000, seconds: 1000,
  m: 60_000, min: 60_000, mins: 60_000, minute: 60_000, minutes: 60_000,
  h: HOUR_MS, hour: HOUR_MS, hours: HOUR_MS,
  d: 24 * HOUR_MS, day: 24 * HOUR_MS, days: 24 * HOUR_MS,
};

/** A time in Dovecot's syntax (`10s`, `10 secs`, `500ms`, `2 mins`; a bare number is seconds), in ms, or null. */
export function parseTime(s: string): number | null {
  const m = /^(\d+)\s*([a-zA-Z]*)$/.exec(s.trim());
  if (m === null) return null;
  const unit = (m[2] ?? '').toLowerCase();
  const mult = unit === '' ? 1000 : Object.hasOwn(TIME_UNITS, unit) ? TIME_UNITS[unit] : undefined;
  if (mult === undefined) return null;
  const n = Number(m[1]) * mult;
  return Number.isSafeInteger(n) ? n : null;
}

export function formatTime(ms: number): string {
  if (ms === 0) return '0';
  for (const [suffix, mult] of [['h', HOUR_MS], ['m', 60_000], ['s', 1000]] as const) {
    if (ms % mult === 0) return `${ms / mult}${suffix}`;
  }
  return `${ms}ms`;
}

export function formatSize(n: number): string {
  for (const [suffix, mult] of [['T', 1024 * 1024 * MIB], ['G', 1024 * MIB], ['M', MIB], ['k', 1024]] as const) {
    if (n >= mult && n % mult === 0) return `${n / mult}${suffix}`;
  }
  return String(n);
}

export function isIpAddress(s: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(s) || (s.includes(':') && ipaddr.IPv6.isValid(s));
}

/** An IP address or `address/prefix` network. */
export function isIpOrCidr(s: string): boolean {
  const slash = s.indexOf('/');
  if (slash < 0) return isIpAddress(s);
  const addr = s.slice(0, slash);
  const bits = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bits) || !isIpAddress(addr)) return false;
  return Number(bits) <= (addr.includes(':') ? 128 : 32);
}

const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

type PosAt = (offset: number) => SourcePos;

function settingError(key: string, pos: SourcePos, text: string): ConfigError {
  return new ConfigError('ERR_CONFIG_SETTING', pos, `${key}: ${text}`);
}

/** `host:port`, `[v6]:port` or `*:port` (all IPv4 interfaces). */
export function parseListen(s: string, posAt: PosAt): ListenAddress {
  const bad = (offset: number, why: string): ConfigError =>
    settingError('listen', posAt(offset), `${why} (expected HOST:PORT, IPv6 as [::1]:9900), not '${s}'`);
  let host: string;
  let portText: string;
  let portOffset: number;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0) throw bad(0, "missing ']'");
    host = s.slice(1, close);
    if (!ipaddr.IPv6.isValid(host)) throw bad(1, `'${host}' is not an IPv6 address`);
    if (s[close + 1] !== ':') throw bad(close + 1, 'missing port');
    portText = s.slice(close + 2);
    portOffset = close + 2;
  } else {
    const colon = s.lastIndexOf(':');
    if (colon < 0) throw bad(s.length, 'missing port');
    host = s.slice(0, colon);
    if (host.includes(':')) throw bad(0, 'an IPv6 address needs brackets');
    if (host === '*') host = '0.0.0.0';
    const numeric = /^[\d.]+$/.test(host);
    if (numeric ? !ipaddr.IPv4.isValidFourPartDecimal(host) : !HOSTNAME.test(host)) {
      throw bad(0, `'${host}' is not an address or host name`);
    }
    portText = s.slice(colon + 1);
    portOffset = colon + 1;
  }
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 0 && port <= 65535)) throw bad(portOffset, `'${portText}' is not a port number`);
  return { host, port };
}

export function formatListen(l: ListenAddress): string {
  return l.host.includes(':') ? `[${l.host}]:${l.port}` : `${l.host}:${l.port}`;
}

function parseNetworks(key: string, s: string, posAt: PosAt): string[] {
  return splitWords(s, /[ \t\r\n,]/).map(({ word, offset }) => {
    if (!isIpOrCidr(word)) throw settingError(key, posAt(offset), `'${word}' is not an IP address or CIDR network`);
    return word;
  });
}

function parseCount(key: string, s: string, posAt: PosAt, max: number): number {
  const n = /^\d+$/.test(s) ? Number(s) : NaN;
  if (!(n >= 1 && n <= max)) throw settingError(key, posAt(0), `must be an integer from 1 to ${max}, not '${s}'`);
  return n;
}

function parseBytes(key: string, s: string, posAt: PosAt, min: number): number {
  const n = parseSize(s);
  if (n === null) throw settingError(key, posAt(0), `'${s}' is not a size (like 16M, 512k or 1048576)`);
  if (n < min) throw settingError(key, posAt(0), `must be at least ${formatSize(min)}, not '${s}'`);
  return n;
}

function parseTimeSetting(key: string, s: string, posAt: PosAt, minMs: number, maxMs: number): number {
  const ms = parseTime(s);
  if (ms === null) throw settingError(key, posAt(0), `'${s}' is not a time (like 10s, 500ms or 2 mins)`);
  if (ms < minMs || ms > maxMs) {
    throw settingError(key, posAt(0), `must be from ${formatTime(minMs)} to ${formatTime(maxMs)}, not '${s}'`);
  }
  return ms;
}

/** Longest unix socket path Linux takes (sun_path is 108 bytes with its NUL). */
const MAX_SOCKET_PATH_BYTES = 107;

/** A unix socket path (empty: off). */
function parseSocketPath(key: string, s: string, posAt: PosAt): string | null {
  if (s === '') return null;
  const ctl = s.search(/[\x00-\x1f\x7f]/);
  if (ctl >= 0) throw settingError(key, posAt(ctl), 'must not contain control characters');
  if (Buffer.byteLength(s) > MAX_SOCKET_PATH_BYTES) {
    throw settingError(key, posAt(0), `a unix socket path is at most ${MAX_SOCKET_PATH_BYTES} bytes, not ${Buffer.byteLength(s)}`);
  }
  return s;
}

/** A user or group: a name or a numeric id (empty: unchanged). */
function parseOwner(key: string, s: string, posAt: PosAt): string | null {
  if (s === '') return null;
  if (!/^[A-Za-z0-9_.][A-Za-z0-9_.-]*\$?$/.test(s)) throw settingError(key, posAt(0), `'${s}' is not a user or group name or id`);
  return s;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Apply one setting (already known to be a tallyd key) to `s`. */
export function applySetting(s: Mutable<Settings>, key: SettingKey, raw: string, posAt: PosAt): void {
  const lead = raw.length - raw.trimStart().length;
  const text = raw.trim();
  const at: PosAt = (o) => posAt(lead + o);
  switch (key) {
    case 'listen':
      s.listen = parseListen(text, at);
      return;
    case 'shards':
      s.shards = parseCount(key, text, at, MAX_SHARDS);
      return;
    case 'trusted_networks':
      s.trustedNetworks = parseNetworks(key, text, at);
      return;
    case 'ingest_networks':
      s.ingestNetworks = parseNetworks(key, text, at);
      return;
    case 'ingest_token': {
      const ctl = text.search(/[\s\x00-\x1f\x7f]/);
      if (ctl >= 0) throw settingError(key, at(ctl), 'must not contain blanks or control characters');
      s.ingestToken = text === '' ? null : text;
      return;
    }
    case 'metric_prefix':
      if (!isOpenMetricsName(text)) {
        throw settingError(key, at(0), `'${text}' is not a valid OpenMetrics name ([a-zA-Z_:][a-zA-Z0-9_:]*)`);
      }
      s.metricPrefix = text;
      return;
    case 'openmetrics_style':
      if (text !== 'strict' && text !== 'dovecot') throw settingError(key, at(0), `must be strict or dovecot, not '${text}'`);
      s.openmetricsStyle = text satisfies OpenMetricsStyle;
      return;
    case 'dovecot_compat': {
      const m = /^2\.([34])(\.\d+)*$/.exec(text);
      if (m === null) throw settingError(key, at(0), `must be 2.4 or 2.3, not '${text}'`);
      s.dovecotCompat = `2.${m[1]}` as DovecotCompat;
      return;
    }
    case 'max_sub_metrics':
      s.maxSubMetrics = parseCount(key, text, at, Number.MAX_SAFE_INTEGER);
      return;
    case 'max_body_bytes':
      s.maxBodyBytes = parseBytes(key, text, at, 1);
      return;
    case 'ring_bytes':
      s.ringBytes = parseBytes(key, text, at, MIN_RING_BYTES);
      return;
    case 'inline_batch_bytes': {
      const n = parseBytes(key, text, at, 0);
      if (n > MAX_INLINE_BATCH_BYTES) throw settingError(key, at(0), `must be at most ${formatSize(MAX_INLINE_BATCH_BYTES)} (larger batches are the shards' work), not '${text}'`);
      s.inlineBatchBytes = n;
      return;
    }
    case 'request_timeout':
      s.requestTimeoutMs = parseTimeSetting(key, text, at, 100, HOUR_MS);
      return;
    case 'idle_timeout':
      s.idleTimeoutMs = parseTimeSetting(key, text, at, 100, HOUR_MS);
      return;
    case 'ws_idle_timeout': {
      const ms = parseTime(text);
      if (ms === null) throw settingError(key, at(0), `'${text}' is not a time (like 120s or 2 mins)`);
      if (ms !== 0 && (ms % 1000 !== 0 || ms < WS_IDLE_MIN_S * 1000 || ms > WS_IDLE_MAX_S * 1000)) {
        throw settingError(key, at(0), `must be 0 (off) or whole seconds from ${WS_IDLE_MIN_S}s to ${WS_IDLE_MAX_S}s, not '${text}'`);
      }
      s.wsIdleTimeoutMs = ms;
      return;
    }
    case 'ws_max_backpressure':
      s.wsMaxBackpressure = parseBytes(key, text, at, 1024);
      return;
    case 'max_websockets':
      s.maxWebsockets = parseCount(key, text, at, MAX_WEBSOCKETS);
      return;
    case 'dovecot_writer_socket':
      s.dovecotWriterSocket = parseSocketPath(key, text, at);
      return;
    case 'dovecot_reader_socket':
      s.dovecotReaderSocket = parseSocketPath(key, text, at);
      return;
    case 'dovecot_socket_mode':
      if (!/^0?[0-7]{3}$/.test(text)) throw settingError(key, at(0), `must be an octal file mode like 0660, not '${text}'`);
      s.dovecotSocketMode = parseInt(text, 8);
      return;
    case 'dovecot_socket_user':
      s.dovecotSocketUser = parseOwner(key, text, at);
      return;
    case 'dovecot_socket_group':
      s.dovecotSocketGroup = parseOwner(key, text, at);
      return;
    case 'state_file': {
      const ctl = text.search(/[\x00-\x1f\x7f]/);
      if (ctl >= 0) throw settingError(key, at(ctl), 'must not contain control characters');
      s.stateFile = text === '' ? null : text;
      return;
    }
    case 'state_interval':
      s.stateIntervalMs = parseTimeSetting(key, text, at, 1000, 24 * HOUR_MS);
      return;
  }
}

/**
 * Layer `overrides` (setting name → value, e.g. from the environment or flags)
 * on `base`. `pos` says where each override came from (default `<override>`,
 * line 1); errors point into the value from there.
 */
export function resolveSettings(
  base: Settings,
  overrides: Readonly<Record<string, string>>,
  pos?: SourcePos | ((key: string) => SourcePos),
): Settings {
  const s: Mutable<Settings> = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    const p = typeof pos === 'function' ? pos(key) : (pos ?? { file: '<override>', line: 1, col: 1 });
    if (!isSettingKey(key)) {
      throw new ConfigError('ERR_CONFIG_SETTING', p, `Unknown setting: ${key} (known: ${SETTING_KEYS.join(', ')})`);
    }
    applySetting(s, key, value, (o) => ({ ...p, col: p.col + o }));
  }
  return Object.freeze({
    ...s,
    listen: Object.freeze({ ...s.listen }),
    trustedNetworks: Object.freeze([...s.trustedNetworks]),
    ingestNetworks: Object.freeze([...s.ingestNetworks]),
  });
}

/** `key = value` lines of every setting (the token itself is not printed). */
export function formatSettings(s: Settings): string[] {
  return [
    `listen = ${formatListen(s.listen)}`,
    `shards = ${s.shards}`,
    `trusted_networks = ${s.trustedNetworks.join(' ')}`,
    `ingest_networks = ${s.ingestNetworks.join(' ')}`,
    s.ingestToken === null ? '# ingest_token is not set' : '# ingest_token is set (not shown)',
    `metric_prefix = ${s.metricPrefix}`,
    `openmetrics_style = ${s.openmetricsStyle}`,
    `dovecot_compat = ${s.dovecotCompat}`,
    `max_sub_metrics = ${s.maxSubMetrics}`,
    `max_body_bytes = ${formatSize(s.maxBodyBytes)}`,
    `ring_bytes = ${formatSize(s.ringBytes)}`,
    `inline_batch_bytes = ${formatSize(s.inlineBatchBytes)}`,
    `request_timeout = ${formatTime(s.requestTimeoutMs)}`,
    `idle_timeout = ${formatTime(s.idleTimeoutMs)}`,
    `ws_idle_timeout = ${formatTime(s.wsIdleTimeoutMs)}`,
    `ws_max_backpressure = ${formatSize(s.wsMaxBackpressure)}`,
    `max_websockets = ${s.maxWebsockets}`,
    `dovecot_writer_socket = ${s.dovecotWriterSocket ?? ''}`,
    `dovecot_reader_socket = ${s.dovecotReaderSocket ?? ''}`,
    `dovecot_socket_mode = 0${s.dovecotSocketMode.toString(8)}`,
    `dovecot_socket_user = ${s.dovecotSocketUser ?? ''}`,
    `dovecot_socket_group = ${s.dovecotSocketGroup ?? ''}`,
    `state_file = ${s.stateFile ?? ''}`,
    `state_interval = ${formatTime(s.stateIntervalMs)}`,
  ];
}
