import { readFileSync } from 'node:fs';

let cached: string | undefined;

/** tallyd's version, from package.json. */
export function tallydVersion(): string {
  if (cached === undefined) {
    const url = new URL('../../../package.json', import.meta.url);
    const alt = new URL('../../package.json', import.meta.url);
    let text: string;
    try {
      text = readFileSync(url, 'utf8');
    } catch {
      text = readFileSync(alt, 'utf8');
    }
    cached = (JSON.parse(text) as { version: string }).version;
  }
  return cached;
}

let revision: string | undefined;

/** The git revision the build was made from (dist/REVISION, written by `npm run build`), else "unknown". */
export function tallydRevision(): string {
  if (revision === undefined) {
    try {
      revision = readFileSync(new URL('../../REVISION', import.meta.url), 'utf8').trim() || 'unknown';
    } catch {
      revision = 'unknown';
    }
  }
  return revision;
}
