/**
 * Deterministic IMAP sessions, as an imap process reports them to the stats
 * process: a session event (user, session, IPs and ports) that is the parent
 * of one `imap_command_finished` event per command, with the fields
 * imap-client.c adds (Dovecot 2.3.19). Durations and sizes are log-normal;
 * the mix and the replies are those of a busy mail server.
 *
 * The same sessions feed both servers: `writer-protocol.ts` turns them into
 * stats-writer lines, `tallyd-events.ts` into what Dovecot's event exporter
 * would send, and `flatFields` gives what both compute with.
 */
import { Rng, weighted, type Weighted } from './rng.js';
import type { FlatFields } from './tally.js';

export type { Field, SourceEvent, Tv } from '../../src/dovecot/writer-encode.js';
import type { Field, SourceEvent, Tv } from '../../src/dovecot/writer-encode.js';

export interface ImapSession {
  /** which writer connection (imap process) reports it */
  connection: number;
  session: SourceEvent;
  commands: SourceEvent[];
}

export const CATEGORIES = ['imap'] as const;

const tvOf = (us: number): Tv => ({ sec: Math.floor(us / 1e6), usec: us % 1e6 });
const usOf = (tv: Tv): number => tv.sec * 1e6 + tv.usec;

/** Dovecot's duration of an event: tv_last_sent − tv_created in µs, 0 if never sent. */
export function durationOf(e: SourceEvent): number {
  return e.lastSent === null ? 0 : usOf(e.lastSent) - usOf(e.created);
}

interface Cmd {
  name: string;
  args: readonly string[];
  /** median duration µs, σ, median bytes in and out */
  dur: number;
  sigma: number;
  inB: number;
  outB: number;
  done: string;
}

const CMDS = weighted<Cmd>([
  [{ name: 'UID FETCH', args: ['1:* (FLAGS)', '4711:* (UID FLAGS)', '812 (UID RFC822.SIZE BODY.PEEK[])', '1:300 (UID FLAGS BODYSTRUCTURE)'], dur: 3000, sigma: 1.3, inB: 60, outB: 12000, done: 'Fetch completed' }, 20],
  [{ name: 'FETCH', args: ['1:* (FLAGS)', '17 (BODY.PEEK[HEADER])', '1:50 (ENVELOPE)'], dur: 1500, sigma: 1.3, inB: 40, outB: 8000, done: 'Fetch completed' }, 12],
  [{ name: 'SELECT', args: ['INBOX', '"Sent"', 'INBOX (CONDSTORE)', 'Archive/2024'], dur: 2500, sigma: 1.0, inB: 30, outB: 400, done: '[READ-WRITE] Select completed' }, 10],
  [{ name: 'NOOP', args: [''], dur: 150, sigma: 0.8, inB: 15, outB: 40, done: 'NOOP completed' }, 9],
  [{ name: 'IDLE', args: [''], dur: 120_000_000, sigma: 1.0, inB: 12, outB: 300, done: 'Idle completed' }, 8],
  [{ name: 'UID SEARCH', args: ['UNSEEN', 'SINCE 1-Jan-2024', 'UID 4000:*'], dur: 5000, sigma: 1.5, inB: 60, outB: 300, done: 'Search completed' }, 6],
  [{ name: 'UID STORE', args: ['812 +FLAGS (\\Seen)', '800:812 -FLAGS.SILENT (\\Deleted)'], dur: 900, sigma: 1.0, inB: 50, outB: 80, done: 'Store completed' }, 5],
  [{ name: 'STATUS', args: ['INBOX (MESSAGES UNSEEN)', '"Sent" (UIDNEXT)'], dur: 800, sigma: 1.0, inB: 45, outB: 90, done: 'Status completed' }, 5],
  [{ name: 'LIST', args: ['"" "*"', '"" "%"'], dur: 1200, sigma: 1.0, inB: 25, outB: 900, done: 'List completed' }, 4],
  [{ name: 'CAPABILITY', args: [''], dur: 100, sigma: 0.6, inB: 17, outB: 250, done: 'Capability completed' }, 2],
  [{ name: 'ENABLE', args: ['QRESYNC', 'CONDSTORE'], dur: 100, sigma: 0.6, inB: 25, outB: 40, done: 'Enabled' }, 2],
  [{ name: 'APPEND', args: ['"Sent" (\\Seen) {2310}', 'Drafts {1804}'], dur: 8000, sigma: 1.2, inB: 40_000, outB: 60, done: '[APPENDUID 1 4712] Append completed' }, 2],
  [{ name: 'STORE', args: ['3 +FLAGS (\\Seen)'], dur: 900, sigma: 1.0, inB: 40, outB: 80, done: 'Store completed' }, 2],
  [{ name: 'SEARCH', args: ['UNSEEN', 'ALL'], dur: 4000, sigma: 1.4, inB: 30, outB: 200, done: 'Search completed' }, 2],
  [{ name: 'UID EXPUNGE', args: ['800:812'], dur: 2000, sigma: 1.0, inB: 40, outB: 80, done: 'Expunge completed' }, 1],
  [{ name: 'EXPUNGE', args: [''], dur: 1800, sigma: 1.0, inB: 20, outB: 80, done: 'Expunge completed' }, 1],
  [{ name: 'UID MOVE', args: ['812 Trash'], dur: 4000, sigma: 1.0, inB: 60, outB: 120, done: 'Move completed' }, 1],
  [{ name: 'GETQUOTAROOT', args: ['INBOX'], dur: 600, sigma: 0.8, inB: 30, outB: 120, done: 'Getquotaroot completed' }, 1],
  [{ name: 'NAMESPACE', args: [''], dur: 100, sigma: 0.6, inB: 15, outB: 90, done: 'Namespace completed' }, 1],
]);

const LOGOUT: Cmd = { name: 'LOGOUT', args: [''], dur: 300, sigma: 0.8, inB: 12, outB: 60, done: 'Logout completed' };

const REPLY = weighted<'OK' | 'NO' | 'BAD'>([
  ['OK', 950],
  ['NO', 40],
  ['BAD', 10],
]);

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

export interface SessionOptions {
  seed: number;
  /** writer connections the sessions are spread over (round robin) */
  connections: number;
  users?: number;
}

/** An endless, deterministic stream of IMAP sessions. */
export class SessionGenerator {
  private readonly rng: Rng;
  private readonly users: number;
  private readonly connections: number;
  /** per connection: its clock, µs since the epoch */
  private readonly clocks: number[];
  private n = 0;

  constructor(opts: SessionOptions) {
    this.rng = new Rng(opts.seed);
    this.users = opts.users ?? 2000;
    this.connections = opts.connections;
    this.clocks = Array.from({ length: opts.connections }, (_, i) => 1_700_000_000_000_000 + i * 7_919_000);
  }

  /** The next session, with at most `maxCommands` (≥ 1) commands. */
  next(maxCommands: number): ImapSession {
    const rng = this.rng;
    const connection = this.n++ % this.connections;
    let clock = (this.clocks[connection] as number) + rng.logNormal(5_000, 1.5);
    const u = Math.floor(rng.float() ** 2 * this.users); // a few users are much busier than most
    let sid = '';
    for (let i = 0; i < 16; i++) sid += B64[rng.int(64)];
    const tls = rng.float() < 0.7;
    const v6 = rng.float() < 0.2;
    const session: SourceEvent = {
      name: null,
      created: tvOf(clock),
      lastSent: null,
      source: ['imap-client.c', 187],
      categories: CATEGORIES,
      fields: [
        ['user', 'S', `user${u}@example${u % 10}.com`],
        ['session', 'S', sid],
        ['local_ip', 'S', v6 ? '2001:db8::25' : '10.0.0.25'],
        ['local_port', 'I', tls ? 993 : 143],
        ['remote_ip', 'S', v6 ? `2001:db8:${(rng.int(65535) + 1).toString(16)}::${(rng.int(65535) + 1).toString(16)}` : `198.51.${rng.int(256)}.${rng.int(254) + 1}`],
        ['remote_port', 'I', 1024 + rng.int(64512)],
      ],
    };
    const wanted = Math.min(maxCommands, rng.logNormal(12, 0.9, 1, 400));
    const lower = rng.float() < 0.25; // some clients send lower-case command names
    const tagStyle = rng.int(3);
    const commands: SourceEvent[] = [];
    for (let i = 1; i <= wanted; i++) {
      const cmd = i === wanted && wanted > 1 && rng.float() < 0.85 ? LOGOUT : rng.pick(CMDS);
      const state = cmd === LOGOUT || cmd.name === 'IDLE' ? 'OK' : rng.pick(REPLY);
      const dur = rng.logNormal(cmd.dur, cmd.sigma, 20, 1_800_000_000);
      const running = Math.min(dur, rng.logNormal(Math.min(cmd.dur, 5000) * 0.6, 0.7, 5));
      const lockWait = rng.float() < 0.1 ? Math.min(dur - running, rng.logNormal(200, 1.0, 1)) : 0;
      const created = clock + rng.logNormal(3_000, 1.5);
      const lastSent = created + dur;
      clock = lastSent;
      const args = cmd.args[rng.int(cmd.args.length)] as string;
      const secs = `(${(running / 1e6).toFixed(3)} + ${(lockWait / 1e6).toFixed(3)} + ${((dur - running - lockWait) / 1e6).toFixed(3)} secs).`;
      const reply =
        state === 'OK' ? `OK ${cmd.done} ${secs}` : state === 'NO' ? `NO [SERVERBUG] Internal error occurred. Refer to server log for more information. ${secs}` : `BAD Error in IMAP command ${cmd.name}: Invalid arguments. ${secs}`;
      const tag = tagStyle === 0 ? `A${String(i).padStart(4, '0')}` : tagStyle === 1 ? String(i) : `${sid.slice(0, 4)}.${i}`;
      commands.push({
        name: 'imap_command_finished',
        created: tvOf(created),
        lastSent: tvOf(lastSent),
        source: ['imap-client.c', 1015],
        categories: CATEGORIES,
        fields: [
          ['cmd_tag', 'S', tag],
          ['cmd_name', 'S', cmd.name],
          ['cmd_input_name', 'S', lower ? cmd.name.toLowerCase() : cmd.name],
          ['cmd_args', 'S', args],
          ['cmd_human_args', 'S', args.replace(/\{\d+\}$/, '')],
          ['tagged_reply_state', 'S', state],
          ['tagged_reply', 'S', reply],
          ['last_run_time', 'T', tvOf(lastSent - rng.int(Math.min(dur, 50)))],
          ['running_usecs', 'I', running],
          ['lock_wait_usecs', 'I', lockWait],
          ['bytes_in', 'I', rng.logNormal(cmd.inB, 0.8, 6)],
          ['bytes_out', 'I', state === 'OK' ? rng.logNormal(cmd.outB, 1.5, 10, 50_000_000) : rng.logNormal(60, 0.5, 10)],
          ['reason_code', 'L', []],
        ],
      });
    }
    this.clocks[connection] = clock;
    return { connection, session, commands };
  }
}

/** A field's value as Dovecot's JSON exporter carries it (timevals as RFC 3339 text). */
export function jsonValue(f: Field): string | number | string[] {
  switch (f[1]) {
    case 'S':
    case 'I':
    case 'P':
      return f[2];
    case 'T':
      return rfc3339(f[2]);
    case 'L':
      return [...f[2]];
  }
}

/** `2023-11-14T22:13:20.123456Z` (format_args = time-rfc3339) */
export function rfc3339(tv: Tv): string {
  return `${new Date(tv.sec * 1000).toISOString().slice(0, 19)}.${String(tv.usec).padStart(6, '0')}Z`;
}

/** What the stats process computes with: the command's fields over its session's, and `duration`. */
export function flatFields(s: ImapSession, cmd: SourceEvent): FlatFields {
  const out: FlatFields = {};
  for (const f of s.session.fields) out[f[0]] = jsonValue(f);
  for (const f of cmd.fields) out[f[0]] = jsonValue(f);
  out['duration'] = durationOf(cmd);
  return out;
}
