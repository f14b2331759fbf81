/**
 * One stats-writer connection on the shard side: its categories, its open
 * (BEGIN) events, and what one line does to them (stats/client-writer.c,
 * Dovecot 2.3.19; docs/dovecot-sockets.md "stats-writer").
 *
 * Every protocol error Dovecot answers by disconnecting ("Client sent
 * invalid input for <cmd>: <error>") is fatal here too: `line()` returns
 * LINE_REJECT with `fatal` set, and the connection takes no more lines
 * (`failed`). Only tallyd's own caps (MAX_*) are not fatal: what they drop
 * is counted as `writer_limit`, and the ids of dropped BEGINs are remembered
 * so that their children and END are counted too rather than taken for
 * unknown ids.
 *
 * BEGIN and EVENT both run the event through the metrics (client-writer.c
 * writer_client_run_event calls stats_metrics_event for both): the event
 * matched is the imported event with the fields and categories it sees
 * through its parents (lib-event.c event_find_field_recursive,
 * event-filter.c event_has_category): its own first, then its parent's,
 * and so on up, then (EVENT only) the global event's chain. Categories
 * bring their registered parent categories. String lists are merged over
 * the chain, as event-filter.c event_match_strlist_recursive does.
 * `duration` is the event's own tv_last_sent − tv_created (0 if never sent),
 * replacing any field of that name. UPDATE and END match nothing.
 */
import type { IngestPlan } from '../event/plan.js';
import type { FieldValue, TallyEvent } from '../event/types.js';
import {
  R_WRITER_BAD_LINE,
  R_WRITER_CONFLICT,
  R_WRITER_DUPLICATE_EVENT,
  R_WRITER_LIMIT,
  R_WRITER_LINE_TOO_LONG,
  R_WRITER_NEGATIVE_DURATION,
  R_WRITER_UNKNOWN_CATEGORY,
  R_WRITER_UNKNOWN_COMMAND,
  R_WRITER_UNKNOWN_EVENT,
  R_WRITER_UNKNOWN_PARENT,
} from '../event/validate.js';
import { durationOf, IMPORT_OK, IMPORT_UNKNOWN_CATEGORY, importError, importEvent, newWriterEvent, type WriterEvent } from './writer-event.js';
import { SCAN_SLOW } from './writer-bytes.js';
import { MAX_LINE_BYTES, parseId, parseUint, splitLine } from './writer-line.js';

/** Open events per connection (Dovecot has no cap). */
export const MAX_OPEN_EVENTS = 100_000;
/** Bytes of the lines that made the open events of a connection (BEGIN + UPDATEs). */
export const MAX_OPEN_BYTES = 64 * 1024 * 1024;
/** Ancestors of an open event (its parent chain, ended parents included). */
export const MAX_DEPTH = 32;
/** Ids of dropped BEGINs remembered; past it the connection is failed. */
export const MAX_DROPPED = 100_000;
/** Categories per connection; past it the connection is failed (a CATEGORY dropped would fail its events anyway). */
export const MAX_CATEGORIES = 10_000;

/** LOG_TYPE_COUNT in lib/failures.h: debug, info, warning, error, fatal, panic */
const LOG_TYPE_COUNT = 6;

export const LINE_OK = 0;
export const LINE_EVENT = 1;
export const LINE_REJECT = 2;
/** like LINE_EVENT, with `ev.vals` filled for the plan's keys (no fields object was built) */
export const LINE_EVENT_VALS = 3;


type Key = number | string;

export interface OpenEvent extends WriterEvent {
  /** the parent event it was created under (kept even after the parent's END, as Dovecot's reference is) */
  parent: OpenEvent | null;
  depth: number;
  bytes: number;
}

/** An open event before its import: one literal, one shape for every open event (a spread makes a slower, dictionary-like object). */
export function newOpenEvent(parent: OpenEvent | null, bytes: number): OpenEvent {
  return {
    createdSec: 0,
    createdUsec: 0,
    lastSentSec: 0,
    lastSentUsec: 0,
    name: null,
    categories: [],
    fields: new Map(),
    negative: false,
    parent,
    depth: 0,
    bytes,
  };
}

interface Category {
  parent: string | null;
  /** the category and its ancestors */
  chain: readonly string[];
}

export class WriterConnection {
  readonly categories = new Map<string, Category>();
  readonly open = new Map<Key, OpenEvent>();
  readonly dropped = new Set<Key>();
  openBytes = 0;
  /** why the connection failed (a fatal line); null while it is fine */
  failed: string | null = null;
  /** after LINE_REJECT: the reason code, a description, whether it is fatal */
  code = 0;
  detail = '';
  fatal = false;
  /** set by the engine before each batch; null: every event is loaded with all its fields */
  plan: IngestPlan | null = null;
  /** the imported EVENT (not kept) */
  private readonly scratch: WriterEvent = newWriterEvent();

  /** Handles the line `buf[start, end)` (without its LF); LINE_EVENT when `ev` was loaded. */
  line(buf: Buffer, start: number, end: number, ev: TallyEvent): number {
    if (end - start > MAX_LINE_BYTES) return this.fail(R_WRITER_LINE_TOO_LONG, '', `line of ${end - start} bytes exceeds the input buffer`);
    const args = splitLine(buf, start, end);
    if (args.length === 0) return this.fail(R_WRITER_BAD_LINE, '', 'Unexpectedly received empty line');
    const cmd = args[0] as string;
    switch (cmd) {
      case 'EVENT':
        return this.event(args, ev);
      case 'BEGIN':
        return this.begin(args, ev, end - start);
      case 'UPDATE':
        return this.update(args, end - start);
      case 'END':
        return this.end(args);
      case 'CATEGORY':
        return this.category(args);
      default:
        return this.fail(R_WRITER_UNKNOWN_COMMAND, cmd, 'Unknown command');
    }
  }

  /** The categories an event with its own `own` sees through its chains, appended to `out` (emptied first). */
  chainCategories(own: readonly string[], parent: OpenEvent | null, global: OpenEvent | null, out: string[]): void {
    out.length = 0;
    chainCats(own, parent, global, out, this.categories);
  }

  private fail(code: number, cmd: string, error: string): number {
    this.code = code;
    this.fatal = true;
    this.detail = `Client sent invalid input${cmd === '' ? '' : ` for ${cmd.length <= 16 ? cmd : `${cmd.slice(0, 16)}…`}`}: ${error}`;
    this.failed = this.detail;
    return LINE_REJECT;
  }

  private limit(error: string): number {
    this.code = R_WRITER_LIMIT;
    this.fatal = false;
    this.detail = error;
    return LINE_REJECT;
  }

  /** 0 → null, an open event, DROPPED (a BEGIN dropped at a cap), or undefined (unknown). */
  private lookup(id: Key): OpenEvent | null | typeof DROPPED | undefined {
    if (id === 0) return null;
    const e = this.open.get(id);
    if (e !== undefined) return e;
    return this.dropped.has(id) ? DROPPED : undefined;
  }

  private event(args: string[], ev: TallyEvent): number {
    const gid = parseId(args[1]);
    if (gid === null || args.length < 3) return this.fail(R_WRITER_BAD_LINE, 'EVENT', 'Invalid global event ID');
    const pid = parseId(args[2]);
    if (pid === null) return this.fail(R_WRITER_BAD_LINE, 'EVENT', 'Invalid parent ID');
    const global = this.lookup(gid);
    if (global === undefined) return this.fail(R_WRITER_UNKNOWN_PARENT, 'EVENT', 'Unknown global event ID');
    const parent = this.lookup(pid);
    if (parent === undefined) return this.fail(R_WRITER_UNKNOWN_PARENT, 'EVENT', 'Unknown parent event ID');
    const lt = parseUint(args[3]);
    if (lt < 0 || lt >= LOG_TYPE_COUNT) return this.fail(R_WRITER_BAD_LINE, 'EVENT', 'Invalid log type');
    const e = this.scratch;
    e.lastSentSec = 0;
    e.lastSentUsec = 0;
    e.name = null;
    e.negative = false;
    e.fields.clear();
    const r = importEvent(e, args, 4, this.categories);
    if (r !== IMPORT_OK) return this.fail(r === IMPORT_UNKNOWN_CATEGORY ? R_WRITER_UNKNOWN_CATEGORY : R_WRITER_BAD_LINE, 'EVENT', importError);
    if (global === DROPPED || parent === DROPPED) return this.limit('writer_limit: EVENT under a dropped event');
    return this.load(e, parent, global, ev, 'EVENT');
  }

  private begin(args: string[], ev: TallyEvent, bytes: number): number {
    const id = parseId(args[1]);
    const pid = parseId(args[2]);
    if (id === null || pid === null) return this.fail(R_WRITER_BAD_LINE, 'BEGIN', 'Invalid event IDs');
    if (this.open.has(id) || this.dropped.has(id)) return this.fail(R_WRITER_DUPLICATE_EVENT, 'BEGIN', 'Duplicate event ID');
    const parent = this.lookup(pid);
    if (parent === undefined) return this.fail(R_WRITER_UNKNOWN_PARENT, 'BEGIN', 'Unknown parent event ID');
    const lt = parseUint(args[3]);
    if (lt < 0 || lt >= LOG_TYPE_COUNT) return this.fail(R_WRITER_BAD_LINE, 'BEGIN', 'Invalid log type');
    const e = newOpenEvent(parent === DROPPED ? null : parent, bytes);
    const r = importEvent(e, args, 4, this.categories);
    if (r !== IMPORT_OK) return this.fail(r === IMPORT_UNKNOWN_CATEGORY ? R_WRITER_UNKNOWN_CATEGORY : R_WRITER_BAD_LINE, 'BEGIN', importError);
    e.depth = e.parent === null ? 0 : e.parent.depth + 1;
    let why = '';
    if (parent === DROPPED) why = 'BEGIN under a dropped event';
    else if (this.open.size >= MAX_OPEN_EVENTS) why = `more than ${MAX_OPEN_EVENTS} open events`;
    else if (this.openBytes + bytes > MAX_OPEN_BYTES) why = `open events over ${MAX_OPEN_BYTES} bytes`;
    else if (e.depth > MAX_DEPTH) why = `more than ${MAX_DEPTH} ancestors`;
    if (why !== '') {
      if (this.dropped.size >= MAX_DROPPED) return this.fail(R_WRITER_LIMIT, 'BEGIN', `${why}, and ${MAX_DROPPED} dropped`);
      this.dropped.add(id);
      return this.limit(`writer_limit: ${why}: BEGIN dropped`);
    }
    const code = this.load(e, e.parent, null, ev, 'BEGIN');
    if (code === LINE_EVENT || code === LINE_EVENT_VALS) {
      this.open.set(id, e);
      this.openBytes += bytes;
    }
    return code;
  }

  /**
   * A BEGIN the fast path read (writer-open.ts): `e` holds what importEvent
   * would have made of the line. Opened and loaded as begin() does, or
   * SCAN_SLOW with nothing changed when a cap or the duration sends it the
   * general way.
   */
  openParsed(id: Key, e: OpenEvent, ev: TallyEvent): number {
    e.depth = e.parent === null ? 0 : e.parent.depth + 1;
    if (this.open.size >= MAX_OPEN_EVENTS || this.openBytes + e.bytes > MAX_OPEN_BYTES || e.depth > MAX_DEPTH || durationOf(e) < 0) return SCAN_SLOW;
    const code = this.load(e, e.parent, null, ev, 'BEGIN');
    this.open.set(id, e);
    this.openBytes += e.bytes;
    return code;
  }

  /** An END the fast path read: true when `id` was open (now closed); false, nothing changed, otherwise. */
  closeOpen(id: Key): boolean {
    const e = this.open.get(id);
    if (e === undefined) return false;
    this.forget(id, e);
    return true;
  }

  private update(args: string[], bytes: number): number {
    const id = parseId(args[1]);
    const pid = parseId(args[2]);
    if (id === null || pid === null) return this.fail(R_WRITER_BAD_LINE, 'UPDATE', 'Invalid event IDs');
    const e = this.open.get(id);
    if (e === undefined) {
      if (this.dropped.has(id)) return this.limit('writer_limit: UPDATE of a dropped event');
      return this.fail(R_WRITER_UNKNOWN_EVENT, 'UPDATE', 'Unknown event ID');
    }
    // an unknown parent id is no parent (client-writer.c compares the pointers)
    const parent = pid === 0 ? null : (this.open.get(pid) ?? null);
    if (e.parent !== parent) return this.fail(R_WRITER_CONFLICT, 'UPDATE', 'Event unexpectedly changed parent');
    // no log type on UPDATE (stats-client.c writes it only for BEGIN and EVENT)
    const r = importEvent(e, args, 3, this.categories);
    if (r !== IMPORT_OK) return this.fail(r === IMPORT_UNKNOWN_CATEGORY ? R_WRITER_UNKNOWN_CATEGORY : R_WRITER_BAD_LINE, 'UPDATE', importError);
    e.bytes += bytes;
    this.openBytes += bytes;
    if (this.openBytes > MAX_OPEN_BYTES) {
      this.forget(id, e);
      if (this.dropped.size >= MAX_DROPPED) return this.fail(R_WRITER_LIMIT, 'UPDATE', 'open events over the byte cap, and too many dropped');
      this.dropped.add(id);
      return this.limit(`writer_limit: open events over ${MAX_OPEN_BYTES} bytes: updated event dropped`);
    }
    return LINE_OK;
  }

  private end(args: string[]): number {
    const id = parseId(args[1]);
    if (id === null) return this.fail(R_WRITER_BAD_LINE, 'END', 'Invalid event ID');
    const e = this.open.get(id);
    if (e !== undefined) this.forget(id, e);
    else if (!this.dropped.delete(id)) return this.fail(R_WRITER_UNKNOWN_EVENT, 'END', 'Unknown event ID');
    return LINE_OK;
  }

  private forget(id: Key, e: OpenEvent): void {
    this.open.delete(id);
    this.openBytes -= e.bytes;
  }

  private category(args: string[]): number {
    const name = args[1];
    if (name === undefined) return this.fail(R_WRITER_BAD_LINE, 'CATEGORY', 'Missing category name');
    const parentName = args[2];
    let parent: Category | null = null;
    if (parentName !== undefined) {
      parent = this.categories.get(parentName) ?? null;
      if (parent === null) return this.fail(R_WRITER_UNKNOWN_CATEGORY, 'CATEGORY', 'Unknown parent category');
    }
    const known = this.categories.get(name);
    if (known !== undefined) {
      if (known.parent === (parentName ?? null)) return LINE_OK; // a duplicate: ignored
      return this.fail(R_WRITER_CONFLICT, 'CATEGORY', `Category parent '${known.parent ?? ''}' changed to '${parentName ?? ''}'`);
    }
    if (this.categories.size >= MAX_CATEGORIES) return this.fail(R_WRITER_LIMIT, 'CATEGORY', `more than ${MAX_CATEGORIES} categories`);
    this.categories.set(name, { parent: parentName ?? null, chain: parent === null ? [name] : [name, ...parent.chain] });
    return LINE_OK;
  }

  /** Loads the event `e` as the metrics see it into `ev` (see the file comment). */
  private load(e: WriterEvent, parent: OpenEvent | null, global: OpenEvent | null, ev: TallyEvent, cmd: string): number {
    const duration = durationOf(e);
    if (duration < 0) return this.fail(R_WRITER_NEGATIVE_DURATION, cmd, 'tv_last_sent is before tv_created');
    const plan = this.plan;
    if (plan !== null && !chainNegative(e, parent, global)) return loadVals(plan, e, parent, global, ev, duration, this.categories);
    const fields = Object.create(null) as Record<string, unknown>;
    const cats: string[] = [];
    flat.negative = false;
    flat.merging = null;
    addOwn(e, fields, cats, this.categories);
    for (let p = parent; p !== null; p = p.parent) addOwn(p, fields, cats, this.categories);
    for (let g = global; g !== null; g = g.parent) addOwn(g, fields, cats, this.categories);
    fields.duration = duration;
    ev.name = e.name ?? '';
    ev.hostname = undefined; // a writer event has none (docs/dovecot-sockets.md)
    ev.categories = cats.length === 0 ? undefined : cats;
    ev.fields = fields;
    ev.duration = duration;
    ev.negative = flat.negative;
    return LINE_EVENT;
  }
}

const DROPPED = Symbol('dropped');

/** Whether the event or an event of its chains has had a negative number field (then it is loaded the slow way). */
export function chainNegative(e: WriterEvent | null, parent: OpenEvent | null, global: OpenEvent | null): boolean {
  if (e !== null && e.negative) return true;
  for (let p = parent; p !== null; p = p.parent) if (p.negative) return true;
  for (let g = global; g !== null; g = g.parent) if (g.negative) return true;
  return false;
}

/**
 * The value of `key` as an event sees it through its chains (what addOwn
 * gives, for one key), after its own value `own` (undefined: none): the
 * nearest event's value; a string list merged with the lists further up,
 * up to a value of another type.
 */
export function chainValue(key: string, parent: OpenEvent | null, global: OpenEvent | null, own?: FieldValue): FieldValue | null {
  let list: string[] | null = null;
  if (own !== undefined) {
    if (!Array.isArray(own)) return own;
    list = (own as string[]).slice();
  }
  for (let pass = 0; pass < 2; pass++) {
    for (let p = pass === 0 ? parent : global; p !== null; p = p.parent) {
      const v = p.fields.get(key);
      if (v === undefined) continue;
      if (list === null) {
        if (!Array.isArray(v)) return v;
        list = (v as string[]).slice();
      } else {
        if (!Array.isArray(v)) return list;
        const more = v as string[];
        for (let i = 0; i < more.length; i++) if (!list.includes(more[i] as string)) list.push(more[i] as string);
      }
    }
  }
  return list;
}

/** load() for the metrics' keys only: ev.vals straight from the chain, no fields object (none of them negative). */
function loadVals(
  plan: IngestPlan,
  e: WriterEvent,
  parent: OpenEvent | null,
  global: OpenEvent | null,
  ev: TallyEvent,
  duration: number,
  registry: ReadonlyMap<string, Category>,
): number {
  const vals = ev.vals as (FieldValue | null)[];
  const { keys, slots } = plan;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    vals[slots[i] as number] = k === 'duration' ? duration : chainValue(k, parent, global, e.fields.get(k));
  }
  let cats: string[] | undefined;
  if (plan.categories) {
    const c: string[] = [];
    chainCats(e.categories, parent, global, c, registry);
    if (c.length > 0) cats = c;
  }
  ev.name = e.name ?? '';
  ev.hostname = undefined;
  ev.categories = cats;
  ev.fields = undefined;
  ev.duration = duration;
  ev.negative = false;
  return LINE_EVENT_VALS;
}

/** `own` categories, then those of the chains, each with its registered ancestors, once each. */
function chainCats(own: readonly string[], parent: OpenEvent | null, global: OpenEvent | null, cats: string[], registry: ReadonlyMap<string, Category>): void {
  addCats(own, cats, registry);
  for (let p = parent; p !== null; p = p.parent) addCats(p.categories, cats, registry);
  for (let g = global; g !== null; g = g.parent) addCats(g.categories, cats, registry);
}

function addCats(own: readonly string[], cats: string[], registry: ReadonlyMap<string, Category>): void {
  for (let i = 0; i < own.length; i++) {
    const chain = registry.get(own[i] as string)?.chain;
    if (chain === undefined) continue;
    for (let j = 0; j < chain.length; j++) if (!cats.includes(chain[j] as string)) cats.push(chain[j] as string);
  }
}

/** State of one flattening (module-level: no allocation per event for it). */
const flat: { negative: boolean; merging: Set<string> | null } = { negative: false, merging: null };

/** One event of the chain: its fields where the nearer events have none, its categories with their ancestors. */
function addOwn(e: WriterEvent, fields: Record<string, unknown>, cats: string[], registry: ReadonlyMap<string, Category>): void {
  for (const [k, v] of e.fields) {
    const have = fields[k];
    if (have === undefined) {
      if (Array.isArray(v)) {
        fields[k] = v.slice();
        (flat.merging ??= new Set()).add(k);
      } else {
        if (typeof v === 'number' && v < 0) flat.negative = true;
        fields[k] = v;
      }
    } else if (flat.merging !== null && flat.merging.has(k)) {
      // a string list sees its parents' lists too, up to a field of another type
      if (Array.isArray(v)) {
        const list = have as string[];
        for (let i = 0; i < v.length; i++) if (!list.includes(v[i] as string)) list.push(v[i] as string);
      } else flat.merging.delete(k);
    }
  }
  const own = e.categories;
  for (let i = 0; i < own.length; i++) {
    const chain = registry.get(own[i] as string)?.chain;
    if (chain === undefined) continue;
    for (let j = 0; j < chain.length; j++) if (!cats.includes(chain[j] as string)) cats.push(chain[j] as string);
  }
}
