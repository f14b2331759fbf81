/**
 * state_file (docs/reliability.md): the metrics' state restored at start,
 * saved every state_interval and once more after the drain at shutdown.
 * A bad file is moved aside and tallyd starts from zero; a failed save is
 * logged and counted, never fatal.
 */
import type { Logger } from 'pino';
import type { ResolvedConfig } from '../config/types.js';
import type { SelfFamily } from '../export/index.js';
import type { EngineSnapshot } from '../metrics/types.js';
import type { Runtime } from '../shard/runtime.js';
import { defKey } from '../state/defkey.js';
import { decodeState, encodeState, StateFormatError, type StateProblem } from '../state/format.js';
import { moveAside, readStateFile, writeStateFile, writeStateFileSync } from '../state/store.js';

export type RestoreFailure = StateProblem | 'unreadable';
export const RESTORE_FAILURES: readonly RestoreFailure[] = ['not_a_state_file', 'unknown_version', 'truncated', 'checksum', 'undecodable', 'unreadable'];

/** The state of a snapshot as the file's bytes. */
export function stateBytes(snap: EngineSnapshot, seq: number): Buffer {
  return encodeState({
    savedAt: Date.now(),
    seq,
    counters: snap.counters,
    metrics: snap.metrics.map((m) => ({ name: m.def.name, defKey: defKey(m.def), overflow: m.overflow, root: m.root })),
  });
}

export class StateKeeper {
  readonly path: string;
  private readonly rt: Runtime;
  private readonly log: Logger | undefined;
  private timer: NodeJS.Timeout | undefined;
  private saving: Promise<void> | null = null;
  private stopped = false;
  /** set when the file exists but cannot be read: nothing is saved over it */
  private disabled = false;
  saves = 0;
  saveFailures = 0;
  lastSaveSeconds = 0;
  restoredMetrics = 0;
  skippedMetrics = 0;
  readonly restoreFailures: Record<RestoreFailure, number> = {
    not_a_state_file: 0,
    unknown_version: 0,
    truncated: 0,
    checksum: 0,
    undecodable: 0,
    unreadable: 0,
  };

  constructor(path: string, rt: Runtime, log?: Logger) {
    this.path = path;
    this.rt = rt;
    this.log = log;
  }

  /** Restores the file into the runtime (before anything is ingested). */
  restore(config: ResolvedConfig): void {
    let buf: Buffer | null;
    try {
      buf = readStateFile(this.path);
    } catch (e) {
      this.restoreFailures.unreadable++;
      // it may be good: it is not replaced by this process's figures
      this.disabled = true;
      this.log?.error({ stateFile: this.path, err: (e as Error).message }, 'the state file cannot be read: starting from zero, and not saving over it (fix its permissions or move it, then restart)');
      return;
    }
    if (buf === null) {
      this.log?.info({ stateFile: this.path }, 'no state file yet: starting from zero');
      return;
    }
    let state;
    try {
      state = decodeState(buf);
    } catch (e) {
      const reason: RestoreFailure = e instanceof StateFormatError ? e.reason : 'undecodable';
      this.restoreFailures[reason]++;
      let aside: string | null = null;
      try {
        aside = moveAside(this.path);
      } catch (err) {
        this.log?.error({ stateFile: this.path, err: (err as Error).message }, 'the bad state file cannot be moved aside');
      }
      this.log?.error({ stateFile: this.path, reason, movedTo: aside }, `the state file is not restored (${(e as Error).message}): starting from zero`);
      return;
    }
    const keys = new Map(config.metrics.map((d) => [d.name, defKey(d)]));
    const same = state.metrics.filter((m) => {
      const k = keys.get(m.name);
      if (k === m.defKey) return true;
      this.skippedMetrics++;
      this.log?.warn({ metric: m.name, stateFile: this.path }, k === undefined ? 'a saved metric is no longer configured: not restored' : 'a saved metric changed its definition: not restored, it starts from zero');
      return false;
    });
    const restored = this.rt.restore(same, state.counters, state.seq);
    this.restoredMetrics = restored.length;
    this.log?.info({ stateFile: this.path, metrics: restored.length, savedAt: new Date(state.savedAt).toISOString() }, 'state restored');
  }

  /** Saves every `intervalMs` from now on. */
  start(intervalMs: number): void {
    if (this.stopped || this.disabled) return;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = setInterval(() => void this.save(), intervalMs);
    this.timer.unref();
  }

  /** One periodic save (a save still running is not doubled). */
  save(): Promise<void> {
    if (this.stopped || this.disabled) return Promise.resolve();
    if (this.saving !== null) return this.saving;
    const run = (async () => {
      try {
        const bytes = await this.rt.snapshot((snap) => stateBytes(snap, this.rt.batchSeq));
        await writeStateFile(this.path, bytes);
        this.saved();
      } catch (e) {
        this.failed(e);
      }
    })();
    this.saving = run.finally(() => {
      this.saving = null;
    });
    return this.saving;
  }

  /** The final save, from the drained state (synchronously, inside the final render). */
  saveFinal(snap: EngineSnapshot): void {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    if (this.disabled) return;
    try {
      writeStateFileSync(this.path, stateBytes(snap, this.rt.batchSeq));
      this.saved();
      this.log?.info({ stateFile: this.path }, 'state saved');
    } catch (e) {
      this.failed(e);
    }
  }

  private saved(): void {
    this.saves++;
    this.lastSaveSeconds = Date.now() / 1000;
  }

  private failed(e: unknown): void {
    this.saveFailures++;
    this.log?.error({ stateFile: this.path, err: (e as Error).message }, 'the state could not be saved');
  }

  families(): SelfFamily[] {
    const one = (value: number) => [{ labels: {}, value }];
    return [
      { name: 'tallyd_state_saves_total', help: 'State file saves that succeeded', type: 'counter', samples: one(this.saves) },
      { name: 'tallyd_state_save_failures_total', help: 'State file saves that failed', type: 'counter', samples: one(this.saveFailures) },
      { name: 'tallyd_state_last_save_timestamp_seconds', help: 'When the state file was last saved, 0 never', type: 'gauge', samples: one(this.lastSaveSeconds) },
      {
        name: 'tallyd_state_restore_failures_total',
        help: 'State files not restored at start, by reason (the file is moved aside)',
        type: 'counter',
        samples: RESTORE_FAILURES.map((r) => ({ labels: { reason: r }, value: this.restoreFailures[r] })),
      },
      { name: 'tallyd_state_restored_metrics', help: 'Metrics restored from the state file at start', type: 'gauge', samples: one(this.restoredMetrics) },
      { name: 'tallyd_state_skipped_metrics', help: 'Saved metrics not restored at start (definition changed or removed)', type: 'gauge', samples: one(this.skippedMetrics) },
    ];
  }
}
