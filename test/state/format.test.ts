/**
 * The state file format: what is encoded decodes to the same figures
 * (property), and any damage — truncation, a changed byte, another version,
 * something else entirely — is detected and named.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Distribution, MergedDist, statOf } from '../../src/aggregate/index.js';
import type { NodeSnapshot } from '../../src/metrics/types.js';
import { decodeState, encodeState, HEADER_BYTES, StateFormatError, type SavedState } from '../../src/state/format.js';
import { newCounters } from '../../src/engine/engine.js';

const STATS = ['count', 'sum', 'min', 'max', 'avg', 'median', 'stddev', '%95', '%99.9', '%1'];

function distOf(values: number[]) {
  const d = new Distribution();
  for (const v of values) d.record(v);
  return d.snapshot('full');
}

const valuesArb = fc.array(fc.oneof(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 0, max: 50_000_000 }), fc.double({ min: -5, max: 1e6, noNaN: true })), {
  maxLength: 1200,
});

const keyArb = fc.oneof(fc.string({ maxLength: 8 }), fc.integer({ min: -5, max: 1000 }), fc.constant(null));

function nodeAt(depth: number): fc.Arbitrary<NodeSnapshot> {
  return fc
    .record({
      name: fc.string({ maxLength: 10 }),
      key: keyArb,
      firstSeq: fc.nat(),
      dists: fc.array(valuesArb, { minLength: 1, maxLength: 3 }).map((vs) => vs.map(distOf)),
      children: depth === 0 ? fc.constant<NodeSnapshot[]>([]) : fc.array(nodeAt(depth - 1), { maxLength: 3 }),
    })
    .map((n) => ({ ...n, count: n.dists[0]?.count ?? 0 }));
}
const nodeArb = nodeAt(2);

const stateArb: fc.Arbitrary<SavedState> = fc.record({
  savedAt: fc.nat(),
  seq: fc.nat(),
  counters: fc.record({ eventsAccepted: fc.nat(), eventsReceived: fc.nat(), rejected: fc.nat() }).map((c) => ({
    ...newCounters(),
    eventsAccepted: c.eventsAccepted,
    eventsReceived: c.eventsReceived,
    eventsRejected: (c.rejected > 0 ? { invalid_json: c.rejected } : {}) as Record<string, number>,
  })),
  metrics: fc.array(fc.record({ name: fc.string({ maxLength: 10 }), defKey: fc.string(), overflow: fc.nat(), root: nodeArb }), { maxLength: 3 }),
});

function sameNode(a: NodeSnapshot, b: NodeSnapshot): void {
  expect([b.name, b.key, b.firstSeq, b.count, b.children.length]).toEqual([a.name, a.key, a.firstSeq, a.count, a.children.length]);
  expect(b.dists.length).toBe(a.dists.length);
  a.dists.forEach((d, i) => {
    const x = new MergedDist();
    x.add(d);
    const y = new MergedDist();
    y.add(b.dists[i] as typeof d);
    for (const s of STATS) expect([s, statOf(y, s)]).toEqual([s, statOf(x, s)]);
    expect([b.dists[i]?.mean, b.dists[i]?.m2]).toEqual([d.mean, d.m2]);
  });
  a.children.forEach((c, i) => sameNode(c, b.children[i] as NodeSnapshot));
}

describe('state file format', () => {
  it('round-trips every tree, counter and distribution (values and HDR buckets)', () => {
    fc.assert(
      fc.property(stateArb, (st) => {
        const back = decodeState(encodeState(st));
        expect([back.savedAt, back.seq, back.counters]).toEqual([st.savedAt, st.seq, st.counters]);
        expect(back.metrics.map((m) => [m.name, m.defKey, m.overflow])).toEqual(st.metrics.map((m) => [m.name, m.defKey, m.overflow]));
        st.metrics.forEach((m, i) => sameNode(m.root, back.metrics[i]?.root as NodeSnapshot));
      }),
      { numRuns: 60 },
    );
  });

  it('a state round-tripped and merged with more values equals one distribution of all of them', () => {
    const a = Array.from({ length: 3000 }, (_, i) => (i * 7919) % 100_000);
    const b = Array.from({ length: 700 }, (_, i) => (i * 104729) % 5_000_000);
    const root: NodeSnapshot = { name: 'm', key: 'm', firstSeq: 0, count: a.length, dists: [distOf(a)], children: [] };
    const back = decodeState(encodeState({ savedAt: 1, seq: 1, counters: newCounters(), metrics: [{ name: 'm', defKey: 'k', overflow: 0, root }] }));
    const merged = new MergedDist();
    merged.add(back.metrics[0]?.root.dists[0] as ReturnType<typeof distOf>);
    merged.add(distOf(b));
    const whole = distOf([...a, ...b]);
    for (const s of ['count', 'sum', 'min', 'max', 'median', '%95', '%99']) expect([s, statOf(merged, s)]).toEqual([s, statOf(whole, s)]);
  });

  const good = encodeState({
    savedAt: 5,
    seq: 9,
    counters: newCounters(),
    metrics: [{ name: 'm', defKey: 'k', overflow: 0, root: { name: 'm', key: 'm', firstSeq: 0, count: 3, dists: [distOf([1, 2, 3])], children: [] } }],
  });

  function reasonOf(buf: Buffer): string {
    try {
      decodeState(buf);
    } catch (e) {
      expect(e).toBeInstanceOf(StateFormatError);
      return (e as StateFormatError).reason;
    }
    return 'decoded';
  }

  it('detects a truncation at any length', () => {
    for (let n = 0; n < good.length; n++) expect([n, reasonOf(good.subarray(0, n))]).toEqual([n, 'truncated']);
  });

  it('detects any single changed byte', () => {
    for (let i = 0; i < good.length; i++) {
      const b = Buffer.from(good);
      b[i] = (b[i] as number) ^ 0x01;
      const r = reasonOf(b);
      const want = i < 8 ? 'not_a_state_file' : i < 12 ? 'unknown_version' : null;
      if (want !== null) expect([i, r]).toEqual([i, want]);
      else expect([i, r]).not.toEqual([i, 'decoded']);
    }
  });

  it('names an unknown version, trailing bytes and a foreign file', () => {
    const v = Buffer.from(good);
    v.writeUInt32LE(2, 8);
    expect(() => decodeState(v)).toThrow(/format version 2 is not known/);
    expect(reasonOf(Buffer.concat([good, Buffer.from([0])]))).toBe('checksum');
    expect(reasonOf(Buffer.from('# a config file, not a state\n'))).toBe('not_a_state_file');
    expect(good.length).toBeGreaterThan(HEADER_BYTES);
  });
});
