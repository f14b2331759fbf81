/**
 * Event generators shared by tests: fast-check arbitraries of mail-like
 * events, and a config whose metrics exercise every group_by kind.
 */
import fc from 'fast-check';

export const MIXED_CONFIG = `
metric imap_command {
  filter = event=imap_command_finished
  fields = net_in_bytes net_out_bytes
  group_by = cmd_name tagged_reply_state
}
metric auth {
  filter = event=auth_request_finished AND NOT success=yes
  fields = user
  group_by = user:discrete:%L{domain}
}
metric delivery {
  filter = event=mail_delivery_finished OR event=imap_command_finished
  group_by = duration:exponential:1:5:10
}
metric sizes {
  filter = event=*
  fields = size
  group_by = mailbox size:linear:100:1000:100
}
metric tags {
  filter = tags=*
  group_by = tags
}
`;

const names = ['imap_command_finished', 'auth_request_finished', 'mail_delivery_finished', 'other'];
const cmds = ['SELECT', 'FETCH', 'UID FETCH', 'LOGOUT', 'STORE'];
const states = ['OK', 'NO', 'BAD'];
const users = ['a@Example.com', 'b@example.COM', 'c@other.org', 'nodomain'];

export const eventArb = fc
  .record(
    {
      name: fc.constantFrom(...names),
      cmd_name: fc.constantFrom(...cmds),
      tagged_reply_state: fc.constantFrom(...states),
      net_in_bytes: fc.integer({ min: 0, max: 100_000 }),
      net_out_bytes: fc.integer({ min: 0, max: 5_000_000 }),
      user: fc.constantFrom(...users),
      success: fc.constantFrom('yes', 'no'),
      size: fc.oneof(fc.integer({ min: -5, max: 3000 }), fc.constant('big')),
      mailbox: fc.constantFrom('INBOX', 'Sent', 'Trash'),
      tags: fc.array(fc.constantFrom('x', 'y', 'z'), { maxLength: 3 }),
      duration: fc.oneof(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 0, max: 10_000_000 })),
    },
    { requiredKeys: ['name', 'duration'] },
  )
  .map((r) => {
    const fields: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(r)) if (k !== 'name' && k !== 'duration') fields[k] = v;
    return { event: r.name, duration: r.duration, fields };
  });

/** Splits `items` into consecutive chunks at the given cut points. */
export function splitAt<T>(items: readonly T[], cuts: readonly number[]): T[][] {
  const points = [...new Set(cuts.map((c) => c % (items.length + 1)))].sort((a, b) => a - b);
  const out: T[][] = [];
  let prev = 0;
  for (const p of points) {
    if (p > prev) out.push(items.slice(prev, p));
    prev = Math.max(prev, p);
  }
  if (prev < items.length) out.push(items.slice(prev));
  return out;
}
