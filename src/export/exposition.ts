/**
 * Serializes the family model as OpenMetrics 1.0.0 or as its Prometheus
 * text 0.0.4 twin (docs/contract.md §8.2): same samples, different metadata.
 */
import { formatSample } from './cformat.js';
import type { Family, LabelSet } from './family.js';
import { escapeHelpText, escapeLabelValue } from './names.js';

function braces(l: LabelSet): string {
  return l.text === '' ? '' : `{${l.text}}`;
}

/**
 * `openMetrics`: OpenMetrics metadata (TYPE, UNIT, HELP; `info` type, `# EOF`
 * unless `eof` is false), else text 0.0.4 (HELP, TYPE; info as a gauge).
 */
export function serializeFamilies(families: readonly Family[], openMetrics: boolean, eof = openMetrics): string {
  let out = '';
  for (const f of families) {
    const name = f.name;
    let sample: string;
    let typeName: string;
    let type: string;
    switch (f.kind) {
      case 'counter':
        sample = `${name}_total`;
        typeName = openMetrics ? name : sample;
        type = 'counter';
        break;
      case 'info':
        sample = `${name}_info`;
        typeName = openMetrics ? name : sample;
        type = openMetrics ? 'info' : 'gauge';
        break;
      default:
        sample = name;
        typeName = name;
        type = f.kind;
    }
    if (openMetrics) {
      out += `# TYPE ${typeName} ${type}\n`;
      if (f.unit !== null) out += `# UNIT ${typeName} ${f.unit}\n`;
      out += `# HELP ${typeName} ${escapeLabelValue(f.help)}\n`;
    } else {
      out += `# HELP ${typeName} ${escapeHelpText(f.help)}\n`;
      out += `# TYPE ${typeName} ${type}\n`;
    }
    if (f.kind === 'histogram') {
      const les = f.les;
      const bucketPrefix = les.map((le) => `le="${le}"`);
      for (const s of f.samples) {
        const lt = s.labels.text;
        const head = `${name}_bucket{${lt === '' ? '' : `${lt},`}`;
        for (let i = 0; i < les.length; i++) {
          out += `${head}${bucketPrefix[i] as string}} ${formatSample(s.cumulative[i] as number)}\n`;
        }
        if (s.sum !== null) {
          const b = braces(s.labels);
          out += `${name}_sum${b} ${formatSample(s.sum)}\n`;
          out += `${name}_count${b} ${formatSample(s.count)}\n`;
        }
      }
    } else {
      for (const s of f.samples) out += `${sample}${braces(s.labels)} ${formatSample(s.value)}\n`;
    }
  }
  if (eof) out += '# EOF\n';
  return out;
}
