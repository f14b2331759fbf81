import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultSettings, formatSize, loadConfigFile, parseConfigText, parseSize, resolveSettings } from '../../src/config/index.js';
import { configError, errorOf, tempTree, where } from './helpers.js';

const settingsOf = (text: string) => parseConfigText(text, 'test.conf').settings;

describe('settings', () => {
  it('has the documented defaults', () => {
    expect(settingsOf('')).toEqual({
      listen: { host: '127.0.0.1', port: 9900 },
      shards: Math.max(1, availableParallelism() - 1),
      trustedNetworks: ['127.0.0.1', '::1'],
      ingestNetworks: ['127.0.0.1', '::1'],
      ingestToken: null,
      metricPrefix: 'dovecot',
      openmetricsStyle: 'strict',
      dovecotCompat: '2.4',
      maxSubMetrics: 10000,
      maxBodyBytes: 16 * 1024 * 1024,
      ringBytes: 16 * 1024 * 1024,
      inlineBatchBytes: 4096,
      requestTimeoutMs: 10_000,
      idleTimeoutMs: 10_000,
      wsIdleTimeoutMs: 120_000,
      wsMaxBackpressure: 1024 * 1024,
      maxWebsockets: 1024,
      dovecotWriterSocket: null,
      dovecotReaderSocket: null,
      dovecotSocketMode: 0o660,
      dovecotSocketUser: null,
      dovecotSocketGroup: null,
      stateFile: null,
      stateIntervalMs: 60_000,
    });
    expect(Object.isFrozen(settingsOf(''))).toBe(true);
  });

  it('reads every setting from the file', () => {
    const s = settingsOf(
      [
        'listen = [::1]:9100',
        'shards = 3',
        'trusted_networks = 10.0.0.0/8 192.168.1.7, fd00::/8',
        'ingest_networks = 0.0.0.0/0 ::/0',
        'ingest_token = s3cret-token',
        'metric_prefix = mail_stats',
        'openmetrics_style = dovecot',
        'dovecot_compat = 2.3',
        'max_sub_metrics = 500',
        'max_body_bytes = 1 M',
        'ring_bytes = 64MB',
        'inline_batch_bytes = 0',
        'request_timeout = 30 secs',
        'idle_timeout = 500ms',
        'ws_idle_timeout = 2 mins',
        'ws_max_backpressure = 64k',
        'max_websockets = 100',
        'dovecot_writer_socket = /run/tallyd/stats-writer',
        'dovecot_reader_socket = /run/tallyd/stats-reader',
        'dovecot_socket_mode = 0600',
        'dovecot_socket_user = root',
        'dovecot_socket_group = dovecot',
        'state_file = /var/lib/tallyd/state',
        'state_interval = 5 mins',
      ].join('\n'),
    );
    expect(s).toEqual({
      listen: { host: '::1', port: 9100 },
      shards: 3,
      trustedNetworks: ['10.0.0.0/8', '192.168.1.7', 'fd00::/8'],
      ingestNetworks: ['0.0.0.0/0', '::/0'],
      ingestToken: 's3cret-token',
      metricPrefix: 'mail_stats',
      openmetricsStyle: 'dovecot',
      dovecotCompat: '2.3',
      maxSubMetrics: 500,
      maxBodyBytes: 1024 * 1024,
      ringBytes: 64 * 1024 * 1024,
      inlineBatchBytes: 0,
      requestTimeoutMs: 30_000,
      idleTimeoutMs: 500,
      wsIdleTimeoutMs: 120_000,
      wsMaxBackpressure: 64 * 1024,
      maxWebsockets: 100,
      dovecotWriterSocket: '/run/tallyd/stats-writer',
      dovecotReaderSocket: '/run/tallyd/stats-reader',
      dovecotSocketMode: 0o600,
      dovecotSocketUser: 'root',
      dovecotSocketGroup: 'dovecot',
      stateFile: '/var/lib/tallyd/state',
      stateIntervalMs: 300_000,
    });
  });

  it('a later setting overrides an earlier one', () => {
    expect(settingsOf('shards = 2\nshards = 5\n').shards).toBe(5);
  });

  it('parses sizes in powers of 1024', () => {
    expect(parseSize('16M')).toBe(16 * 1024 * 1024);
    expect(parseSize('16 M')).toBe(16 * 1024 * 1024);
    expect(parseSize('16MB')).toBe(16 * 1024 * 1024);
    expect(parseSize('16 MiB')).toBe(16 * 1024 * 1024);
    expect(parseSize('1k')).toBe(1024);
    expect(parseSize('1K')).toBe(1024);
    expect(parseSize('512')).toBe(512);
    expect(parseSize('512B')).toBe(512);
    expect(parseSize('1G')).toBe(1024 ** 3);
    expect(parseSize('2 T')).toBe(2 * 1024 ** 4);
    expect(parseSize('1.5M')).toBeNull();
    expect(parseSize('-1')).toBeNull();
    expect(parseSize('M')).toBeNull();
    expect(parseSize('16X')).toBeNull();
    expect(formatSize(16 * 1024 * 1024)).toBe('16M');
    expect(formatSize(1536)).toBe('1536');
  });

  it('reads a value from a file with key = <path', () => {
    const dir = tempTree({ 'main.conf': 'ingest_token = <token.txt\n', 'token.txt': 'abc123\n' });
    expect(loadConfigFile(join(dir, 'main.conf')).settings.ingestToken).toBe('abc123');
    const e = configError(() => parseConfigText('ingest_token = <missing.txt\n', join(dir, 'x.conf')));
    expect(e.code).toBe('ERR_CONFIG_SETTING');
    expect(e.detail).toBe(`ingest_token: Couldn't read ${join(dir, 'missing.txt')}: No such file or directory`);
  });

  it("ignores Dovecot's own listen (addresses without port) with a warning", () => {
    for (const value of ['*, ::', '*', '10.0.0.1', '::1', 'localhost', '[::]']) {
      const cfg = parseConfigText(`listen = ${value}\n`, 'dovecot.conf');
      expect(cfg.settings.listen).toEqual({ host: '127.0.0.1', port: 9900 });
      expect(cfg.warnings).toHaveLength(1);
      expect(cfg.warnings[0]?.pos).toEqual({ file: 'dovecot.conf', line: 1, col: 1 });
      expect(cfg.warnings[0]?.message).toBe(
        `listen = ${value} looks like Dovecot's own listen setting (no port): ignored; tallyd's listen is HOST:PORT`,
      );
    }
  });

  describe('errors point at the value', () => {
    const cases: [string, string, string][] = [
      ['listen = localhost:', 'test.conf:1:20', "listen: '' is not a port number (expected HOST:PORT, IPv6 as [::1]:9900), not 'localhost:'"],
      ['listen = 1.2.3.4:99999', 'test.conf:1:18', "listen: '99999' is not a port number (expected HOST:PORT, IPv6 as [::1]:9900), not '1.2.3.4:99999'"],
      ['listen = fe80::1:99999', 'test.conf:1:10', "listen: an IPv6 address needs brackets (expected HOST:PORT, IPv6 as [::1]:9900), not 'fe80::1:99999'"],
      ['listen = [::g]:1', 'test.conf:1:11', "listen: '::g' is not an IPv6 address (expected HOST:PORT, IPv6 as [::1]:9900), not '[::g]:1'"],
      ['listen = 1.2.3:80', 'test.conf:1:10', "listen: '1.2.3' is not an address or host name (expected HOST:PORT, IPv6 as [::1]:9900), not '1.2.3:80'"],
      ['shards = 0', 'test.conf:1:10', "shards: must be an integer from 1 to 1024, not '0'"],
      ['shards = two', 'test.conf:1:10', "shards: must be an integer from 1 to 1024, not 'two'"],
      ['trusted_networks = 127.0.0.1 10.0.0.0/33', 'test.conf:1:30', "trusted_networks: '10.0.0.0/33' is not an IP address or CIDR network"],
      ['ingest_networks = ::1 localhost', 'test.conf:1:23', "ingest_networks: 'localhost' is not an IP address or CIDR network"],
      ['ingest_networks = 1', 'test.conf:1:19', "ingest_networks: '1' is not an IP address or CIDR network"],
      ['metric_prefix = dove-cot', 'test.conf:1:17', "metric_prefix: 'dove-cot' is not a valid OpenMetrics name ([a-zA-Z_:][a-zA-Z0-9_:]*)"],
      ['openmetrics_style = loose', 'test.conf:1:21', "openmetrics_style: must be strict or dovecot, not 'loose'"],
      ['dovecot_compat = 3.0', 'test.conf:1:18', "dovecot_compat: must be 2.4 or 2.3, not '3.0'"],
      ['max_sub_metrics = -5', 'test.conf:1:19', "max_sub_metrics: must be an integer from 1 to 9007199254740991, not '-5'"],
      ['max_body_bytes = 16X', 'test.conf:1:18', "max_body_bytes: '16X' is not a size (like 16M, 512k or 1048576)"],
      ['max_body_bytes = 0', 'test.conf:1:18', "max_body_bytes: must be at least 1, not '0'"],
      ['ring_bytes = 1k', 'test.conf:1:14', "ring_bytes: must be at least 4k, not '1k'"],
      ['inline_batch_bytes = 65k', 'test.conf:1:22', "inline_batch_bytes: must be at most 64k (larger batches are the shards' work), not '65k'"],
      ['state_interval = 500ms', 'test.conf:1:18', "state_interval: must be from 1s to 24h, not '500ms'"],
      ['state_interval = soon', 'test.conf:1:18', "state_interval: 'soon' is not a time (like 10s, 500ms or 2 mins)"],
    ];
    it.each(cases)('%s', (text, at, detail) => {
      const e = errorOf(text + '\n');
      expect(e.code).toBe('ERR_CONFIG_SETTING');
      expect(where(e)).toBe(at);
      expect(e.detail).toBe(detail);
      expect(e.message).toBe(`${at}: ${detail}`);
    });
  });

  describe('resolveSettings', () => {
    it('layers overrides on a base', () => {
      const base = defaultSettings();
      const s = resolveSettings(base, { listen: '0.0.0.0:80', shards: '2', max_body_bytes: '1M', dovecot_compat: '2.3' });
      expect(s.listen).toEqual({ host: '0.0.0.0', port: 80 });
      expect(s.shards).toBe(2);
      expect(s.maxBodyBytes).toBe(1024 * 1024);
      expect(s.dovecotCompat).toBe('2.3');
      expect(s.metricPrefix).toBe(base.metricPrefix);
      expect(Object.isFrozen(s)).toBe(true);
      expect(resolveSettings(base, { listen: '*:9901' }).listen).toEqual({ host: '0.0.0.0', port: 9901 });
      expect(resolveSettings(base, { ingest_token: '' }).ingestToken).toBeNull();
    });

    it('reports errors at the given position', () => {
      const e = configError(() => resolveSettings(defaultSettings(), { shards: 'x' }, { file: '--shards', line: 1, col: 1 }));
      expect(e.message).toBe("--shards:1:1: shards: must be an integer from 1 to 1024, not 'x'");
      const e2 = configError(() =>
        resolveSettings(defaultSettings(), { listen: 'nope' }, (key) => ({ file: `$TALLYD_${key.toUpperCase()}`, line: 1, col: 1 })),
      );
      expect(e2.message).toBe("$TALLYD_LISTEN:1:5: listen: missing port (expected HOST:PORT, IPv6 as [::1]:9900), not 'nope'");
      const e3 = configError(() => resolveSettings(defaultSettings(), { bogus: '1' }));
      expect(e3.code).toBe('ERR_CONFIG_SETTING');
      expect(e3.message).toMatch(/^<override>:1:1: Unknown setting: bogus/);
    });
  });
});
