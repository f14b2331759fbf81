/**
 * The main thread's state: shard deltas merged in place (docs/contract.md §6). Scrapes
 * render from it; a reset zeroes it at one point of every shard's stream.
 * Its shape is an EngineSnapshot, so exporters read it directly.
 */
import { MergedDist } from '../aggregate/index.js';
import type { MetricDef } from '../config/types.js';
import type { EngineDelta } from '../engine/engine.js';
import { newCounters } from '../engine/engine.js';
import { trackedFields } from '../metrics/fields.js';
import { OVERFLOW_NAME } from '../metrics/metric.js';
import type { ChildKey, EngineCounters, EngineSnapshot, MetricSnapshot, NodeSnapshot } from '../metrics/types.js';
import { mergeCounters } from './merge.js';

interface AccNode extends NodeSnapshot {
  dists: MergedDist[];
  children: AccNode[];
  index: Map<ChildKey, AccNode> | undefined;
}

interface AccMetric extends MetricSnapshot {
  id: number;
  root: AccNode;
  maxSub: number;
}

function newNode(name: string, key: ChildKey, firstSeq: number, nDists: number): AccNode {
  const dists: MergedDist[] = [];
  for (let i = 0; i < nDists; i++) dists.push(new MergedDist());
  return { name, key, firstSeq, count: 0, dists, children: [], index: undefined };
}

function childOf(node: AccNode, key: ChildKey): AccNode | undefined {
  if (node.index === undefined) {
    if (node.children.length < 8) {
      for (const c of node.children) if (c.key === key) return c;
      return undefined;
    }
    node.index = new Map(node.children.map((c) => [c.key, c]));
  }
  return node.index.get(key);
}

/** Inserts by first sight (usually at the end). */
function insertChild(node: AccNode, child: AccNode): void {
  const kids = node.children;
  let i = kids.length;
  while (i > 0 && (kids[i - 1] as AccNode).firstSeq > child.firstSeq) i--;
  kids.splice(i, 0, child);
  if (node.index !== undefined) node.index.set(child.key, child);
}

function addDists(target: AccNode, src: NodeSnapshot): void {
  target.count += src.count;
  for (let i = 0; i < target.dists.length; i++) {
    const s = src.dists[i];
    if (s !== undefined) (target.dists[i] as MergedDist).add(s);
  }
  if (src.firstSeq < target.firstSeq) target.firstSeq = src.firstSeq;
}

function zero(node: AccNode): void {
  node.count = 0;
  for (let i = 0; i < node.dists.length; i++) (node.dists[i] as MergedDist).reset();
  for (const c of node.children) zero(c);
}

export class Accumulator {
  private metrics: AccMetric[];
  counters: EngineCounters;

  constructor() {
    this.metrics = [];
    this.counters = newCounters();
  }

  addMetric(id: number, def: MetricDef, maxSub: number): void {
    const root = newNode(def.name, def.name, 0, 1 + trackedFields(def).length);
    this.metrics.push({ id, def, root, overflow: 0, subMetrics: 0, maxSub });
  }

  removeMetric(id: number): void {
    this.metrics = this.metrics.filter((m) => m.id !== id);
  }

  apply(delta: EngineDelta): void {
    this.counters = mergeCounters(this.counters, delta.counters);
    for (const md of delta.metrics) {
      const m = this.metrics.find((x) => x.id === md.id);
      if (m === undefined) continue; // removed meanwhile
      m.overflow += md.overflow;
      if (md.root !== null) this.mergeNode(m, m.root, md.root);
    }
  }

  private mergeNode(m: AccMetric, target: AccNode, src: NodeSnapshot): void {
    addDists(target, src);
    if (target.key === null) return; // overflow children are leaves
    for (const c of src.children) {
      let t = childOf(target, c.key);
      if (t === undefined) {
        if (c.key !== null && m.subMetrics >= m.maxSub) {
          // the cap holds across shards too: fold the newcomer into the overflow child
          t = childOf(target, null);
          if (t === undefined) {
            t = newNode(OVERFLOW_NAME, null, c.firstSeq, target.dists.length);
            insertChild(target, t);
          }
          m.overflow += c.count;
          addDists(t, c);
          continue;
        }
        t = newNode(c.name, c.key, c.firstSeq, target.dists.length);
        insertChild(target, t);
        if (c.key !== null) m.subMetrics++;
      } else if (c.firstSeq < t.firstSeq) {
        // another shard saw it first: it moves to its first-seen place
        target.children.splice(target.children.indexOf(t), 1);
        t.firstSeq = c.firstSeq;
        insertChild(target, t);
      }
      this.mergeNode(m, t, c);
    }
  }

  /**
   * Merges a saved tree (and its overflow count) into metric `id`, as if a
   * shard had sent it: figures add, sub-metrics keep their first-seen order.
   */
  restore(id: number, root: NodeSnapshot, overflow: number): boolean {
    const m = this.metrics.find((x) => x.id === id);
    if (m === undefined) return false;
    m.overflow += overflow;
    this.mergeNode(m, m.root, root);
    return true;
  }

  /** Metric `id`'s live state (not a copy). */
  metric(id: number): MetricSnapshot | undefined {
    return this.metrics.find((x) => x.id === id);
  }

  /** Zeroes every figure; sub-metrics are kept. */
  reset(): void {
    for (const m of this.metrics) zero(m.root);
  }

  /**
   * The live state as a snapshot: render it before the next apply (it is not
   * a copy).
   */
  view(): EngineSnapshot {
    return { metrics: this.metrics, counters: this.counters };
  }
}
