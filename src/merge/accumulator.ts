/**
 * The main thread's state: shard deltas merged in place (docs/contract.md §6). Scrapes
 * render from it; a reset zeroes it at one point of every shard's stream.
 * Its shape is an EngineSnapshot, so exporters read it directly.
 */
import { MergedDist } from '../aggregate/index.js';
import type { MetricDef } from '../config/types.js';
import { newCounters } from '../engine/engine.js';
import { trackedFields } from '../metrics/fields.js';
import { OVERFLOW_NAME } from '../metrics/metric.js';
import type { ChildKey, EngineCounters, EngineSnapshot, MetricSnapshot, NodeSnapshot } from '../metrics/types.js';
import { CELL_HEADER, DIST_HEADER, payloadLength, type FlatDelta } from './delta.js';
import { mergeCounters } from './merge.js';

/**
 * A node of the main thread's tree. Deltas add to `own` (figures that count
 * at every ancestor too) or `local` (figures of this node only: an inclusive
 * node's, or a restored tree's); the figures read are worked out from them
 * when the tree is settled (`settle`, before every read):
 *
 *   up    = own + the `up` of every child      (what the parent takes in)
 *   dists = up + local                          (what exporters read)
 *
 * A leaf's `up` is its `own`, a node without local figures reads its `up`,
 * and one with nothing but local figures (a restored sub-metric not seen
 * since) reads its `local` (the same arrays): a sparse sub-metric keeps one
 * set of figures. A delta's values are added once, at the node that
 * recorded them; each level above adds them up at the next read, by ranges
 * of counts.
 */
interface AccNode extends NodeSnapshot {
  dists: MergedDist[];
  own: MergedDist[];
  local: MergedDist[] | null;
  up: MergedDist[];
  /** CLEAN; VISIT: a node below needs working out; STALE: this one too */
  dirty: number;
  children: AccNode[];
  index: Map<ChildKey, AccNode> | undefined;
  /** null at a metric's root */
  parent: AccNode | null;
}

const CLEAN = 0;
const VISIT = 1;
const STALE = 2;

function newDists(n: number): MergedDist[] {
  const d: MergedDist[] = new Array(n);
  for (let i = 0; i < n; i++) d[i] = new MergedDist();
  return d;
}

/**
 * One source's nodes of a metric (a shard worker's life, or the main
 * thread's own engine), by the uid the source's Metric gave them. A source
 * node below an `__overflow__` child (a leaf here) is counted in that
 * overflow child: `folded` says so (its figures go there, unless they are
 * an inclusive node's that its parent holds already).
 */
interface SourceTable {
  nodes: (AccNode | null)[];
  folded: boolean[];
}

interface AccMetric extends MetricSnapshot {
  id: number;
  root: AccNode;
  maxSub: number;
  tables: Map<number, SourceTable>;
}

/** the children of every node that has none yet (never written to: insertChild replaces it) */
const NO_CHILDREN: AccNode[] = [];
Object.freeze(NO_CHILDREN);

class Node implements AccNode {
  readonly name: string;
  readonly key: ChildKey;
  firstSeq: number;
  dists: MergedDist[];
  readonly own: MergedDist[];
  local: MergedDist[] | null;
  up: MergedDist[];
  dirty: number;
  children: AccNode[];
  index: Map<ChildKey, AccNode> | undefined;
  readonly parent: AccNode | null;

  constructor(name: string, key: ChildKey, firstSeq: number, nDists: number, parent: AccNode | null) {
    const own = newDists(nDists);
    this.name = name;
    this.key = key;
    this.firstSeq = firstSeq;
    this.dists = own;
    this.own = own;
    this.local = null;
    this.up = own;
    this.dirty = CLEAN;
    this.children = NO_CHILDREN;
    this.index = undefined;
    this.parent = parent;
  }

  /** its events: its duration's count (duration is recorded for every event) */
  get count(): number {
    return (this.dists[0] as MergedDist).count;
  }
}

function newNode(name: string, key: ChildKey, firstSeq: number, nDists: number, parent: AccNode | null): AccNode {
  return new Node(name, key, firstSeq, nDists, parent);
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
  if (node.children === NO_CHILDREN) {
    node.children = [];
    // no longer a leaf: what its parent takes in is worked out from here on
    node.up = newDists(node.own.length);
    if (node.local === null) node.dists = node.up;
    markStale(node);
  }
  const kids = node.children;
  let i = kids.length;
  while (i > 0 && (kids[i - 1] as AccNode).firstSeq > child.firstSeq) i--;
  kids.splice(i, 0, child);
  if (node.index !== undefined) node.index.set(child.key, child);
}

/** `node`'s local figures (made on first use; settle decides what it reads from then on). */
function localOf(node: AccNode): MergedDist[] {
  let l = node.local;
  if (l === null) l = node.local = newDists(node.own.length);
  return l;
}

/** `node`'s up and dists change: they and every ancestor's are worked out at the next settle. */
function markStale(node: AccNode): void {
  for (let x: AccNode | null = node; x !== null; x = x.parent) x.dirty = STALE;
}

/** `node`'s local figures change: its dists are worked out at the next settle (its ancestors' stay). */
function markLocal(node: AccNode): void {
  node.dirty = STALE;
  for (let x = node.parent; x !== null && x.dirty === CLEAN; x = x.parent) x.dirty = VISIT;
}

/** Adds a snapshot node's figures to `target` alone (its local figures: the snapshot's hold its children's). */
function addDists(target: AccNode, src: NodeSnapshot): void {
  const local = localOf(target);
  for (let i = 0; i < local.length; i++) {
    const s = src.dists[i];
    if (s !== undefined) (local[i] as MergedDist).add(s);
  }
  markLocal(target);
  if (src.firstSeq < target.firstSeq) target.firstSeq = src.firstSeq;
}

/** Works out the dirty part of the tree below and at `node`, children first. */
function settle(node: AccNode): void {
  if (node.dirty === CLEAN) return;
  const kids = node.children;
  for (let k = 0; k < kids.length; k++) settle(kids[k] as AccNode);
  if (node.dirty === STALE) {
    const own = node.own;
    const up = node.up;
    if (up !== own) {
      for (let j = 0; j < up.length; j++) {
        const u = up[j] as MergedDist;
        u.reset();
        u.absorb(own[j] as MergedDist);
        for (let k = 0; k < kids.length; k++) u.absorb((kids[k] as AccNode).up[j] as MergedDist);
      }
    }
    const local = node.local;
    if (local !== null) {
      let empty = true;
      for (let j = 0; j < up.length && empty; j++) if ((up[j] as MergedDist).count > 0) empty = false;
      // only local figures (a restored sub-metric not seen since): it reads them, no copy
      if (empty) node.dists = local;
      else {
        if (node.dists === local || node.dists === up || node.dists === own) node.dists = newDists(up.length);
        const d = node.dists;
        for (let j = 0; j < d.length; j++) {
          const x = d[j] as MergedDist;
          x.reset();
          x.absorb(up[j] as MergedDist);
          x.absorb(local[j] as MergedDist);
        }
      }
    }
  }
  node.dirty = CLEAN;
}

function tableOf(m: AccMetric, source: number): SourceTable {
  let t = m.tables.get(source);
  if (t === undefined) {
    t = { nodes: [m.root], folded: [false] };
    m.tables.set(source, t);
  }
  return t;
}

/** where the flat-delta dist at `p` ends */
function skipDist(c: Float64Array, p: number): number {
  if (c[p] === 0) return p + 1;
  const len = c[p + 7] as number;
  return p + 1 + DIST_HEADER + payloadLength(c[p + 6] as number, len);
}

/**
 * Adds the `nd` dists of a cell (at `p`) into `node`: into its own figures
 * with `up` (they count at every ancestor too, added up at the next
 * settle), else into its local ones; returns where the cell ends.
 */
function addCell(m: AccMetric, node: AccNode, up: boolean, c: Float64Array, p: number, nd: number): number {
  const n = c[p] as number;
  // the source's own overflow child, or a sub-metric the cap folded into ours
  if (node.key === null) m.overflow += n;
  let to: MergedDist[];
  if (up) {
    to = node.own;
    markStale(node);
  } else {
    to = localOf(node);
    markLocal(node);
  }
  let q = p;
  for (let j = 0; j < nd; j++) {
    const d = to[j];
    q = d === undefined ? skipDist(c, q) : d.addFlat(c, q);
  }
  return q;
}

function zero(node: AccNode): void {
  // (dists may be one of the others: a second reset does nothing)
  for (const d of [node.own, node.up, node.local, node.dists]) if (d !== null) for (const x of d) x.reset();
  node.dirty = CLEAN;
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
    const root = newNode(def.name, def.name, 0, 1 + trackedFields(def).length, null);
    this.metrics.push({ id, def, root, overflow: 0, subMetrics: 0, maxSub, tables: new Map() });
  }

  removeMetric(id: number): void {
    this.metrics = this.metrics.filter((m) => m.id !== id);
  }

  /**
   * Folds a flat delta (src/merge/delta.ts) from `source` (each source's
   * deltas in the order it took them; sources interleave freely).
   */
  apply(delta: FlatDelta, source: number): void {
    this.counters = mergeCounters(this.counters, delta.counters);
    const nodes = delta.nodes;
    let m: AccMetric | undefined;
    let mid = -1;
    for (let i = 0, k = 0; i < nodes.length; i += 4, k++) {
      if (nodes[i] !== mid) {
        mid = nodes[i] as number;
        m = this.byId(mid);
      }
      if (m !== undefined) {
        this.born(m, tableOf(m, source), nodes[i + 1] as number, nodes[i + 2] as number, nodes[i + 3] as number, delta.keys[k] as ChildKey, delta.names[k] ?? (delta.keys[k] as string));
      }
    }
    const c = delta.cells;
    let t: SourceTable | undefined;
    mid = -1;
    let p = 0;
    while (p < c.length) {
      if (c[p] !== mid) {
        mid = c[p] as number;
        m = this.byId(mid);
        t = m === undefined ? undefined : tableOf(m, source);
      }
      const uid = c[p + 1] as number;
      const up = c[p + 2] === 1;
      const nd = c[p + 3] as number;
      p += CELL_HEADER;
      const node = t === undefined ? null : (t.nodes[uid] ?? null);
      // unknown, or an inclusive node folded into the overflow child its parent's figures go to already
      if (node === null || (!up && (t as SourceTable).folded[uid] === true)) {
        for (let j = 0; j < nd; j++) p = skipDist(c, p);
        continue;
      }
      p = addCell(m as AccMetric, node, up, c, p, nd);
    }
  }

  /** A source is gone (its shard worker died): its tables go with it. */
  forgetSource(source: number): void {
    for (const m of this.metrics) m.tables.delete(source);
  }

  private byId(id: number): AccMetric | undefined {
    const ms = this.metrics;
    for (let i = 0; i < ms.length; i++) if ((ms[i] as AccMetric).id === id) return ms[i];
    return undefined;
  }

  /** Node `uid` of a source, created under its parent `parentUid`: matched to ours by key, or made. */
  private born(m: AccMetric, t: SourceTable, uid: number, parentUid: number, firstSeq: number, key: ChildKey, name: string): void {
    const parent = t.nodes[parentUid];
    if (parent === undefined || parent === null) {
      t.nodes[uid] = null;
      return;
    }
    // below an overflow child (a leaf, maybe a folded newcomer): counted in it
    if (parent.key === null) {
      t.nodes[uid] = parent;
      t.folded[uid] = true;
      return;
    }
    let node = childOf(parent, key);
    if (node === undefined) {
      if (key !== null && m.subMetrics >= m.maxSub) {
        // the cap holds across sources too: the newcomer is counted in the overflow child
        node = childOf(parent, null);
        if (node === undefined) {
          node = newNode(OVERFLOW_NAME, null, firstSeq, parent.dists.length, parent);
          insertChild(parent, node);
        }
      } else {
        node = newNode(name, key, firstSeq, parent.dists.length, parent);
        insertChild(parent, node);
        if (key !== null) m.subMetrics++;
      }
    } else if (firstSeq < node.firstSeq) {
      // another source saw it first: it moves to its first-seen place
      parent.children.splice(parent.children.indexOf(node), 1);
      node.firstSeq = firstSeq;
      insertChild(parent, node);
    }
    t.nodes[uid] = node;
    t.folded[uid] = false;
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
            t = newNode(OVERFLOW_NAME, null, c.firstSeq, target.dists.length, target);
            insertChild(target, t);
          }
          m.overflow += c.count;
          addDists(t, c);
          continue;
        }
        t = newNode(c.name, c.key, c.firstSeq, target.dists.length, target);
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

  /** Metric `id`'s live state (not a copy), settled. */
  metric(id: number): MetricSnapshot | undefined {
    const m = this.metrics.find((x) => x.id === id);
    if (m !== undefined) settle(m.root);
    return m;
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
    for (const m of this.metrics) settle(m.root);
    return { metrics: this.metrics, counters: this.counters };
  }
}
