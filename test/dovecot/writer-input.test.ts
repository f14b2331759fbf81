/**
 * A stats-writer connection after a fatal line, on the shard side (each
 * reason itself: writer.test.ts): the main thread closes it, and until the
 * shard hears so, lines of it still in the ring are not counted.
 */
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/index.js';
import { Engine } from '../../src/engine/engine.js';

const CONFIG = `
metric cmds {
  filter = event=imap_command_finished
  group_by = user cmd_name
}
`;
const newEngine = (): Engine => new Engine(parseConfigText(CONFIG, 'x.conf'));
const enc = new TextEncoder();

const SESSION = 'BEGIN\t1\t0\t0\t1600000000\t5\tSuser\talice\n';
const CMD = (parent: number | string, extra = ''): string => `EVENT\t0\t${parent}\t0\t1600000001\t0\tl1600000001\t250\tnimap_command_finished\tScmd_name\tNOOP${extra}\n`;

describe('a stats-writer connection that broke the protocol', () => {
  it('takes nothing more until it is closed, while other connections go on; its id, reused after close, starts afresh', () => {
    const e = newEngine();
    const r = e.ingestWriter(1, enc.encode(SESSION + CMD(1) + 'HELLO\tthere\n' + CMD(1)));
    expect(r.fatal).toMatch(/^Client sent invalid input/);
    expect(r.accepted).toBe(2);
    // the main thread may still hand over lines it read before it closed the connection: not counted
    const again = e.ingestWriter(1, enc.encode(CMD(0) + CMD(0)));
    expect(again.fatal).toBeDefined();
    expect(again.accepted + again.rejected).toBe(0);
    const other = e.ingestWriter(2, enc.encode(SESSION + CMD(1)));
    expect(other.fatal).toBeUndefined();
    expect(other.accepted).toBe(2);
    e.closeWriter(1);
    expect(e.ingestWriter(1, enc.encode(SESSION + CMD(1))).accepted).toBe(2);
    const root = e.snapshot('full').metrics[0]?.root;
    expect(root?.count).toBe(3);
    // the user comes from each connection's own session
    expect(root?.children.map((c) => c.name)).toEqual(['alice']);
  });
});
