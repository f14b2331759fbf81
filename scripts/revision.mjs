// Writes the git revision of the build into dist/REVISION (for tallyd_build_info{revision});
// outside a git checkout (a package tarball) it writes nothing and the revision reads "unknown".
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';

const out = new URL('../dist/REVISION', import.meta.url);
let rev = '';
try {
  rev = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: new URL('..', import.meta.url), stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: new URL('..', import.meta.url), stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  if (rev !== '' && dirty !== '') rev += '-dirty';
} catch {
  rev = '';
}
mkdirSync(new URL('../dist/', import.meta.url), { recursive: true });
if (rev === '') rmSync(out, { force: true });
else writeFileSync(out, rev + '\n');
