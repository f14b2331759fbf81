import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile, parseConfigText } from '../../src/config/index.js';
import { expandBraces } from '../../src/config/include.js';
import { configError, tempTree, where } from './helpers.js';

const metric = (name: string) => `metric ${name} {\n  filter = event=${name}\n}\n`;

describe('!include', () => {
  it('includes globbed files in sorted order, relative to the including file', () => {
    const dir = tempTree({
      'dovecot.conf': '!include conf.d/*.conf\nmetric last {\n  filter = event=x\n}\n',
      'conf.d/20-b.conf': metric('b'),
      'conf.d/10-a.conf': metric('a'),
      'conf.d/30-c.conf.ext': metric('not_included'),
      'conf.d/.hidden.conf': metric('hidden'),
    });
    const cfg = loadConfigFile(join(dir, 'dovecot.conf'));
    expect(cfg.metrics.map((m) => m.name)).toEqual(['a', 'b', 'last']);
    expect(cfg.metrics[0]?.pos).toEqual({ file: join(dir, 'conf.d/10-a.conf'), line: 1, col: 8 });
    expect(cfg.metrics[2]?.pos).toEqual({ file: join(dir, 'dovecot.conf'), line: 2, col: 8 });
  });

  it('follows nested includes, each relative to its own file, and includes inside blocks', () => {
    const dir = tempTree({
      'main.conf': '!include sub/one.conf\n',
      'sub/one.conf': '!include deeper/two.conf\nmetric one {\n  !include one-body.inc\n}\n',
      'sub/one-body.inc': 'filter = event=one\nfields = bytes\n',
      'sub/deeper/two.conf': metric('two'),
    });
    const cfg = loadConfigFile(join(dir, 'main.conf'));
    expect(cfg.metrics.map((m) => [m.name, m.filter, m.fields])).toEqual([
      ['two', 'event=two', []],
      ['one', 'event=one', ['bytes']],
    ]);
  });

  it('supports ?, [...] and {a,b} patterns', () => {
    const dir = tempTree({
      'main.conf': '!include {x,y}/m?.conf\n!include z/[ab].conf\n',
      'x/m1.conf': metric('x1'),
      'y/m2.conf': metric('y2'),
      'y/m10.conf': metric('y10'),
      'z/a.conf': metric('za'),
      'z/c.conf': metric('zc'),
    });
    expect(loadConfigFile(join(dir, 'main.conf')).metrics.map((m) => m.name)).toEqual(['x1', 'y2', 'za']);
    expect(expandBraces('a{b,c{d,e}}f')).toEqual(['abf', 'acdf', 'acef']);
  });

  it('!include_try skips missing files and empty globs silently', () => {
    const dir = tempTree({ 'main.conf': '!include_try local.conf\n!include_try /nonexistent-tallyd/*.conf\n' + metric('m') });
    const cfg = loadConfigFile(join(dir, 'main.conf'));
    expect(cfg.metrics.map((m) => m.name)).toEqual(['m']);
    expect(cfg.warnings).toEqual([]);
  });

  it('a missing !include file is an error naming the file, at the include line', () => {
    const dir = tempTree({ 'main.conf': '# header\n!include   conf.d/missing.conf\n' });
    const e = configError(() => loadConfigFile(join(dir, 'main.conf')));
    expect(e.code).toBe('ERR_CONFIG_INCLUDE');
    expect(where(e)).toBe(`${join(dir, 'main.conf')}:2:12`);
    expect(e.detail).toBe(`Couldn't open include file ${join(dir, 'conf.d/missing.conf')}: No such file or directory`);
  });

  it('a glob matching nothing is an error for !include', () => {
    const dir = tempTree({ 'main.conf': '!include conf.d/*.conf\n' });
    const e = configError(() => loadConfigFile(join(dir, 'main.conf')));
    expect(e.code).toBe('ERR_CONFIG_INCLUDE');
    expect(e.message).toBe(`${join(dir, 'main.conf')}:1:10: !include ${join(dir, 'conf.d/*.conf')}: No matches`);
  });

  it('errors inside included files carry the included file name and line', () => {
    const dir = tempTree({
      'main.conf': '!include conf.d/*.conf\n',
      'conf.d/10-ok.conf': metric('ok'),
      'conf.d/90-stats.conf': '\n\nmetric bad {\n  filter = event=x\n  group_by = duration:exponential:1:5:3\n}\n',
    });
    const e = configError(() => loadConfigFile(join(dir, 'main.conf')));
    expect(e.code).toBe('ERR_CONFIG_GROUP_BY');
    expect(e.message).toBe(
      `${join(dir, 'conf.d/90-stats.conf')}:5:39: group_by 'exponential' aggregate function base must be one of: 2, 10 (base=3)`,
    );
  });

  it('syntax errors in nested includes name the innermost file', () => {
    const dir = tempTree({
      'main.conf': '!include a.conf\n',
      'a.conf': '!include b.conf\n',
      'b.conf': 'service x {\n',
    });
    const e = configError(() => loadConfigFile(join(dir, 'main.conf')));
    expect(e.message).toBe(`${join(dir, 'b.conf')}:1:11: Missing '}': block 'service x' is not closed`);
  });

  it('include loops are an error at the include that closes the loop', () => {
    const dir = tempTree({
      'main.conf': '!include a.conf\n',
      'a.conf': '\n!include main.conf\n',
    });
    const e = configError(() => loadConfigFile(join(dir, 'main.conf')));
    expect(e.code).toBe('ERR_CONFIG_INCLUDE');
    expect(e.message).toBe(`${join(dir, 'a.conf')}:2:10: Recursive include file: ${join(dir, 'main.conf')}`);

    const self = tempTree({ 'conf.d/x.conf': '!include *.conf\n' });
    const e2 = configError(() => loadConfigFile(join(self, 'conf.d/x.conf')));
    expect(e2.detail).toMatch(/^Recursive include file: /);
  });

  it('include loops through symlinks are found', () => {
    const dir = tempTree({ 'real.conf': '!include link.conf\n' });
    symlinkSync(join(dir, 'real.conf'), join(dir, 'link.conf'));
    expect(configError(() => loadConfigFile(join(dir, 'real.conf'))).detail).toMatch(/^Recursive include file: /);
  });

  it('a directory is not an include file', () => {
    const dir = tempTree({ 'main.conf': '!include conf.d\n', 'conf.d/x.conf': '' });
    expect(configError(() => loadConfigFile(join(dir, 'main.conf'))).detail).toBe(
      `Couldn't open include file ${join(dir, 'conf.d')}: Is a directory`,
    );
  });

  it('parseConfigText resolves includes against baseDir', () => {
    const dir = tempTree({ 'stats.conf': metric('s') });
    const cfg = parseConfigText('!include stats.conf\n', '<inline>', dir);
    expect(cfg.metrics[0]?.pos?.file).toBe(join(dir, 'stats.conf'));
  });

  it('a config file that cannot be read', () => {
    const e = configError(() => loadConfigFile('/nonexistent-tallyd/dovecot.conf'));
    expect(e.code).toBe('ERR_CONFIG_INCLUDE');
    expect(e.message).toBe(
      "/nonexistent-tallyd/dovecot.conf:1:1: Couldn't open config file /nonexistent-tallyd/dovecot.conf: No such file or directory",
    );
  });
});
