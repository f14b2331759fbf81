/**
 * Deterministic, realistic mail events for `tallyd load`: what a busy Dovecot
 * sends (IMAP commands, authentications, deliveries), generated from a seed,
 * with log-normal durations and sizes.
 */

/** sfc32, seeded through splitmix32: fast, good enough, the same on every platform. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare: number | null = null;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** uniform in [0, 1) */
  float(): number {
    return this.u32() / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** standard normal (Box–Muller, the second value kept for the next call) */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.float();
    const v = this.float();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** log-normal with the given median and shape σ, rounded, clamped to [min, max] */
  logNormal(median: number, sigma: number, min = 1, max = Number.MAX_SAFE_INTEGER): number {
    return Math.min(max, Math.max(min, Math.round(median * Math.exp(sigma * this.normal()))));
  }

  pick<T>(table: Weighted<T>): T {
    const x = this.float() * table.total;
    const { cum, items } = table;
    let lo = 0;
    let hi = cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((cum[mid] as number) > x) hi = mid;
      else lo = mid + 1;
    }
    return items[lo] as T;
  }
}

export interface Weighted<T> {
  items: T[];
  cum: number[];
  total: number;
}

export function weighted<T>(pairs: [T, number][]): Weighted<T> {
  let total = 0;
  const cum: number[] = [];
  for (const [, w] of pairs) {
    total += w;
    cum.push(total);
  }
  return { items: pairs.map(([v]) => v), cum, total };
}

interface ImapCmd {
  name: string;
  /** median duration, µs */
  dur: number;
  sigma: number;
  /** median bytes in / out */
  inB: number;
  outB: number;
}

const IMAP = weighted<ImapCmd>([
  [{ name: 'UID FETCH', dur: 3000, sigma: 1.3, inB: 60, outB: 12000 }, 20],
  [{ name: 'FETCH', dur: 1500, sigma: 1.3, inB: 40, outB: 8000 }, 14],
  [{ name: 'IDLE', dur: 120_000_000, sigma: 1.0, inB: 12, outB: 300 }, 10],
  [{ name: 'SELECT', dur: 2500, sigma: 1.0, inB: 30, outB: 400 }, 10],
  [{ name: 'NOOP', dur: 150, sigma: 0.8, inB: 15, outB: 40 }, 9],
  [{ name: 'UID SEARCH', dur: 5000, sigma: 1.5, inB: 60, outB: 300 }, 6],
  [{ name: 'UID STORE', dur: 900, sigma: 1.0, inB: 50, outB: 80 }, 6],
  [{ name: 'STATUS', dur: 800, sigma: 1.0, inB: 45, outB: 90 }, 5],
  [{ name: 'LIST', dur: 1200, sigma: 1.0, inB: 25, outB: 900 }, 4],
  [{ name: 'LOGIN', dur: 20_000, sigma: 0.7, inB: 50, outB: 200 }, 3],
  [{ name: 'LOGOUT', dur: 300, sigma: 0.8, inB: 12, outB: 60 }, 3],
  [{ name: 'CAPABILITY', dur: 100, sigma: 0.6, inB: 17, outB: 250 }, 2],
  [{ name: 'ENABLE', dur: 100, sigma: 0.6, inB: 25, outB: 40 }, 2],
  [{ name: 'APPEND', dur: 8000, sigma: 1.2, inB: 40_000, outB: 60 }, 2],
  [{ name: 'UID EXPUNGE', dur: 2000, sigma: 1.0, inB: 40, outB: 80 }, 1],
  [{ name: 'EXPUNGE', dur: 1800, sigma: 1.0, inB: 20, outB: 80 }, 1],
  [{ name: 'UID MOVE', dur: 4000, sigma: 1.0, inB: 60, outB: 120 }, 1],
  [{ name: 'GETQUOTAROOT', dur: 600, sigma: 0.8, inB: 30, outB: 120 }, 1],
]);

const REPLY = weighted<string>([
  ['OK', 950],
  ['NO', 40],
  ['BAD', 10],
]);

const SERVICE = weighted<string>([
  ['imap', 70],
  ['pop3', 10],
  ['submission', 12],
  ['managesieve', 3],
  ['doveadm', 5],
]);

const MECH = weighted<string>([
  ['PLAIN', 80],
  ['LOGIN', 15],
  ['XOAUTH2', 5],
]);

const AUTH_ERRORS = weighted<string>([
  ['Password mismatch', 70],
  ['Unknown user', 25],
  ['Account is disabled', 5],
]);

const KIND = weighted<'imap' | 'auth' | 'delivery'>([
  ['imap', 80],
  ['auth', 10],
  ['delivery', 10],
]);

export interface GenOptions {
  seed: number;
  /** distinct users (default 1000), spread over domains */
  users?: number;
  /** distinct hostnames the events come from (default 4) */
  hosts?: number;
}

export type MailEvent = {
  event: string;
  hostname: string;
  categories: string[];
  duration: number;
  fields: Record<string, string | number>;
};

/** An endless deterministic stream of mail events. */
export class MailEventGenerator {
  private readonly rng: Rng;
  private readonly users: string[];
  private readonly hosts: string[];

  constructor(opts: GenOptions) {
    this.rng = new Rng(opts.seed);
    const nUsers = opts.users ?? 1000;
    const domains = Math.max(1, Math.min(20, Math.ceil(nUsers / 100)));
    this.users = Array.from({ length: nUsers }, (_, i) => `user${i}@example${i % domains}.com`);
    this.hosts = Array.from({ length: opts.hosts ?? 4 }, (_, i) => `mail${i + 1}.example.net`);
  }

  /** a user, skewed: a few users are much busier than most */
  private user(): string {
    const r = this.rng.float();
    return this.users[Math.floor(r * r * this.users.length)] as string;
  }

  next(): MailEvent {
    const rng = this.rng;
    const hostname = this.hosts[rng.int(this.hosts.length)] as string;
    const kind = rng.pick(KIND);
    if (kind === 'imap') {
      const cmd = rng.pick(IMAP);
      const state = cmd.name === 'IDLE' || cmd.name === 'LOGOUT' ? 'OK' : rng.pick(REPLY);
      return {
        event: 'imap_command_finished',
        hostname,
        categories: ['imap'],
        duration: rng.logNormal(cmd.dur, cmd.sigma),
        fields: {
          cmd_name: cmd.name,
          tagged_reply_state: state,
          net_in_bytes: rng.logNormal(cmd.inB, 0.8, 6),
          net_out_bytes: state === 'OK' ? rng.logNormal(cmd.outB, 1.5, 10) : rng.logNormal(40, 0.5, 10),
          user: this.user(),
        },
      };
    }
    if (kind === 'auth') {
      const ok = rng.float() < 0.93;
      const fields: Record<string, string | number> = {
        user: this.user(),
        service: rng.pick(SERVICE),
        mechanism: rng.pick(MECH),
        transport: 'trusted',
      };
      if (ok) fields.success = 'yes';
      else fields.error = rng.pick(AUTH_ERRORS);
      return {
        event: 'auth_request_finished',
        hostname,
        categories: ['auth'],
        duration: rng.logNormal(ok ? 5000 : 2_000_000, ok ? 0.9 : 0.3),
        fields,
      };
    }
    const failed = rng.float() < 0.01;
    const user = this.user();
    const fields: Record<string, string | number> = {
      user,
      rcpt_to: user,
      message_size: rng.logNormal(25_000, 1.4, 300),
    };
    if (failed) fields.error = 'Quota exceeded (mailbox for user is full)';
    return {
      event: 'mail_delivery_finished',
      hostname,
      categories: ['lmtp', 'mail'],
      duration: rng.logNormal(15_000, 1.0),
      fields,
    };
  }

  batch(n: number): MailEvent[] {
    const out: MailEvent[] = new Array<MailEvent>(n);
    for (let i = 0; i < n; i++) out[i] = this.next();
    return out;
  }
}
