/**
 * Settings precedence (built-in < file < environment < flags): environment
 * variables `TALLYD_<SETTING>` (e.g. TALLYD_LISTEN, TALLYD_INGEST_TOKEN).
 */
import { resolveSettings, SETTING_KEYS } from '../config/index.js';
import type { ResolvedConfig } from '../config/types.js';

export function withOverrides(cfg: ResolvedConfig, env: NodeJS.ProcessEnv, flags: Record<string, string>): ResolvedConfig {
  const fromEnv: Record<string, string> = {};
  for (const key of SETTING_KEYS) {
    const v = env[`TALLYD_${key.toUpperCase()}`];
    if (v !== undefined && v !== '') fromEnv[key] = v;
  }
  let settings = resolveSettings(cfg.settings, fromEnv, (key) => ({ file: `<environment TALLYD_${key.toUpperCase()}>`, line: 1, col: 1 }));
  settings = resolveSettings(settings, flags, (key) => ({ file: `<flag --${key.replace(/_/g, '-')}>`, line: 1, col: 1 }));
  return Object.freeze({ ...cfg, settings });
}
