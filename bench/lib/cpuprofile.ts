/** Summary of a V8 .cpuprofile (node --cpu-prof): self and inclusive share per function. */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
}

export interface FunctionShare {
  name: string;
  /** % of samples in the function itself */
  self: number;
  /** % of samples with the function on the stack */
  inclusive: number;
}

function label(n: ProfileNode): string {
  const f = n.callFrame;
  const file = f.url.split('/').slice(-2).join('/');
  return `${f.functionName === '' ? '(anonymous)' : f.functionName} ${file}${file === '' ? '' : `:${f.lineNumber + 1}`}`;
}

export function summarize(path: string): FunctionShare[] {
  const p = JSON.parse(readFileSync(path, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const hits = new Map<number, number>();
  for (const s of p.samples) hits.set(s, (hits.get(s) ?? 0) + 1);
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  for (const [id, count] of hits) {
    const k = label(byId.get(id) as ProfileNode);
    self.set(k, (self.get(k) ?? 0) + count);
    const seen = new Set<string>();
    for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) {
      const kk = label(byId.get(x) as ProfileNode);
      if (seen.has(kk)) continue;
      seen.add(kk);
      incl.set(kk, (incl.get(kk) ?? 0) + count);
    }
  }
  const total = p.samples.length || 1;
  return [...incl.keys()].map((name) => ({ name, self: (100 * (self.get(name) ?? 0)) / total, inclusive: (100 * (incl.get(name) ?? 0)) / total }));
}

export function formatSummary(title: string, shares: FunctionShare[], top: number): string {
  const skip = /^\((root|program)\)|^(evaluate|run|\(anonymous\) (node:|per_context|esm|cjs))/;
  const bySelf = [...shares].sort((a, b) => b.self - a.self).slice(0, top);
  const byIncl = [...shares].filter((s) => !skip.test(s.name)).sort((a, b) => b.inclusive - a.inclusive).slice(0, top);
  const L = [`### ${title}`, '', '| self % | function | | inclusive % | function |', '| ---: | --- | --- | ---: | --- |'];
  for (let i = 0; i < top; i++) {
    const a = bySelf[i];
    const b = byIncl[i];
    L.push(`| ${a?.self.toFixed(1) ?? ''} | ${a?.name ?? ''} | | ${b?.inclusive.toFixed(1) ?? ''} | ${b?.name ?? ''} |`);
  }
  return L.join('\n');
}
