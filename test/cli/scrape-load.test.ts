/**
 * Series counting of a scrape answer: text by sample lines, protobuf
 * (varint-delimited io.prometheus.client.MetricFamily, encoded here by
 * protobufjs from the upstream schema's fields) as Prometheus stores them.
 */
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { countProtobufSeries, countTextSeries, parseScrapeInterval } from '../../src/cli/scrape-load.js';

const root = protobuf.Root.fromJSON({
  nested: {
    LabelPair: { fields: { name: { type: 'string', id: 1 }, value: { type: 'string', id: 2 } } },
    Gauge: { fields: { value: { type: 'double', id: 1 } } },
    Counter: { fields: { value: { type: 'double', id: 1 } } },
    Quantile: { fields: { quantile: { type: 'double', id: 1 }, value: { type: 'double', id: 2 } } },
    Summary: { fields: { sample_count: { type: 'uint64', id: 1 }, sample_sum: { type: 'double', id: 2 }, quantile: { rule: 'repeated', type: 'Quantile', id: 3 } } },
    Bucket: { fields: { cumulative_count: { type: 'uint64', id: 1 }, upper_bound: { type: 'double', id: 2 } } },
    Histogram: { fields: { sample_count: { type: 'uint64', id: 1 }, sample_sum: { type: 'double', id: 2 }, bucket: { rule: 'repeated', type: 'Bucket', id: 3 } } },
    Metric: {
      fields: {
        label: { rule: 'repeated', type: 'LabelPair', id: 1 },
        gauge: { type: 'Gauge', id: 2 },
        counter: { type: 'Counter', id: 3 },
        summary: { type: 'Summary', id: 4 },
        histogram: { type: 'Histogram', id: 7 },
      },
    },
    MetricFamily: { fields: { name: { type: 'string', id: 1 }, help: { type: 'string', id: 2 }, type: { type: 'int32', id: 3 }, metric: { rule: 'repeated', type: 'Metric', id: 4 } } },
  },
});
const MF = root.lookupType('MetricFamily');

function delimited(families: object[]): Buffer {
  return Buffer.concat(families.map((f) => Buffer.from(MF.encodeDelimited(MF.fromObject(f)).finish())));
}

describe('scrape series counting', () => {
  it('counts text samples, not comments or blank lines', () => {
    expect(countTextSeries(Buffer.from('# HELP a x\n# TYPE a counter\na_total 1\na_total{x="1"} 2\n\nb 3\n# EOF\n'))).toBe(3);
    expect(countTextSeries(Buffer.from('a 1'))).toBe(1);
  });

  it('counts protobuf: 1 per counter/gauge, quantiles + 2 per summary, buckets (+Inf added) + 2 per histogram', () => {
    const body = delimited([
      { name: 'c', type: 0, metric: [{ label: [{ name: 'x', value: '1' }], counter: { value: 1 } }, { counter: { value: 2 } }] },
      { name: 'g', help: 'a gauge', type: 1, metric: [{ gauge: { value: 1 } }] },
      { name: 's', type: 2, metric: [{ summary: { sample_count: 3, sample_sum: 1, quantile: [{ quantile: 0.5, value: 1 }, { quantile: 0.99, value: 2 }] } }] },
      { name: 'h', type: 4, metric: [{ histogram: { sample_count: 3, bucket: [{ cumulative_count: 1, upper_bound: 1 }, { cumulative_count: 2, upper_bound: 10 }] } }] },
      { name: 'hi', type: 4, metric: [{ histogram: { sample_count: 3, bucket: [{ cumulative_count: 3, upper_bound: Infinity }] } }] },
    ]);
    expect(countProtobufSeries(body)).toBe(2 + 1 + 4 + 5 + 3);
    expect(countProtobufSeries(Buffer.alloc(0))).toBe(0);
    expect(() => countProtobufSeries(body.subarray(0, body.length - 2))).toThrow(/truncated/);
  });

  it('takes the config interval syntax or seconds', () => {
    expect(parseScrapeInterval(undefined)).toBe(1000);
    expect(parseScrapeInterval('500ms')).toBe(500);
    expect(parseScrapeInterval('2s')).toBe(2000);
    expect(parseScrapeInterval('1.5')).toBe(1500);
    expect(() => parseScrapeInterval('soon')).toThrow(/--scrape-interval/);
  });
});
