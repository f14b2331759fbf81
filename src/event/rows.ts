/**
 * The events of one msgpack batch as the on-demand decoder read them, held
 * until the whole batch has been read: a batch is counted all or nothing
 * (a framing error anywhere counts none of it), and reading it once,
 * verifying as it goes, is cheaper than checking its structure in a pass of
 * its own first. Per event: the plan's values, name, duration, hostname and
 * categories (when the plan reads them), or the byte range of an event the
 * general decoder must read. Grown once to the largest batch, then reused.
 */
import type { IngestPlan } from './plan.js';
import type { FieldValue, TallyEvent } from './types.js';

/** a row the general decoder reads (its bytes are [start, end) of the batch) */
const GENERAL = 1;

export class EventRows {
  /** rows held */
  n = 0;
  private cap = 0;
  /** plan keys per row */
  private k = 0;
  private kind: Uint8Array = new Uint8Array(0);
  private names: string[] = [];
  private durations = new Float64Array(0);
  private negative: Uint8Array = new Uint8Array(0);
  private hosts: (string | undefined)[] = [];
  /** k per row, in plan key order */
  private vals: (FieldValue | null)[] = [];
  /** categories of every row, one after another; a row's first index and count (-1: undefined) */
  private cats: string[] = [];
  private catAt: Int32Array = new Int32Array(0);
  private catN: Int32Array = new Int32Array(0);
  /** a general row's byte range */
  private start: Int32Array = new Int32Array(0);
  private end: Int32Array = new Int32Array(0);
  /** the array handed out as TallyEvent.categories by load */
  private readonly catsOut: string[] = [];

  /** Empties the table for a batch read with `plan`. */
  clear(plan: IngestPlan): void {
    this.n = 0;
    this.k = plan.keys.length;
    this.cats.length = 0;
  }

  private grow(): void {
    const cap = Math.max(64, this.cap * 2);
    const g8 = (a: Uint8Array): Uint8Array => {
      const x = new Uint8Array(cap);
      x.set(a);
      return x;
    };
    const g32 = (a: Int32Array): Int32Array => {
      const x = new Int32Array(cap);
      x.set(a);
      return x;
    };
    this.kind = g8(this.kind);
    this.negative = g8(this.negative);
    const d = new Float64Array(cap);
    d.set(this.durations);
    this.durations = d;
    this.catAt = g32(this.catAt);
    this.catN = g32(this.catN);
    this.start = g32(this.start);
    this.end = g32(this.end);
    this.cap = cap;
  }

  /** Appends the event the scanner just loaded into `ev` (its plan values from ev.vals). */
  push(ev: TallyEvent, plan: IngestPlan): void {
    const i = this.n;
    if (i === this.cap) this.grow();
    this.kind[i] = 0;
    this.names[i] = ev.name;
    this.durations[i] = ev.duration;
    this.negative[i] = ev.negative ? 1 : 0;
    this.hosts[i] = ev.hostname;
    const vals = ev.vals as (FieldValue | null)[];
    const slots = plan.slots;
    const k = this.k;
    const out = this.vals;
    const base = i * k;
    for (let j = 0; j < k; j++) out[base + j] = vals[slots[j] as number] as FieldValue | null;
    const c = ev.categories;
    if (c === undefined) this.catN[i] = -1;
    else {
      this.catAt[i] = this.cats.length;
      this.catN[i] = c.length;
      for (let j = 0; j < c.length; j++) this.cats.push(c[j] as string);
    }
    this.n = i + 1;
  }

  /** Appends an event the general decoder reads: bytes [start, end) of the batch. */
  pushGeneral(start: number, end: number): void {
    const i = this.n;
    if (i === this.cap) this.grow();
    this.kind[i] = GENERAL;
    this.start[i] = start;
    this.end[i] = end;
    this.n = i + 1;
  }

  isGeneral(i: number): boolean {
    return this.kind[i] === GENERAL;
  }

  generalStart(i: number): number {
    return this.start[i] as number;
  }

  generalEnd(i: number): number {
    return this.end[i] as number;
  }

  /**
   * Loads row `i` into `ev` (its plan slots of ev.vals, every plan slot
   * written); `fields` stays undefined, as the scanner leaves it.
   */
  load(i: number, ev: TallyEvent, plan: IngestPlan): void {
    ev.name = this.names[i] as string;
    ev.duration = this.durations[i] as number;
    ev.negative = this.negative[i] === 1;
    ev.hostname = this.hosts[i];
    ev.fields = undefined;
    const vals = ev.vals as (FieldValue | null)[];
    const slots = plan.slots;
    const k = this.k;
    const src = this.vals;
    const base = i * k;
    for (let j = 0; j < k; j++) vals[slots[j] as number] = src[base + j] as FieldValue | null;
    const n = this.catN[i] as number;
    if (n < 0) ev.categories = undefined;
    else {
      const out = this.catsOut;
      out.length = n;
      const at = this.catAt[i] as number;
      for (let j = 0; j < n; j++) out[j] = this.cats[at + j] as string;
      ev.categories = out;
    }
  }
}
