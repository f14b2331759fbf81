/**
 * A metric at run time: its compiled filter, its group_by levels and its
 * tree (docs/contract.md §5). `record` is the hot path: no allocation once the path's
 * nodes exist.
 */
import type { SnapshotDepth } from '../aggregate/types.js';
import { compileModifier } from '../config/index.js';
import type { DovecotCompat, GroupByLevel, MetricDef } from '../config/types.js';
import type { TallyEvent } from '../event/types.js';
import type { FieldValue } from '../event/types.js';
import { compileFilter, type SlotResolver } from '../filter/index.js';
import type { CompiledFilter } from '../filter/types.js';
import type { DeltaWriter } from '../merge/delta.js';
import { trackedFields } from './fields.js';
import { DistPool, MetricNode } from './node.js';
import type { Distribution } from '../aggregate/index.js';
import { Quantizer } from './quantize.js';
import { sanitizeName, truncateCodePoints, utf8Length } from './names.js';
import type { ChildKey, MetricSnapshot, NodeSnapshot } from './types.js';

const NAME_BUDGET = 256;
const COMPAT23_NAME_CPS = 32;
export const OVERFLOW_NAME = '__overflow__';

const IDENTITY = (v: string): string => v;

/** One group_by level, compiled. */
class Level {
  readonly field: string;
  readonly isDuration: boolean;
  /** the field's slot of TallyEvent.vals (-1 for duration) */
  readonly slot: number;
  /** null for a discrete level */
  readonly quantizer: Quantizer | null;
  readonly modify: (v: string) => string;

  constructor(def: GroupByLevel, slots: SlotResolver) {
    this.field = def.field;
    this.isDuration = def.field === 'duration';
    this.slot = this.isDuration ? -1 : slots.slotOf(def.field);
    this.quantizer = def.kind === 'discrete' ? null : new Quantizer(def);
    this.modify = def.kind === 'discrete' && def.modifier !== null ? compileModifier(def.modifier) : IDENTITY;
  }
}

export interface MetricOptions {
  compat: DovecotCompat;
  maxSubMetrics: number;
  /** the engine's field slots: record() reads TallyEvent.vals */
  slots: SlotResolver;
}

export class Metric {
  readonly def: MetricDef;
  readonly id: number;
  readonly filter: CompiledFilter;
  private readonly levels: Level[];
  /** slot of TallyEvent.vals per distribution index 1..n (-1: duration listed again) */
  private readonly fieldSlots: Int32Array;
  private readonly nDists: number;
  private readonly compat23: boolean;
  private readonly maxSub: number;
  root: MetricNode;
  /** the distributions lent to the nodes being recorded into */
  private readonly pool: DistPool;
  subMetrics: number;
  overflowEvents: number;
  /** uid of the next node created */
  private nextUid: number;
  /** nodes created since the last delta, and their parents' uids */
  private fresh: MetricNode[];
  private freshParents: number[];

  constructor(def: MetricDef, id: number, opts: MetricOptions) {
    this.def = def;
    this.id = id;
    this.filter = compileFilter(def.filter, opts.slots);
    this.levels = def.groupBy.map((l) => new Level(l, opts.slots));
    const tracked = trackedFields(def);
    this.fieldSlots = Int32Array.from(tracked, (k) => (k === 'duration' ? -1 : opts.slots.slotOf(k)));
    this.nDists = 1 + tracked.length;
    this.compat23 = opts.compat === '2.3';
    this.maxSub = opts.maxSubMetrics;
    this.root = new MetricNode(def.name, def.name, 0, 0, 0);
    this.pool = new DistPool(this.nDists);
    this.nextUid = 1;
    this.fresh = [];
    this.freshParents = [];
    this.subMetrics = 0;
    this.overflowEvents = 0;
  }

  /**
   * Records an event that matched the filter; `seq` orders first sight
   * across shards. The common path (nodes that are not inclusive, a string
   * at each discrete level, a number at each quantized one) is this loop;
   * anything else goes on from the node it reached by `descend`, which has
   * every rule.
   */
  record(ev: TallyEvent, seq: number): void {
    let node = this.root;
    node.dirty = true;
    const levels = this.levels;
    const vals = ev.vals as unknown[];
    for (let depth = 0; ; depth++) {
      if (node.inclusive) return this.descend(node, depth, ev, seq);
      if (depth === levels.length || node.key === null || (!this.compat23 && node.budget >= NAME_BUDGET)) return this.recordNode(node, ev);
      const level = levels[depth] as Level;
      const q = level.quantizer;
      let child: MetricNode | undefined;
      if (q !== null) {
        const v = level.isDuration ? ev.duration : vals[level.slot];
        if (typeof v !== 'number') return this.recordNode(node, ev);
        child = this.bucketChild(node, q, v, seq);
      } else {
        const v = vals[level.slot];
        if (typeof v !== 'string') return this.descend(node, depth, ev, seq);
        const key = level.modify(v);
        child = node.child(key) ?? this.create(node, key, key, seq);
      }
      node.touch(child);
      node = child;
    }
  }

  private recordNode(node: MetricNode, ev: TallyEvent): void {
    let dists = node.dists;
    if (dists === null) dists = node.dists = this.pool.acquire();
    (dists[0] as { record(v: number): void }).record(ev.duration);
    const slots = this.fieldSlots;
    const vals = ev.vals as unknown[];
    for (let i = 0; i < slots.length; i++) {
      const k = slots[i] as number;
      const v = k < 0 ? ev.duration : vals[k];
      if (v == null) continue;
      (dists[i + 1] as { record(v: number): void }).record(typeof v === 'number' ? v : 0);
    }
  }

  /**
   * Records the event at the node where it stops (a leaf, or a level it has
   * no child at), and at every inclusive node on its way: the figures of the
   * nodes above are added up from their children's when read
   * (MetricNode.snapshot, and on the main thread as each delta is folded),
   * not recorded event by event.
   */
  private descend(node: MetricNode, depth: number, ev: TallyEvent, seq: number): void {
    const inclusive = node.inclusive;
    if (inclusive) this.recordNode(node, ev);
    if (depth === this.levels.length || node.key === null || (!this.compat23 && node.budget >= NAME_BUDGET)) {
      if (!inclusive) this.recordNode(node, ev);
      return;
    }
    const level = this.levels[depth] as Level;
    const v = level.isDuration ? ev.duration : ((ev.vals as unknown[])[level.slot] as FieldValue | null | undefined);
    const q = level.quantizer;
    if (q !== null) {
      if (typeof v !== 'number') {
        if (!inclusive) this.recordNode(node, ev);
        return;
      }
      const child = this.bucketChild(node, q, v, seq);
      node.touch(child);
      this.descend(child, depth + 1, ev, seq);
      return;
    }
    if (v == null) {
      if (this.compat23) {
        if (!inclusive) this.recordNode(node, ev);
        return;
      }
      this.step(node, depth, '', ev, seq);
    } else if (typeof v === 'string') {
      this.step(node, depth, level.modify(v), ev, seq);
    } else if (typeof v === 'number') {
      this.step(node, depth, level.modify === IDENTITY ? v : level.modify(String(v)), ev, seq);
    } else {
      // strlist: one child per distinct element
      if (!inclusive) {
        let distinct = 0;
        for (let i = 0; i < v.length; i++) if (v.indexOf(v[i] as string) === i) distinct++;
        if (distinct === 0) {
          this.recordNode(node, ev);
          return;
        }
        // one event in several children: counted once here, so this node and its subtree record every event from now on
        if (distinct > 1) {
          this.makeInclusive(node);
          this.recordNode(node, ev);
        }
      }
      for (let i = 0; i < v.length; i++) {
        const el = v[i] as string;
        if (v.indexOf(el) === i) this.step(node, depth, level.modify(el), ev, seq);
      }
    }
  }

  /**
   * Adds the figures of the children recorded into since the last delta
   * into `node`'s, depth first: then every node of that part of the tree
   * holds its whole figures (an inclusive node does already). Done when a
   * node becomes inclusive (its children's figures of this delta are then
   * its own too).
   */
  private rollUp(node: MetricNode): void {
    if (node.inclusive) return;
    const kids = node.dirtyKids;
    if (kids === null || kids.length === 0) return;
    let dists = node.dists;
    if (dists === null) dists = node.dists = this.pool.acquire();
    for (let k = 0; k < kids.length; k++) {
      const kid = kids[k] as MetricNode;
      this.rollUp(kid);
      const kd = kid.dists;
      if (kd !== null) for (let i = 0; i < dists.length; i++) (dists[i] as Distribution).absorb(kd[i] as Distribution);
    }
  }

  /** `node` and its subtree become inclusive, holding their whole figures from here on. */
  private makeInclusive(node: MetricNode): void {
    this.rollUp(node);
    const stack = [node];
    for (let n = stack.pop(); n !== undefined; n = stack.pop()) {
      n.inclusive = true;
      for (const c of n.children()) stack.push(c);
      if (n.overflow !== null) stack.push(n.overflow);
    }
  }

  /** The child of `node` for the bucket of `v` at a quantized level (made on first sight). */
  private bucketChild(node: MetricNode, q: Quantizer, v: number, seq: number): MetricNode {
    const idx = q.indexOf(v);
    let child = node.bucket(idx);
    if (child === undefined) {
      child = this.create(node, idx, (q.buckets[idx] as { name: string }).name, seq);
      if (child.key === idx) node.setBucket(idx, child);
    }
    return child;
  }

  private step(node: MetricNode, depth: number, key: string | number, ev: TallyEvent, seq: number): void {
    const child = node.child(key) ?? this.create(node, key, typeof key === 'number' ? String(key) : key, seq);
    node.touch(child);
    this.descend(child, depth + 1, ev, seq);
  }

  private create(parent: MetricNode, key: ChildKey, rawName: string, seq: number): MetricNode {
    if (this.subMetrics >= this.maxSub) {
      this.overflowEvents++;
      let o = parent.overflow;
      if (o === null) {
        o = new MetricNode(OVERFLOW_NAME, null, seq, parent.budget, this.nextUid++);
        o.inclusive = parent.inclusive;
        parent.setOverflow(o);
        this.born(parent, o);
      }
      return o;
    }
    let name = sanitizeName(rawName);
    if (this.compat23) name = truncateCodePoints(name, COMPAT23_NAME_CPS);
    else name = truncateCodePoints(name, NAME_BUDGET - parent.budget);
    const node = new MetricNode(name, key, seq, parent.budget + utf8Length(name), this.nextUid++);
    node.inclusive = parent.inclusive;
    parent.addChild(node);
    this.born(parent, node);
    this.subMetrics++;
    return node;
  }

  reset(): void {
    this.root.reset();
  }

  private born(parent: MetricNode, node: MetricNode): void {
    this.fresh.push(node);
    this.freshParents.push(parent.uid);
  }

  /**
   * Writes what was recorded since the last delta into `w` (the nodes created
   * since, then the figures of every node recorded into), zeroed here.
   */
  writeDelta(w: DeltaWriter): void {
    const fresh = this.fresh;
    if (fresh.length > 0) {
      for (let i = 0; i < fresh.length; i++) {
        const n = fresh[i] as MetricNode;
        w.node(this.id, n.uid, this.freshParents[i] as number, n.firstSeq, n.key, n.name);
      }
      this.fresh = [];
      this.freshParents = [];
    }
    // each node's own figures: the main thread adds them up the tree (src/merge/accumulator.ts)
    if (this.root.dirty) this.root.writeDelta(w, this.id, this.pool, false);
  }

  snapshot(depth: SnapshotDepth): MetricSnapshot {
    return { def: this.def, root: this.root.snapshot(depth, this.nDists), overflow: this.overflowEvents, subMetrics: this.subMetrics };
  }
}
