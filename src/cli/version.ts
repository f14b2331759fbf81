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
