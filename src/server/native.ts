/**
 * Loading the native uWebSockets.js binary. The package falls back to a slow
 * JavaScript imitation when its binary does not load; tallyd loads the binary
 * itself instead, and runs the native-free node:http server when it cannot.
 */
import { createRequire } from 'node:module';

export type Uws = typeof import('uWebSockets.js');

const require = createRequire(import.meta.url);

/** The native module, or the error that kept it from loading. */
export function loadNativeUws(): { uws: Uws } | { error: Error } {
  try {
    const pkg = require.resolve('uWebSockets.js/package.json');
    const file = pkg.replace(
      /package\.json$/,
      `binaries/uws_${process.platform}_${process.arch}_${process.versions.modules}.node`,
    );
    return { uws: require(file) as Uws };
  } catch (e) {
    return { error: e as Error };
  }
}
