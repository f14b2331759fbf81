/**
 * The state file on disk: written atomically (a temp file in the same
 * directory, fsync, rename over the old one, fsync of the directory), read
 * back whole, and a bad one moved aside, never overwritten.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

function tempPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
}

function fsyncDirSync(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Atomic write, synchronous (the final save at shutdown). */
export function writeStateFileSync(path: string, data: Buffer): void {
  const tmp = tempPath(path);
  try {
    const fd = openSync(tmp, 'w', 0o600);
    try {
      let off = 0;
      while (off < data.length) off += writeSync(fd, data, off, data.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // it was not created, or is gone already
    }
    throw e;
  }
  fsyncDirSync(dirname(path));
}

/** Atomic write, off the event loop (the periodic saves). */
export async function writeStateFile(path: string, data: Buffer): Promise<void> {
  const tmp = tempPath(path);
  try {
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** The file's bytes, or null when there is none. */
export function readStateFile(path: string): Buffer | null {
  try {
    return readFileSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** Moves a bad state file aside as PATH.bad-<timestamp>; returns the new path. */
export function moveAside(path: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[:.]/g, '-');
  let aside = `${path}.bad-${stamp}`;
  for (let i = 1; existsSync(aside); i++) aside = `${path}.bad-${stamp}-${i}`;
  renameSync(path, aside);
  return aside;
}
