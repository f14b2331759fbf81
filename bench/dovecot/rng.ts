/**
 * The seeded generator of the bench's sessions: the one `tallyd load` uses
 * (sfc32 through splitmix32, the same on every platform).
 */
export { Rng, weighted, type Weighted } from '../../src/cli/mailevents.js';
