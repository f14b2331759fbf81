/**
 * Reload (SIGHUP, POST /v1/reload; docs/reliability.md): the config file is
 * read again. Metrics whose definition is unchanged keep counting as they
 * were; changed ones restart from zero, removed ones go, added ones start.
 * Settings are split in those that apply live and those that need a restart
 * (reported, the running value stays). A config with an error is refused
 * and the running one keeps serving.
 */
import type { Logger } from 'pino';
import { formatSettings } from '../config/settings.js';
import type { MetricDef, ResolvedConfig, Settings } from '../config/types.js';
import { TallydError, type ErrorCode } from '../errors.js';
import type { SelfFamily } from '../export/index.js';
import type { Runtime } from '../shard/runtime.js';
import { defKey } from '../state/defkey.js';

/** Settings a reload applies to the running server; every other one needs a restart. */
export const LIVE_SETTINGS = ['trusted_networks', 'ingest_networks', 'ingest_token', 'metric_prefix', 'openmetrics_style', 'state_interval'] as const;

const LIVE_FIELDS: readonly (keyof Settings)[] = ['trustedNetworks', 'ingestNetworks', 'ingestToken', 'metricPrefix', 'openmetricsStyle', 'stateIntervalMs'];

export type ReloadOutcome =
  | {
      status: 'reloaded';
      unchanged: string[];
      changed: string[];
      removed: string[];
      added: string[];
      /** settings applied live */
      applied: string[];
      /** settings that differ but only take effect after a restart */
      restartNeeded: string[];
    }
  | { status: 'refused'; code: ErrorCode; message: string }
  | { status: 'no_config'; message: string };

/** Setting name → its printed line, to tell which settings differ. */
function settingLines(s: Settings): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of formatSettings(s)) {
    const m = /^#?\s*([a-z_]+)/.exec(line);
    if (m?.[1] !== undefined) out.set(m[1], line);
  }
  return out;
}

export interface ReloadHooks {
  /** reads and resolves the config file again (throws a ConfigError); null: serving without a config file */
  load: (() => ResolvedConfig) | null;
  runtime: Runtime;
  /** applies the new running config (the live settings are taken from it) */
  apply: (config: ResolvedConfig) => void;
  logger?: Logger;
}

export class Reloader {
  private current: ResolvedConfig;
  private readonly hooks: ReloadHooks;
  private chain: Promise<unknown> = Promise.resolve();
  readonly outcomes: Record<ReloadOutcome['status'], number> = { reloaded: 0, refused: 0, no_config: 0 };

  constructor(config: ResolvedConfig, hooks: ReloadHooks) {
    this.current = config;
    this.hooks = hooks;
  }

  /** One reload at a time: a second waits for the first. */
  reload(source: 'SIGHUP' | 'http'): Promise<ReloadOutcome> {
    const run = this.chain.then(() => this.run(source));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async run(source: string): Promise<ReloadOutcome> {
    const log = this.hooks.logger;
    const out = await this.attempt();
    this.outcomes[out.status]++;
    if (out.status === 'refused') log?.error({ source, code: out.code }, `config reload refused, the running config keeps serving: ${out.message}`);
    else if (out.status === 'no_config') log?.warn({ source }, out.message);
    else {
      for (const name of out.changed) log?.info({ source, metric: name }, 'metric definition changed: it restarts from zero');
      if (out.restartNeeded.length > 0) log?.warn({ source, settings: out.restartNeeded }, 'these settings changed but take effect only after a restart');
      log?.info({ source, unchanged: out.unchanged.length, changed: out.changed, removed: out.removed, added: out.added, applied: out.applied }, 'config reloaded');
    }
    return out;
  }

  private async attempt(): Promise<ReloadOutcome> {
    const load = this.hooks.load;
    if (load === null) return { status: 'no_config', message: 'serving without --config: a reload has no file to read again, nothing changed' };
    let next: ResolvedConfig;
    try {
      next = load();
    } catch (e) {
      if (e instanceof TallydError) return { status: 'refused', code: e.code, message: e.message };
      throw e;
    }
    const rt = this.hooks.runtime;
    const running = new Map(rt.metricDefs().map((d) => [d.name, d]));
    const wanted = new Map(next.metrics.map((d) => [d.name, d]));
    const unchanged: string[] = [];
    const changed: string[] = [];
    const removed: string[] = [];
    const added: string[] = [];
    const toAdd: MetricDef[] = [];
    for (const [name, d] of running) {
      const w = wanted.get(name);
      if (w === undefined) removed.push(name);
      else if (defKey(w) === defKey(d)) unchanged.push(name);
      else changed.push(name);
    }
    for (const d of next.metrics) {
      if (!running.has(d.name)) {
        added.push(d.name);
        toAdd.push(d);
      } else if (changed.includes(d.name)) toAdd.push(d);
    }
    if (changed.length + removed.length + toAdd.length > 0) await rt.reconfigure([...changed, ...removed], toAdd);
    // settings: the live ones from the file, the others stay as they run
    const cur = this.current.settings;
    const settings: Record<string, unknown> = { ...cur };
    for (const f of LIVE_FIELDS) settings[f] = next.settings[f];
    const before = settingLines(cur);
    const after = settingLines(next.settings);
    const applied: string[] = [];
    const restartNeeded: string[] = [];
    for (const [key, line] of after) {
      if (before.get(key) === line && !(key === 'ingest_token' && cur.ingestToken !== next.settings.ingestToken)) continue;
      if ((LIVE_SETTINGS as readonly string[]).includes(key)) applied.push(key);
      else restartNeeded.push(key);
    }
    this.current = Object.freeze({ ...next, settings: Object.freeze(settings) as unknown as Settings });
    this.hooks.apply(this.current);
    return { status: 'reloaded', unchanged, changed, removed, added, applied, restartNeeded };
  }

  families(): SelfFamily[] {
    return [
      {
        name: 'tallyd_config_reloads_total',
        help: 'Config reloads (SIGHUP, POST /v1/reload) by outcome: reloaded, refused (the config has an error), no_config',
        type: 'counter',
        samples: (['reloaded', 'refused', 'no_config'] as const).map((o) => ({ labels: { outcome: o }, value: this.outcomes[o] })),
      },
    ];
  }
}
