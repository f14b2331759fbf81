/**
 * Starting the server: the runtime, the App, and a transport — uWebSockets.js
 * when its native binary loads, else (or when asked) the native-free
 * node:http server.
 */
import type { Logger } from 'pino';
import { listenNativeFree } from '../../native-free/server.js';
import type { ResolvedConfig } from '../config/types.js';
import { startDovecotSockets, type DovecotSockets } from '../dovecot/service.js';
import { ServerLog } from '../log/events.js';
import { RemoteWriters } from '../remote/service.js';
import { Runtime } from '../shard/runtime.js';
import { App } from './app.js';
import { RecentLog } from './live/recent.js';
import { loadNativeUws } from './native.js';
import { startProcessMetrics } from './process.js';
import { Reloader, type ReloadOutcome } from './reload.js';
import { StateKeeper } from './state.js';
import type { Listener } from './types.js';
import { listenUws } from './uws.js';

export interface ServerOptions {
  config: ResolvedConfig;
  version: string;
  /** build revision for `tallyd_build_info` */
  revision?: string;
  nativeFree?: boolean;
  logger?: Logger;
  /** the config file read (shown on `/`); absent: built-in defaults */
  configFile?: string;
  /** reads the config file again for a reload (SIGHUP, POST /v1/reload); absent: nothing to reload */
  reloadConfig?: () => ResolvedConfig;
}

export interface Server {
  readonly app: App;
  readonly runtime: Runtime;
  readonly listener: Listener;
  readonly dovecot: DovecotSockets;
  /**
   * Graceful stop (docs/contract.md §6): readiness 503, listener closed, rings drained,
   * final merge rendered by `render`, workers stopped.
   */
  stop<T>(render: (snap: import('../metrics/types.js').EngineSnapshot) => T): Promise<T>;
  /** re-reads the config (src/server/reload.ts) */
  reload(source: 'SIGHUP' | 'http'): Promise<ReloadOutcome>;
  /** the state_file keeper, null without state_file */
  readonly state: StateKeeper | null;
  /** the remote_write blocks' writers */
  readonly remote: RemoteWriters;
}

export async function startServer(opts: ServerOptions): Promise<Server> {
  const { config, logger } = opts;
  const recent = new RecentLog();
  const events = new ServerLog(logger);
  startProcessMetrics();
  const runtime = await Runtime.start({
    config,
    onShardExit: (shard, err) => {
      events.shardRestart(shard, err);
      recent.add('error', 'shard', `shard ${shard} worker died (${(err as Error)?.message ?? String(err)}); restarting it`);
    },
  });
  const state = config.settings.stateFile === null ? null : new StateKeeper(config.settings.stateFile, runtime, logger);
  // before anything is ingested: restored figures come first
  state?.restore(config);
  let kind: 'uws' | 'native-free' = 'native-free';
  let uws: ReturnType<typeof loadNativeUws> | null = null;
  if (opts.nativeFree !== true) {
    uws = loadNativeUws();
    if ('uws' in uws) kind = 'uws';
    else logger?.warn({ err: uws.error.message }, 'the native uWebSockets.js binary did not load; serving with node:http (native-free)');
  }
  const app = new App({
    config,
    runtime,
    version: opts.version,
    transport: kind === 'uws' ? 'uWebSockets.js' : 'node:http (native-free)',
    configFile: opts.configFile ?? null,
    recent,
    log: events,
    ...(opts.revision !== undefined ? { revision: opts.revision } : {}),
  });
  const { host, port } = config.settings.listen;
  let listener: Listener;
  try {
    listener =
      uws !== null && 'uws' in uws ? await listenUws(uws.uws, app, host, port) : await listenNativeFree(app, host, port);
  } catch (e) {
    await runtime.close(() => undefined);
    throw e;
  }
  let dovecot: DovecotSockets;
  try {
    dovecot = await startDovecotSockets(runtime, config.settings, logger, events);
  } catch (e) {
    await listener.close();
    listener.terminate();
    await runtime.close(() => undefined);
    throw e;
  }
  app.familySources.push(() => dovecot.families());
  const remote = new RemoteWriters({
    snapshot: (f) => runtime.snapshot(f),
    options: () => app.exportOptions(),
    version: opts.version,
    ...(logger !== undefined ? { logger } : {}),
  });
  try {
    remote.apply(config);
  } catch (e) {
    await Promise.all([listener.close(), dovecot.close()]);
    listener.terminate();
    await runtime.close(() => undefined);
    throw e;
  }
  app.familySources.push(() => remote.families());
  const reloader = new Reloader(config, {
    load: opts.reloadConfig ?? null,
    runtime,
    ...(logger !== undefined ? { logger } : {}),
    apply: (c) => {
      app.applyConfig(c);
      state?.start(c.settings.stateIntervalMs);
      remote.apply(c);
    },
  });
  app.reload = () => reloader.reload('http');
  app.familySources.push(() => reloader.families());
  if (state !== null) {
    app.familySources.push(() => state.families());
    state.start(config.settings.stateIntervalMs);
  }
  app.readiness = 'ready';
  let stopping: Promise<unknown> | null = null;
  return {
    app,
    runtime,
    listener,
    dovecot,
    state,
    remote,
    reload: (source) => reloader.reload(source),
    stop<T>(render: (snap: import('../metrics/types.js').EngineSnapshot) => T): Promise<T> {
      if (stopping === null) {
        app.readiness = 'draining';
        app.live.close();
        // WebSockets stay open through the drain, so the acks of what they sent still reach them
        stopping = Promise.all([listener.close(), dovecot.close()]).then(async () => {
          try {
            const remoteOpts = await remote.options();
            let final: ReturnType<RemoteWriters['finalSeries']> = null;
            // the final state is saved and the last remote write taken from the drained merge, before the dump is rendered from it
            const out = await runtime.close((snap) => {
              state?.saveFinal(snap);
              final = remote.finalSeries(snap, remoteOpts);
              return render(snap);
            });
            await remote.finish(final);
            return out;
          } finally {
            listener.terminate();
          }
        });
      }
      return stopping as Promise<T>;
    },
  };
}
