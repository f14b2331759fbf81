/**
 * A private Dovecot 2.3 whose only busy process is `stats`: its own temp
 * dirs, no protocols, loopback only, nothing under /etc. Fed over its
 * stats-writer socket, read with `doveadm stats dump -s` on its stats-reader
 * socket, its CPU read from /proc.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { childrenNamed, cpuSeconds, run, sleep, startChild, tail, which, type Child } from './proc.js';

export interface DovecotStats {
  readonly dir: string;
  readonly statsPid: number;
  readonly writerSocket: string;
  readonly readerSocket: string;
  cpu(): number;
  /** `doveadm stats dump` of its stats process (count and sum are what the bench reads) */
  dump(): string;
  stop(): Promise<void>;
}

/** The Debian binaries the bench needs, or the missing ones. */
export function missingDovecot(): string[] {
  const missing = ['dovecot', 'doveadm'].filter((b) => which(b) === null);
  if (!existsSync(STATS_BIN)) missing.push(STATS_BIN);
  return missing;
}

/** Debian's stats binary (the process measured) */
export const STATS_BIN = '/usr/lib/dovecot/stats';
/** what provides the binaries on Debian */
export const DEBIAN_PACKAGES = 'dovecot-core dovecot-imapd';

function conf(dir: string, metrics: string, root: boolean): string {
  const user = root ? 'default_login_user = dovenull\ndefault_internal_user = dovecot\n' : '';
  return `# private config of bench:dovecot
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
protocols =
listen = 127.0.0.1
ssl = no
${user}service stats {
}
${metrics}
`;
}

export async function startDovecot(dir: string, metrics: string): Promise<DovecotStats> {
  mkdirSync(join(dir, 'run'), { recursive: true });
  mkdirSync(join(dir, 'state'), { recursive: true });
  const confFile = join(dir, 'dovecot.conf');
  writeFileSync(confFile, conf(dir, metrics, process.getuid?.() === 0));
  const master: Child = startChild(which('dovecot') as string, ['-F', '-c', confFile], join(dir, 'master.out'), 30 * 60_000);
  const writerSocket = join(dir, 'run', 'stats-writer');
  const readerSocket = join(dir, 'run', 'stats-reader');
  const deadline = Date.now() + 20_000;
  let statsPid = 0;
  while (statsPid === 0) {
    if (master.exitedYet()) throw new Error(`dovecot exited at start\n${tail(join(dir, 'master.out'))}\n${tail(join(dir, 'dovecot.log'))}`);
    if (Date.now() > deadline) throw new Error(`no stats process within 20 s\n${tail(join(dir, 'dovecot.log'))}`);
    if (existsSync(writerSocket) && existsSync(readerSocket)) {
      // the stats process may start on its first client: a dump makes it run
      try {
        run(which('doveadm') as string, ['stats', 'dump', '-s', readerSocket], 5000);
        statsPid = childrenNamed(master.pid, 'stats')[0] ?? 0;
      } catch {
        // not ready yet
      }
    }
    if (statsPid === 0) await sleep(100);
  }
  return {
    dir,
    statsPid,
    writerSocket,
    readerSocket,
    cpu: () => cpuSeconds(statsPid),
    dump: () => run(which('doveadm') as string, ['stats', 'dump', '-s', readerSocket], 30_000),
    stop: () => master.stop(),
  };
}
