/** Configuration: Dovecot-syntax files → a frozen ResolvedConfig (docs/contract.md §3). */
import { readFileSync, realpathSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import { DEFAULT_CONFIG_FILE, DEFAULT_CONFIG_TEXT } from './defaults.js';
import { parseTree } from './parser.js';
import type { ResolvedConfig } from './types.js';
import { resolveTree } from './validate.js';

export type * from './types.js';
export { DEFAULT_CONFIG_TEXT } from './defaults.js';
export { formatConfig, formatWarning } from './format.js';
export { formatGroupBy, parseGroupBy, stringPos } from './groupby.js';
export type { PosAt } from './groupby.js';
export { buildMetricDef } from './metric.js';
export type { MetricInput } from './metric.js';
export { compileModifier, ModifierError, modifierError } from './modifier.js';
export { isFieldName, isOpenMetricsName } from './names.js';
export {
  defaultSettings,
  formatListen,
  formatSize,
  isIpOrCidr,
  isSettingKey,
  parseListen,
  parseSize,
  resolveSettings,
  SETTING_KEYS,
} from './settings.js';
export type { SettingKey } from './settings.js';

function realOrResolved(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

/**
 * Parse and validate config text. `fileName` names it in positions; `!include`
 * paths are relative to `baseDir` (default: the directory of `fileName`).
 */
export function parseConfigText(text: string, fileName: string, baseDir?: string): ResolvedConfig {
  const tree = parseTree(text, fileName, baseDir ?? dirname(fileName), [realOrResolved(fileName)]);
  return resolveTree(tree);
}

/** Read, parse and validate a config file. Throws ConfigError. */
export function loadConfigFile(path: string): ResolvedConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'No such file or directory' : code === 'EISDIR' ? 'Is a directory' : code === 'EACCES' ? 'Permission denied' : (e as Error).message;
    throw new ConfigError('ERR_CONFIG_INCLUDE', { file: path, line: 1, col: 1 }, `Couldn't open config file ${path}: ${why}`);
  }
  return parseConfigText(text, path);
}

/** The built-in configuration (Dovecot's example metrics, listen 127.0.0.1:9900). */
export function defaultConfig(): ResolvedConfig {
  return parseConfigText(DEFAULT_CONFIG_TEXT, DEFAULT_CONFIG_FILE, '.');
}
