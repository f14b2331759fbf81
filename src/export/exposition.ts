/**
 * Serializes the family model as OpenMetrics 1.0.0 or as its Prometheus
 * text 0.0.4 twin (notes §9): same samples, different metadata.
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
  const out: string[] = [];
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
      out.push(`# TYPE ${typeName} ${type}`);
      if (f.unit !== null) out.push(`# UNIT ${typeName} ${f.unit}`);
      out.push(`# HELP ${typeName} ${escapeLabelValue(f.help)}`);
    } else {
      out.push(`# HELP ${typeName} ${escapeHelpText(f.help)}`);
      out.push(`# TYPE ${typeName} ${type}`);
    }
    if (f.kind === 'histogram') {
      const les = f.les;
      const bucketPrefix = les.map((le) => `le="${le}"`);
      for (const s of f.samples) {
        const lt = s.labels.text;
        const head = `${name}_bucket{${lt === '' ? '' : `${lt},`}`;
        for (let i = 0; i < les.length; i++) {
          out.push(`${head}${bucketPrefix[i] as string}} ${formatSample(s.cumulative[i] as number)}`);
        }
        if (s.sum !== null) {
          const b = braces(s.labels);
          out.push(`${name}_sum${b} ${formatSample(s.sum)}`);
          out.push(`${name}_count${b} ${formatSample(s.count)}`);
        }
      }
    } else {
      for (const s of f.samples) out.push(`${sample}${braces(s.labels)} ${formatSample(s.value)}`);
    }
  }
  if (eof) out.push('# EOF');
  out.push('');
  return out.join('\n');
}
