/**
 * Metric definitions: `metric NAME { ... }` blocks in both dialects, and
 * run-time additions (`stats add`).
 */
import { ConfigError } from '../errors.js';
import type { SourcePos } from '../errors.js';
import { compileFilter, FilterSyntaxError } from '../filter/index.js';
import { parseGroupBy, stringPos } from './groupby.js';
import type { PosAt } from './groupby.js';
import { groupByFromBlocks } from './groupby24.js';
import { isFieldName, isOpenMetricsName, splitWords } from './names.js';
import type { BlockNode, ConfigValue } from './tree.js';
import type { ConfigWarning, GroupByLevel, MetricDef } from './types.js';

const METRIC_KEYS = ['filter', 'fields', 'group_by', 'description', 'exporter', 'exporter_include'] as const;
type MetricKey = (typeof METRIC_KEYS)[number];

function metricError(pos: SourcePos, text: string): ConfigError {
  return new ConfigError('ERR_CONFIG_METRIC', pos, text);
}

export function checkMetricName(name: string, pos: SourcePos): void {
  if (name === '') throw metricError(pos, "Metric name can't be empty");
  if (!isOpenMetricsName(name)) {
    throw metricError(pos, `metric ${name}: name is not a valid OpenMetrics name ([a-zA-Z_:][a-zA-Z0-9_:]*)`);
  }
}

/** Compile the filter to check it; a syntax error points at its offset in the source. */
export function checkFilter(metric: string, src: string, posAt: PosAt, emptyPos: SourcePos): void {
  if (src.trim() === '') throw metricError(emptyPos, `metric ${metric} { filter } is empty - will not match anything`);
  try {
    compileFilter(src);
  } catch (e) {
    if (!(e instanceof FilterSyntaxError)) throw e;
    const offset = Math.min(Math.max(0, e.offset), src.length);
    throw new ConfigError('ERR_CONFIG_FILTER', posAt(offset), `metric ${metric} { filter }: ${e.message}`);
  }
}

export function parseFields(metric: string, src: string, posAt: PosAt): string[] {
  return splitWords(src, /[ \t\r\n,]/).map(({ word, offset }) => {
    if (!isFieldName(word)) throw metricError(posAt(offset), `metric ${metric} { fields }: '${word}' is not a valid field name`);
    return word;
  });
}

export function freezeMetric(def: MetricDef): MetricDef {
  return Object.freeze({
    ...def,
    fields: Object.freeze([...def.fields]),
    groupBy: Object.freeze(def.groupBy.map((l) => Object.freeze({ ...l }))),
    ...(def.pos === undefined ? {} : { pos: Object.freeze({ ...def.pos }) }),
  });
}

export interface MetricBlockResult {
  readonly def: MetricDef;
  /** the `exporter` it names, to be checked against the file's event_exporter blocks */
  readonly exporter: ConfigValue | null;
  readonly warnings: readonly ConfigWarning[];
}

interface LevelEntry {
  readonly field: string;
  level: GroupByLevel | null;
  readonly blocks: BlockNode[];
}

function shortKey(key: string): string {
  return key.startsWith('metric_') ? key.slice('metric_'.length) : key;
}

/** A `metric NAME { ... }` block → its definition. */
export function metricFromBlock(block: BlockNode): MetricBlockResult {
  const name = block.name ?? '';
  checkMetricName(name, block.namePos);
  const values = new Map<MetricKey, ConfigValue>();
  const warnings: ConfigWarning[] = [];
  const entries: LevelEntry[] = [];
  const lastGroupBy = block.children.reduce(
    (last, c, i) => (c.kind === 'setting' && shortKey(c.key) === 'group_by' ? i : last),
    -1,
  );
  block.children.forEach((child, index) => {
    if (child.kind === 'block') {
      if (child.type !== 'group_by') throw metricError(child.typePos, `metric ${name}: Unknown block '${child.type}'`);
      const field = child.name ?? '';
      const entry = entries.find((e) => e.field === field);
      if (entry === undefined) entries.push({ field, level: null, blocks: [child] });
      else entry.blocks.push(child);
      return;
    }
    const key = shortKey(child.key);
    if (!(METRIC_KEYS as readonly string[]).includes(key)) {
      throw metricError(child.keyPos, `metric ${name}: Unknown setting: ${child.key}`);
    }
    values.set(key as MetricKey, child.value);
    if (key === 'exporter' || key === 'exporter_include') {
      warnings.push({ pos: child.keyPos, message: `metric ${name}: ${key} is ignored (tallyd does not export events)` });
    }
    if (key === 'group_by' && index === lastGroupBy) {
      for (const level of parseGroupBy(child.value.text, child.value.posAt)) {
        entries.push({ field: level.field, level, blocks: [] });
      }
    }
  });

  const filter = values.get('filter');
  checkFilter(name, filter?.text ?? '', filter?.posAt ?? (() => block.namePos), filter?.pos ?? block.namePos);
  const fieldsValue = values.get('fields');
  const fields = fieldsValue === undefined ? [] : parseFields(name, fieldsValue.text, fieldsValue.posAt);
  const groupBy = entries.map((e) => (e.blocks.length > 0 ? groupByFromBlocks(e.blocks) : (e.level as GroupByLevel)));
  const exporter = values.get('exporter');
  const def: MetricDef = {
    name,
    filter: (filter as ConfigValue).text,
    fields,
    groupBy,
    description: values.get('description')?.text ?? '',
    pos: block.namePos,
  };
  return {
    def: freezeMetric(def),
    exporter: exporter !== undefined && exporter.text.trim() !== '' ? exporter : null,
    warnings,
  };
}

export interface MetricInput {
  name: string;
  filter: string;
  fields?: string | readonly string[];
  group_by?: string;
  description?: string;
}

/**
 * A metric added at run time (`stats add`, `POST /v1/metrics`): group_by in
 * 2.3 string syntax; errors name `<request>`, line 1, column = offset + 1 in
 * the offending input string.
 */
export function buildMetricDef(input: MetricInput, existingNames: ReadonlySet<string>): MetricDef {
  const at = stringPos('<request>');
  const name = typeof input.name === 'string' ? input.name : '';
  checkMetricName(name, at(0));
  if (existingNames.has(name)) throw new ConfigError('ERR_CONFIG_DUPLICATE', at(0), 'Metric already exists');
  const filter = typeof input.filter === 'string' ? input.filter : '';
  checkFilter(name, filter, at, at(0));
  const rawFields = input.fields ?? '';
  let fields: string[];
  if (typeof rawFields === 'string') fields = parseFields(name, rawFields, at);
  else {
    let offset = 0;
    fields = rawFields.map((f) => {
      if (typeof f !== 'string' || !isFieldName(f)) {
        throw metricError(at(offset), `metric ${name} { fields }: '${String(f)}' is not a valid field name`);
      }
      offset += f.length + 1;
      return f;
    });
  }
  const groupBy = parseGroupBy(input.group_by ?? '', at);
  return freezeMetric({ name, filter, fields, groupBy, description: input.description ?? '' });
}
