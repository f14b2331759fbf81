/**
 * `remote_write NAME { url interval timeout bearer_token }` and
 * `external_labels` (docs/scaling.md): what a valid block becomes, and every
 * mistake named at file:line:col with ERR_CONFIG_REMOTE_WRITE.
 */
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/index.js';
import { errorOf, where } from './helpers.js';

describe('remote_write blocks', () => {
  it('become one definition each, in file order, with the defaults where a setting is left out', () => {
    const c = parseConfigText(
      `external_labels = host=mx1 dc=eu-west
remote_write prom {
  url = http://127.0.0.1:9090/api/v1/write
}
remote_write mimir.eu {
  url = https://mimir.example/api/v1/push
  interval = 30s
  timeout = 2500ms
  bearer_token = s3cret
}
`,
      'r.conf',
    );
    expect(c.remoteWrite?.map(({ pos: _pos, ...r }) => r)).toEqual([
      { name: 'prom', url: 'http://127.0.0.1:9090/api/v1/write', intervalMs: 10_000, timeoutMs: 5_000, bearerToken: null },
      { name: 'mimir.eu', url: 'https://mimir.example/api/v1/push', intervalMs: 30_000, timeoutMs: 2_500, bearerToken: 's3cret' },
    ]);
    expect(c.externalLabels).toEqual([
      ['host', 'mx1'],
      ['dc', 'eu-west'],
    ]);
    expect(c.warnings).toEqual([]);
  });

  it('a config without them has none', () => {
    const c = parseConfigText('metric m {\n  filter = event=x\n}\n', 'r.conf');
    expect(c.remoteWrite ?? []).toEqual([]);
    expect(c.externalLabels ?? []).toEqual([]);
  });

  const bad: [string, string, string, RegExp][] = [
    ['no url', 'remote_write prom {\n  interval = 5s\n}\n', 'test.conf:1:14', /url is required/],
    ['not a URL', 'remote_write prom {\n  url = not a url\n}\n', 'test.conf:2:9', /not a URL/],
    ['not http', 'remote_write prom {\n  url = ftp://h/x\n}\n', 'test.conf:2:9', /not http or https/],
    ['unknown key', 'remote_write prom {\n  url = http://h/\n  queue = 5\n}\n', 'test.conf:3:3', /unknown setting 'queue'/],
    ['interval too short', 'remote_write prom {\n  url = http://h/\n  interval = 10ms\n}\n', 'test.conf:3:14', /at least 100 ms/],
    ['timeout not a duration', 'remote_write prom {\n  url = http://h/\n  timeout = soon\n}\n', 'test.conf:3:13', /not a duration/],
    ['a nested block', 'remote_write prom {\n  url = http://h/\n  tls {\n  }\n}\n', 'test.conf:3:3', /unexpected block 'tls'/],
    ['no name', 'remote_write {\n  url = http://h/\n}\n', 'test.conf:1:14', /needs a name/],
    ['a name twice', 'remote_write a {\n  url = http://h/\n}\nremote_write a {\n  url = http://g/\n}\n', 'test.conf:4:14', /already defined at test.conf:1:14/],
    ['external label without =', 'external_labels = host=a dc\n', 'test.conf:1:26', /'dc' is not label=value/],
    ['external label reserved', 'external_labels = __name__=x\n', 'test.conf:1:19', /not label=value/],
    ['external label twice', 'external_labels = a=1 b=2 a=3\n', 'test.conf:1:27', /'a' is given twice/],
  ];
  it.each(bad)('%s: refused at file:line:col', (_what, text, at, msg) => {
    const e = errorOf(text);
    expect(e.code).toBe('ERR_CONFIG_REMOTE_WRITE');
    expect(where(e)).toBe(at);
    expect(e.message).toMatch(msg);
  });
});
