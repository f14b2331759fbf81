/**
 * `remote_write NAME { url interval timeout bearer_token }` blocks and the
 * top-level `external_labels = key=value ...` (docs/native-histograms.md).
 */
import { ConfigError, type SourcePos } from '../errors.js';
import { isOpenMetricsName } from './names.js';
import { parseTime } from './settings.js';
import type { BlockNode, SettingNode } from './tree.js';
import type { RemoteWriteDef } from './types.js';

const KEYS = new Set(['url', 'interval', 'timeout', 'bearer_token']);

function err(pos: SourcePos, msg: string): ConfigError {
  return new ConfigError('ERR_CONFIG_REMOTE_WRITE', pos, msg);
}

function timeOf(label: string, node: SettingNode, minMs: number): number {
  const ms = parseTime(node.value.text);
  if (ms === null || ms < minMs) throw err(node.value.pos, `${label}: ${node.key} = ${node.value.text}: not a duration of at least ${minMs} ms (10s, 500ms)`);
  return ms;
}

/** One remote_write block. */
export function remoteWriteFromBlock(b: BlockNode): RemoteWriteDef {
  const name = b.name ?? '';
  if (name === '' || !/^[A-Za-z0-9_.-]+$/.test(name)) throw err(b.namePos, `remote_write needs a name of letters, digits, '_', '.', '-'`);
  const label = `remote_write ${name}`;
  let url: URL | null = null;
  let intervalMs = 10_000;
  let timeoutMs = 5_000;
  let bearerToken: string | null = null;
  for (const c of b.children) {
    if (c.kind === 'block') throw err(c.typePos, `${label}: unexpected block '${c.type}'`);
    if (!KEYS.has(c.key)) throw err(c.keyPos, `${label}: unknown setting '${c.key}' (url, interval, timeout, bearer_token)`);
    const text = c.value.text.trim();
    switch (c.key) {
      case 'url':
        try {
          url = new URL(text);
        } catch {
          throw err(c.value.pos, `${label}: url = ${text}: not a URL`);
        }
        if (url.protocol !== 'http:' && url.protocol !== 'https:') throw err(c.value.pos, `${label}: url = ${text}: not http or https`);
        break;
      case 'interval':
        intervalMs = timeOf(label, c, 100);
        break;
      case 'timeout':
        timeoutMs = timeOf(label, c, 1);
        break;
      case 'bearer_token':
        bearerToken = text === '' ? null : text;
        break;
    }
  }
  if (url === null) throw err(b.namePos, `${label}: url is required`);
  return { name, url: url.href, intervalMs, timeoutMs, bearerToken, pos: b.namePos };
}

/** `external_labels = host=a dc=eu`: label names valid, values without spaces, no name twice. */
export function parseExternalLabels(node: SettingNode): [string, string][] {
  const out: [string, string][] = [];
  const text = node.value.text;
  const re = /\S+/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const pos = node.value.posAt(m.index);
    const eq = m[0].indexOf('=');
    const k = eq < 0 ? m[0] : m[0].slice(0, eq);
    if (eq <= 0 || !isOpenMetricsName(k) || k.includes(':') || k.startsWith('__')) throw err(pos, `external_labels: '${m[0]}' is not label=value`);
    if (out.some(([n]) => n === k)) throw err(pos, `external_labels: label '${k}' is given twice`);
    out.push([k, m[0].slice(eq + 1)]);
  }
  return out;
}
