/**
 * `tallyd serve` from a script, for what-if measurements of proposed fixes:
 *
 *   node dist/bench/e2e/serve-whatif.js PORT SHARDS full|nohist
 *
 * full    the server as it is
 * nohist  Accumulator.apply drops the percentile hists of each delta before
 *         merging it: an upper bound for folding them lazily (bench/README.md,
 *         finding 1). Dumps then have no percentiles; /metrics is unchanged.
 *
 * Stops on SIGTERM (graceful, like tallyd serve).
 */
import { parseConfigText } from '../../src/config/index.js';
import type { EngineDelta } from '../../src/engine/engine.js';
import { Accumulator } from '../../src/merge/accumulator.js';
import type { NodeSnapshot } from '../../src/metrics/types.js';
import { startServer } from '../../src/server/start.js';
import { benchConfigText } from '../fixtures/config.js';

const [port, shards, mode] = process.argv.slice(2);
if (port === undefined || shards === undefined || (mode !== 'full' && mode !== 'nohist')) {
  process.stderr.write('usage: serve-whatif.js PORT SHARDS full|nohist\n');
  process.exit(2);
}
if (mode === 'nohist') {
  const apply = Accumulator.prototype.apply;
  const strip = (n: NodeSnapshot): void => {
    for (const d of n.dists) delete d.hist;
    for (const c of n.children) strip(c);
  };
  Accumulator.prototype.apply = function patched(this: Accumulator, delta: EngineDelta): void {
    for (const m of delta.metrics) if (m.root !== null) strip(m.root);
    apply.call(this, delta);
  };
}
const config = parseConfigText(benchConfigText(`127.0.0.1:${port}`, Number(shards)), '<bench>', '.');
const server = await startServer({ config, version: 'bench' });
process.on('SIGTERM', () => {
  void server.stop(() => undefined).then(() => process.exit(0));
});
