/**
 * Parse tree → frozen ResolvedConfig: tallyd settings, metric blocks, and a
 * warning for every Dovecot setting or block tallyd does not use.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import ipaddr from 'ipaddr.js';
import { ConfigError } from '../errors.js';
import type { SourcePos } from '../errors.js';
import { metricFromBlock } from './metric.js';
import type { MetricBlockResult } from './metric.js';
import { applySetting, defaultSettings, isSettingKey, resolveSettings } from './settings.js';
import { parseExternalLabels, remoteWriteFromBlock } from './remote.js';
import { blockLabel } from './tree.js';
import type { ConfigNode, ConfigValue, SettingNode } from './tree.js';
import type { ConfigWarning, MetricDef, RemoteWriteDef, ResolvedConfig, Settings } from './types.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * `listen = *, ::` (addresses without a port) is Dovecot's own listen setting,
 * not tallyd's HOST:PORT.
 */
function isDovecotListen(text: string): boolean {
  const t = text.trim();
  return t.includes(',') || /\s/.test(t) || t === '*' || t === '[::]' || !t.includes(':') || ipaddr.IPv6.isValid(t);
}

/** The text of a setting value, reading `key = <file` values from their file. */
function settingText(key: string, v: ConfigValue): { text: string; posAt: (o: number) => SourcePos } {
  if (!v.fileRef) return { text: v.text, posAt: v.posAt };
  const path = isAbsolute(v.text) ? v.text : join(v.baseDir, v.text);
  try {
    return { text: readFileSync(path, 'utf8').trim(), posAt: () => v.pos };
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'No such file or directory' : (e as Error).message;
    throw new ConfigError('ERR_CONFIG_SETTING', v.pos, `${key}: Couldn't read ${path}: ${why}`);
  }
}

function applyTallydSetting(s: Mutable<Settings>, node: SettingNode, warnings: ConfigWarning[]): void {
  const key = node.key;
  if (!isSettingKey(key)) return;
  if (key === 'listen' && !node.value.fileRef && isDovecotListen(node.value.text)) {
    warnings.push({
      pos: node.keyPos,
      message: `listen = ${node.value.text.trim()} looks like Dovecot's own listen setting (no port): ignored; tallyd's listen is HOST:PORT`,
    });
    return;
  }
  const { text, posAt } = settingText(key, node.value);
  applySetting(s, key, text, posAt);
}

function deepFreezeConfig(
  settings: Settings,
  metrics: MetricDef[],
  warnings: ConfigWarning[],
  remoteWrite: RemoteWriteDef[] = [],
  externalLabels: [string, string][] = [],
): ResolvedConfig {
  return Object.freeze({
    settings,
    remoteWrite: Object.freeze(remoteWrite.map((r) => Object.freeze(r))),
    externalLabels: Object.freeze(externalLabels.map((l) => Object.freeze(l))),
    metrics: Object.freeze(metrics),
    warnings: Object.freeze(warnings.map((w) => Object.freeze({ pos: Object.freeze({ ...w.pos }), message: w.message }))),
  });
}

/** Validate a parsed config into its resolved, frozen form. Throws ConfigError. */
export function resolveTree(nodes: readonly ConfigNode[]): ResolvedConfig {
  const settings: Mutable<Settings> = { ...defaultSettings() };
  const warnings: ConfigWarning[] = [];
  const metrics: MetricDef[] = [];
  const results: MetricBlockResult[] = [];
  const seen = new Map<string, SourcePos>();
  const exporters = new Set<string>();
  const remotes: RemoteWriteDef[] = [];
  let externalLabels: [string, string][] = [];

  for (const node of nodes) {
    if (node.kind === 'setting' && node.key === 'external_labels') {
      externalLabels = parseExternalLabels(node);
      continue;
    }
    if (node.kind === 'block' && node.type === 'remote_write') {
      const r = remoteWriteFromBlock(node);
      const first = remotes.find((x) => x.name === r.name);
      if (first !== undefined) {
        throw new ConfigError('ERR_CONFIG_REMOTE_WRITE', node.namePos, `remote_write ${r.name}: already defined at ${first.pos.file}:${first.pos.line}:${first.pos.col}`);
      }
      remotes.push(r);
      continue;
    }
    if (node.kind === 'setting') {
      if (isSettingKey(node.key)) applyTallydSetting(settings, node, warnings);
      else warnings.push({ pos: node.keyPos, message: `'${node.key}' is a Dovecot setting tallyd does not use: ignored` });
      continue;
    }
    if (node.type === 'metric') {
      const result = metricFromBlock(node);
      const name = result.def.name;
      const first = seen.get(name);
      if (first !== undefined) {
        throw new ConfigError(
          'ERR_CONFIG_DUPLICATE',
          node.namePos,
          `metric ${name}: Metric already exists (first defined at ${first.file}:${first.line}:${first.col})`,
        );
      }
      seen.set(name, node.namePos);
      metrics.push(result.def);
      results.push(result);
      warnings.push(...result.warnings);
      continue;
    }
    if (node.type === 'event_exporter') {
      exporters.add(node.name ?? '');
      warnings.push({ pos: node.typePos, message: `event_exporter ${node.name ?? ''} is ignored (tallyd does not export events)` });
      continue;
    }
    warnings.push({ pos: node.typePos, message: `block '${blockLabel(node)}' is Dovecot configuration tallyd does not use: ignored` });
  }

  const frozen = resolveSettings(settings, {});
  const nonexistent = frozen.dovecotCompat === '2.3' ? 'non-existent' : 'nonexistent';
  for (const r of results) {
    const ex = r.exporter;
    if (ex !== null && !exporters.has(ex.text.trim())) {
      throw new ConfigError('ERR_CONFIG_METRIC', ex.pos, `metric ${r.def.name} refers to ${nonexistent} exporter '${ex.text.trim()}'`);
    }
  }
  return deepFreezeConfig(frozen, metrics, warnings, remotes, externalLabels);
}
