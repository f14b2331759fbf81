/**
 * What `npm pack` ships, and that the packed package works installed
 * globally (its bin on PATH-less prefix, its dependencies from the registry
 * or the npm cache); the systemd unit passes `systemd-analyze verify`
 * against that installed bin when systemd-analyze is there.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'tallyd-pack-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const npm = (args: string[], cwd = ROOT): string => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });

describe('npm pack', () => {
  it('ships the bin, the compiled server and the LICENSE, and no bench, script, test or TypeScript source', () => {
    if (!existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` first');
    const [info] = JSON.parse(npm(['pack', '--dry-run', '--json', '--ignore-scripts'])) as [{ files: { path: string }[] }];
    const files = info.files.map((f) => f.path);
    for (const f of ['bin/tallyd.js', 'dist/src/cli/main.js', 'dist/src/server/start.js', 'dist/native-free/server.js', 'LICENSE', 'README.md', 'package.json']) {
      expect(files, f).toContain(f);
    }
    const stray = files.filter((f) => /^(dist\/(bench|scripts|test)\/|bench\/|scripts\/|test\/|src\/|native-free\/)/.test(f) || f.endsWith('.ts') || f.endsWith('.tsbuildinfo'));
    expect(stray).toEqual([]);
    expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
    expect((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { license: string }).license).toBe('MIT');
  });

  it('installs globally from the tarball, and its bin runs --version and check-config', { timeout: 180_000 }, () => {
    npm(['pack', '--ignore-scripts', '--pack-destination', dir]);
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    const tgz = join(dir, `tallyd-${version}.tgz`);
    const prefix = join(dir, 'prefix');
    npm(['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tgz], dir);
    const bin = join(prefix, 'bin', 'tallyd');
    const v = spawnSync(bin, ['--version'], { cwd: dir, encoding: 'utf8' });
    expect(v.status, v.stderr).toBe(0);
    expect(v.stdout).toBe(`tallyd ${version}\n`);
    const conf = join(dir, 'tallyd.conf');
    writeFileSync(conf, 'metric imap_command {\n  filter = event=imap_command_finished\n  group_by = cmd_name\n}\n');
    const c = spawnSync(bin, ['check-config', conf], { cwd: dir, encoding: 'utf8' });
    expect(c.status, c.stderr).toBe(0);
    expect(c.stdout).toContain('metric imap_command {');

    // the unit, pointed at this bin
    const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
    if (analyze.status !== 0) return;
    const unit = join(dir, 'tallyd.service');
    writeFileSync(unit, readFileSync(join(ROOT, 'docs', 'packaging', 'tallyd.service'), 'utf8').replaceAll('/usr/local/bin/tallyd', bin));
    const verify = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
    expect(verify.status, verify.stderr).toBe(0);
    expect(verify.stderr).toBe('');
  });

  it('the unit reloads with SIGHUP and keeps sockets and state where the docs say', () => {
    const unit = readFileSync(join(ROOT, 'docs', 'packaging', 'tallyd.service'), 'utf8');
    for (const line of ['User=tallyd', 'RuntimeDirectory=tallyd', 'StateDirectory=tallyd', 'ExecReload=/bin/kill -HUP $MAINPID', 'state_file            = /var/lib/tallyd/state']) {
      expect(unit).toContain(line);
    }
  });
});
