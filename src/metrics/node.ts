/**
 * One node of a metric tree: a metric root or a sub-metric (docs/contract.md §5.2).
 */
import { Distribution, mergeInto } from '../aggregate/index.js';
import type { DistSnapshot, SnapshotDepth } from '../aggregate/types.js';
import type { DeltaWriter } from '../merge/delta.js';
import type { ChildKey, NodeSnapshot } from './types.js';

/** Returned sets of distributions kept for reuse, at most (the rest are left to the garbage collector). */
const POOL_MAX = 1024;

/**
 * The distributions of a metric's nodes, lent to a node while it holds
 * figures (from its first record after a delta until that delta is
 * written): a node that is not being recorded into holds none, so a sparse
 * sub-metric's figures live once, on the main thread, between deltas.
 */
export class DistPool {
  private readonly free: Distribution[][] = [];

  constructor(private readonly nDists: number) {}

  acquire(): Distribution[] {
    const d = this.free.pop();
    if (d !== undefined) return d;
    const out: Distribution[] = new Array(this.nDists);
    for (let i = 0; i < this.nDists; i++) out[i] = new Distribution();
    return out;
  }

  /** `d` back, every figure zero (written by writeDelta) */
  release(d: Distribution[]): void {
    if (this.free.length < POOL_MAX) this.free.push(d);
  }
}

/** read as the figures of a node that holds none */
const EMPTY = new Distribution();

export class MetricNode {
  readonly name: string;
  readonly key: ChildKey;
  readonly firstSeq: number;
  /** names this node in flat deltas: its Metric's nodes in creation order, the root 0 */
  readonly uid: number;
  /** index 0: duration; i: fields[i - 1]; null while the node holds no figures (DistPool) */
  dists: Distribution[] | null;
  readonly nDists: number;
  /** bytes of the names of every ancestor sub-metric and this one (2.4 budget) */
  readonly budget: number;
  children: MetricNode[] | null;
  index: Map<ChildKey, MetricNode> | null;
  /** children of a quantized level by bucket index (the same nodes as `children`) */
  buckets: (MetricNode | undefined)[] | null;
  overflow: MetricNode | null;
  /**
   * Whether this node's distributions hold every event that reached it.
   * Otherwise (the common case) they hold only the events that stopped here,
   * and its figures are its own and its children's together (Metric.rollUp;
   * snapshot adds them up). A node becomes inclusive, with all its subtree,
   * when one event reaches several of its children (a string list).
   */
  inclusive: boolean;
  /** on the path of an event recorded since the last delta was taken */
  dirty: boolean;
  /** children that became dirty since the last delta, in the order they did */
  dirtyKids: MetricNode[] | null;

  constructor(name: string, key: ChildKey, firstSeq: number, nDists: number, budget: number, uid = 0) {
    this.name = name;
    this.key = key;
    this.firstSeq = firstSeq;
    this.uid = uid;
    this.budget = budget;
    this.nDists = nDists;
    this.dists = null;
    this.children = null;
    this.index = null;
    this.buckets = null;
    this.overflow = null;
    this.inclusive = false;
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
   * and zeroes them: the shard ships it to the main thread. A node's cell
   * holds its own figures only (the events recorded at it), flagged `up`
   * when they are to be added to its ancestors' too: unless it and its
   * parent are both inclusive (then the parent holds them already). A node
   * that recorded nothing writes no cell. The zeroed distributions go back
   * to `pool`.
   */
  writeDelta(w: DeltaWriter, metricId: number, pool: DistPool, parentInclusive: boolean): void {
    const dists = this.dists;
    if (dists !== null) {
      w.push(metricId);
      w.push(this.uid);
      w.push(this.inclusive && parentInclusive ? 0 : 1);
      w.push(this.nDists);
      for (let i = 0; i < dists.length; i++) (dists[i] as Distribution).writeDelta(w);
      this.dists = null;
      pool.release(dists);
    }
    const kids = this.dirtyKids;
    if (kids !== null) {
      for (let i = 0; i < kids.length; i++) (kids[i] as MetricNode).writeDelta(w, metricId, pool, this.inclusive);
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
    const dists = this.dists;
    if (dists !== null) for (let i = 0; i < dists.length; i++) (dists[i] as Distribution).reset();
    if (this.children !== null) for (const c of this.children) c.reset();
    if (this.overflow !== null) this.overflow.reset();
  }

  snapshot(depth: SnapshotDepth): NodeSnapshot {
    const dists: DistSnapshot[] = [];
    for (let i = 0; i < this.nDists; i++) dists.push((this.dists?.[i] ?? EMPTY).snapshot(depth));
    const children: NodeSnapshot[] = [];
    if (this.children !== null) for (const c of this.children) children.push(c.snapshot(depth));
    if (this.overflow !== null) children.push(this.overflow.snapshot(depth));
    // its own events and its children's (whole already when inclusive)
    if (!this.inclusive) for (const c of children) for (let i = 0; i < dists.length; i++) mergeInto(dists[i] as DistSnapshot, c.dists[i] as DistSnapshot);
    return { name: this.name, key: this.key, firstSeq: this.firstSeq, count: dists[0]?.count ?? 0, dists, children };
  }
}
