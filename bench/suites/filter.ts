/**
 * Compiled filter predicates (compileFilter(...).match) over 1000 realistic,
 * already validated events: the filters of the built-in config and a few
 * heavier ones (wildcards, numbers, categories, OR).
 */
import { newEvent, type TallyEvent } from '../../src/event/types.js';
import { loadEvent } from '../../src/event/validate.js';
import { compileFilter } from '../../src/filter/index.js';
import { mailBatches } from '../fixtures/mail.js';
import { addTask, rowsOf, type Row } from '../lib/report.js';
import { keep, newBench, type SuiteOptions } from './common.js';

const EVENTS = 1000;

export const FILTERS: readonly string[] = [
  'event=imap_command_finished',
  'event=auth_request_finished AND NOT success=yes',
  'event=imap_command_finished AND cmd_name=SELECT AND tagged_reply_state=NO',
  'event=imap_command_finished AND duration>10000',
  'category=imap AND (cmd_name=FETCH OR cmd_name="UID FETCH")',
  'event=imap* AND user="*@example1.com"',
];

export function loadedEvents(n: number, seed = 1): TallyEvent[] {
  const raw = mailBatches(1, n, seed)[0] ?? [];
  return raw.map((r) => {
    const ev = newEvent();
    if (loadEvent(r, ev) !== 0) throw new Error('fixture event rejected');
    return ev;
  });
}

export async function filterSuite(opts: SuiteOptions): Promise<Row[]> {
  const events = loadedEvents(EVENTS);
  const bench = newBench(opts, 'filter');
  for (const source of FILTERS) {
    const f = compileFilter(source);
    let hits = 0;
    for (const ev of events) if (f.match(ev)) hits++;
    addTask(
      bench,
      `${source}  [${((100 * hits) / EVENTS).toFixed(1)}% match]`,
      () => {
        let m = 0;
        for (let i = 0; i < events.length; i++) if (f.match(events[i] as TallyEvent)) m++;
        keep(m);
      },
      EVENTS,
      'events',
    );
  }
  await bench.run();
  return rowsOf('filter', bench);
}
