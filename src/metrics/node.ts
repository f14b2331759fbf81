/**
 * One node of a metric tree: a metric root or a sub-metric (docs/contract.md §5.2).
 */
import { Distribution } from '../aggregate/index.js';
import type { SnapshotDepth } from '../aggregate/types.js';
import type { DeltaWriter } from '../merge/delta.js';
import type { ChildKey, NodeSnapshot } from './types.js';

export class MetricNode {
  readonly name: string;
  readonly key: ChildKey;
  readonly firstSeq: number;
  /** names this node in flat deltas: its Metric's nodes in creation order, the root 0 */
  readonly uid: number;
  /** index 0: duration; i: fields[i - 1] */
  readonly dists: Distribution[];
  /** bytes of the names of every ancestor sub-metric and this one (2.4 budget) */
  readonly budget: number;
  children: MetricNode[] | null;
  index: Map<ChildKey, MetricNode> | null;
  /** children of a quantized level by bucket index (the same nodes as `children`) */
  buckets: (MetricNode | undefined)[] | null;
  overflow: MetricNode | null;
  /** recorded into since the last delta was taken */
  dirty: boolean;
  /** children that became dirty since the last delta, in the order they did */
  dirtyKids: MetricNode[] | null;

  constructor(name: string, key: ChildKey, firstSeq: number, nDists: number, budget: number, uid = 0) {
    this.name = name;
    this.key = key;
    this.firstSeq = firstSeq;
    this.uid = uid;
    this.budget = budget;
    const d: Distribution[] = new Array(nDists);
    for (let i = 0; i < nDists; i++) d[i] = new Distribution();
    this.dists = d;
    this.children = null;
    this.index = null;
    this.buckets = null;
    this.overflow = null;
    this.dirty = false;
    this.dirtyKids = null;
  }

  /** Marks `kid` dirty (it is about to be recorded into). */
  touch(kid: MetricNode): void {
    if (kid.dirty) return;
    kid.dirty = true;
    if (this.dirtyKids === null) this.dirtyKids = [kid];
    else this.dirtyKids.push(kid);
  }

  /**
   * Writes what was recorded since the last delta into `w` (the cells of a
   * flat delta, src/merge/delta.ts), this node and then its dirty children,
   * and zeroes them: the shard ships it to the main thread.
   */
  writeDelta(w: DeltaWriter, metricId: number): void {
    const dists = this.dists;
    w.push(metricId);
    w.push(this.uid);
    w.push(dists.length);
    for (let i = 0; i < dists.length; i++) (dists[i] as Distribution).writeDelta(w);
    const kids = this.dirtyKids;
    if (kids !== null) {
      for (let i = 0; i < kids.length; i++) (kids[i] as MetricNode).writeDelta(w, metricId);
      kids.length = 0;
    }
    this.dirty = false;
  }

  child(key: ChildKey): MetricNode | undefined {
    return this.index === null ? undefined : this.index.get(key);
  }

  /** the child for bucket `i` of a quantized level */
  bucket(i: number): MetricNode | undefined {
    const b = this.buckets;
    return b === null ? undefined : b[i];
  }

  /** registers `node` (already a child) as the one for bucket `i` */
  setBucket(i: number, node: MetricNode): void {
    if (this.buckets === null) this.buckets = [];
    while (this.buckets.length < i) this.buckets.push(undefined);
    this.buckets[i] = node;
  }

  addChild(node: MetricNode): void {
    if (this.children === null) {
      this.children = [];
      this.index = new Map();
    }
    this.children.push(node);
    (this.index as Map<ChildKey, MetricNode>).set(node.key, node);
  }

  reset(): void {
    for (let i = 0; i < this.dists.length; i++) (this.dists[i] as Distribution).reset();
    if (this.children !== null) for (const c of this.children) c.reset();
    if (this.overflow !== null) this.overflow.reset();
  }

  snapshot(depth: SnapshotDepth): NodeSnapshot {
    const dists = this.dists.map((d) => d.snapshot(depth));
    const children: NodeSnapshot[] = [];
    if (this.children !== null) for (const c of this.children) children.push(c.snapshot(depth));
    if (this.overflow !== null) children.push(this.overflow.snapshot(depth));
    return { name: this.name, key: this.key, firstSeq: this.firstSeq, count: dists[0]?.count ?? 0, dists, children };
  }
}
