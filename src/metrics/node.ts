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

/** A node's children, made with its first child (most nodes are leaves: they have none). */
class Kids {
  /** by key, in creation order (a Map iterates in insertion order: no array of them besides) */
  readonly index = new Map<ChildKey, MetricNode>();
  /** children of a quantized level by bucket index (the same nodes as `children`) */
  buckets: (MetricNode | undefined)[] | null = null;
  overflow: MetricNode | null = null;
  /** children that became dirty since the last delta, in the order they did */
  readonly dirty: MetricNode[] = [];
}

const NO_KIDS: ReadonlyMap<ChildKey, MetricNode> = new Map();

const INCLUSIVE = 1;
const DIRTY = 2;

/**
 * A node keeps what every node needs in its own fields and its children in
 * a Kids made with the first one, its two flags in one number: a sparse
 * leaf between deltas is 8 fields (about 90 B of heap with its Map entry's
 * share left out).
 */
export class MetricNode {
  readonly name: string;
  readonly key: ChildKey;
  readonly firstSeq: number;
  /** names this node in flat deltas: its Metric's nodes in creation order, the root 0 */
  readonly uid: number;
  /** index 0: duration; i: fields[i - 1]; null while the node holds no figures (DistPool) */
  dists: Distribution[] | null;
  /** bytes of the names of every ancestor sub-metric and this one (2.4 budget) */
  readonly budget: number;
  private kids: Kids | null;
  private flags: number;

  constructor(name: string, key: ChildKey, firstSeq: number, budget: number, uid = 0) {
    this.name = name;
    this.key = key;
    this.firstSeq = firstSeq;
    this.uid = uid;
    this.budget = budget;
    this.dists = null;
    this.kids = null;
    this.flags = 0;
  }

  /**
   * Whether this node's distributions hold every event that reached it.
   * Otherwise (the common case) they hold only the events that stopped here,
   * and its figures are its own and its children's together (snapshot adds
   * them up; the main thread as it folds deltas). A node becomes inclusive,
   * with all its subtree, when one event reaches several of its children (a
   * string list).
   */
  get inclusive(): boolean {
    return (this.flags & INCLUSIVE) !== 0;
  }
  set inclusive(on: boolean) {
    this.flags = on ? this.flags | INCLUSIVE : this.flags & ~INCLUSIVE;
  }

  /** on the path of an event recorded since the last delta was taken */
  get dirty(): boolean {
    return (this.flags & DIRTY) !== 0;
  }
  set dirty(on: boolean) {
    this.flags = on ? this.flags | DIRTY : this.flags & ~DIRTY;
  }

  /** the children, in creation order (none: an empty iterator) */
  children(): IterableIterator<MetricNode> {
    return (this.kids === null ? NO_KIDS : this.kids.index).values();
  }

  /** the `__overflow__` child (null: none) */
  get overflow(): MetricNode | null {
    return this.kids === null ? null : this.kids.overflow;
  }

  /** children that became dirty since the last delta (null: none ever) */
  get dirtyKids(): MetricNode[] | null {
    return this.kids === null ? null : this.kids.dirty;
  }

  private ownKids(): Kids {
    if (this.kids === null) this.kids = new Kids();
    return this.kids;
  }

  /** Marks `kid` dirty (it is about to be recorded into). */
  touch(kid: MetricNode): void {
    if ((kid.flags & DIRTY) !== 0) return;
    kid.flags |= DIRTY;
    (this.kids as Kids).dirty.push(kid);
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
    const inclusive = (this.flags & INCLUSIVE) !== 0;
    if (dists !== null) {
      w.push(metricId);
      w.push(this.uid);
      w.push(inclusive && parentInclusive ? 0 : 1);
      w.push(dists.length);
      for (let i = 0; i < dists.length; i++) (dists[i] as Distribution).writeDelta(w);
      this.dists = null;
      pool.release(dists);
    }
    const k = this.kids;
    if (k !== null) {
      const kids = k.dirty;
      for (let i = 0; i < kids.length; i++) (kids[i] as MetricNode).writeDelta(w, metricId, pool, inclusive);
      kids.length = 0;
    }
    this.flags &= ~DIRTY;
  }

  child(key: ChildKey): MetricNode | undefined {
    return this.kids === null ? undefined : this.kids.index.get(key);
  }

  /** the child for bucket `i` of a quantized level */
  bucket(i: number): MetricNode | undefined {
    const b = this.kids === null ? null : this.kids.buckets;
    return b === null ? undefined : b[i];
  }

  /** registers `node` (already a child) as the one for bucket `i` */
  setBucket(i: number, node: MetricNode): void {
    const k = this.ownKids();
    if (k.buckets === null) k.buckets = [];
    while (k.buckets.length < i) k.buckets.push(undefined);
    k.buckets[i] = node;
  }

  addChild(node: MetricNode): void {
    this.ownKids().index.set(node.key, node);
  }

  /** makes `node` this node's `__overflow__` child */
  setOverflow(node: MetricNode): void {
    this.ownKids().overflow = node;
  }

  reset(): void {
    const dists = this.dists;
    if (dists !== null) for (let i = 0; i < dists.length; i++) (dists[i] as Distribution).reset();
    const k = this.kids;
    if (k === null) return;
    for (const c of k.index.values()) c.reset();
    if (k.overflow !== null) k.overflow.reset();
  }

  /** `nDists`: its metric's distributions per node (a node holding none reads as that many empty ones) */
  snapshot(depth: SnapshotDepth, nDists: number): NodeSnapshot {
    const dists: DistSnapshot[] = [];
    for (let i = 0; i < nDists; i++) dists.push((this.dists?.[i] ?? EMPTY).snapshot(depth));
    const children: NodeSnapshot[] = [];
    const k = this.kids;
    if (k !== null) {
      for (const c of k.index.values()) children.push(c.snapshot(depth, nDists));
      if (k.overflow !== null) children.push(k.overflow.snapshot(depth, nDists));
    }
    // its own events and its children's (whole already when inclusive)
    if (!this.inclusive) for (const c of children) for (let i = 0; i < dists.length; i++) mergeInto(dists[i] as DistSnapshot, c.dists[i] as DistSnapshot);
    return { name: this.name, key: this.key, firstSeq: this.firstSeq, count: dists[0]?.count ?? 0, dists, children };
  }
}
