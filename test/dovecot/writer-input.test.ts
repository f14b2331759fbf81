/**
 * Bad stats-writer input on the shard side: each line that breaks the
 * protocol is counted under its reason and ends the connection (the lines
 * before it counted, none after it), as Dovecot's "Client sent invalid
 * input"; tallyd's own caps count what they drop and keep the connection;
 * nothing throws, whatever the bytes.
 */
import fc from 'fast-check';
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

describe('stats-writer lines that break the protocol', () => {
  it.each([
    ['writer_unknown_command', 'HELLO\tthere\n'],
    ['writer_bad_line', '\n'],
    ['writer_bad_line', 'EVENT\tx\t0\t0\t1600000000\t0\n'],
    ['writer_bad_line', 'EVENT\t0\t0\t9\t1600000000\t0\n'],
    ['writer_bad_line', 'EVENT\t0\t0\t0\t1600000000\t1000000\n'],
    ['writer_bad_line', 'EVENT\t0\t0\t0\t1600000000\t0\tIbytes_in\tmany\n'],
    ['writer_unknown_parent', CMD(7)],
    ['writer_unknown_event', 'END\t42\n'],
    ['writer_unknown_category', 'EVENT\t0\t0\t0\t1600000000\t0\tcnever_registered\n'],
    ['writer_unknown_category', 'CATEGORY\tchild\tno_parent\n'],
    ['writer_duplicate_event', SESSION],
    ['writer_negative_duration', 'EVENT\t0\t1\t0\t1600000005\t0\tl1600000001\t0\tnimap_command_finished\n'],
  ])('%s: %j is counted, closes the connection, and what came before stays counted', (reason, bad) => {
    const e = newEngine();
    const r = e.ingestWriter(1, enc.encode(SESSION + CMD(1) + bad + CMD(1)));
    expect(r.fatal).toMatch(/^Client sent invalid input/);
    // the session and the command before the bad line
    expect(r.accepted).toBe(2);
    expect(r.rejected).toBe(1);
    expect(e.counters.eventsRejected[reason]).toBe(1);
    // nothing more of this connection until it is closed; another connection is unaffected
    const again = e.ingestWriter(1, enc.encode(CMD(0)));
    expect(again.fatal).toBeDefined();
    expect(again.accepted).toBe(0);
    const other = e.ingestWriter(2, enc.encode(SESSION + CMD(1)));
    expect(other.fatal).toBeUndefined();
    expect(other.accepted).toBe(2);
    // a new connection under the closed one's id starts afresh
    e.closeWriter(1);
    expect(e.ingestWriter(1, enc.encode(SESSION + CMD(1))).accepted).toBe(2);
    expect(e.snapshot('full').metrics[0]?.root.count).toBe(3);
  });

  it('an event whose parent was never begun is counted, not guessed: no sub-metric of a user appears', () => {
    const e = newEngine();
    e.ingestWriter(1, enc.encode(CMD(99)));
    const snap = e.snapshot('full');
    expect(snap.metrics[0]?.root.count).toBe(0);
    expect(snap.counters.eventsRejected['writer_unknown_parent']).toBe(1);
  });

  it('fields come from the parent; the closed connection forgets its parents', () => {
    const e = newEngine();
    e.ingestWriter(1, enc.encode(SESSION + CMD(1)));
    const user = e.snapshot('full').metrics[0]?.root.children[0];
    expect(user?.name).toBe('alice');
    expect(user?.children[0]?.name).toBe('NOOP');
    e.closeWriter(1);
    const r = e.ingestWriter(1, enc.encode(CMD(1)));
    expect(e.counters.eventsRejected['writer_unknown_parent']).toBe(1);
    expect(r.fatal).toBeDefined();
  });

  it('never throws, whatever the bytes (random lines and mutations of good ones)', () => {
    const good = SESSION + CMD(1) + CMD(1, '\tLtags\t2\ta\tb') + 'UPDATE\t1\t0\t1600000000\t5\tSmore\tx\n' + 'END\t1\n';
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(good.length), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.uint8Array({ maxLength: 300 }), (muts, noise) => {
        const b = Buffer.from(good);
        for (const [at, v] of muts) b[at % b.length] = v;
        const e = newEngine();
        for (const chunk of [b, Buffer.from(noise), Buffer.concat([Buffer.from(noise), b])]) {
          const r = e.ingestWriter(1, chunk);
          expect(r.accepted + r.rejected).toBeGreaterThanOrEqual(0);
          e.closeWriter(1);
        }
        expect(e.snapshot('full').counters.eventsAccepted).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 400 },
    );
  });
});
