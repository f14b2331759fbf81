import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/index.js';
import { parseTree } from '../../src/config/parser.js';
import type { BlockNode, SettingNode } from '../../src/config/tree.js';
import { errorOf, where } from './helpers.js';

const metricOf = (text: string) => {
  const cfg = parseConfigText(text, 'test.conf');
  const m = cfg.metrics[0];
  if (m === undefined) throw new Error('no metric');
  return m;
};

describe('config syntax', () => {
  it('reads settings, comments and quoted values', () => {
    const cfg = parseConfigText(
      ['# a comment', '   # an indented comment', 'listen = 127.0.0.1:9901   # trailing comment', 'metric_prefix = "mail"', ''].join('\n'),
      'test.conf',
    );
    expect(cfg.settings.listen).toEqual({ host: '127.0.0.1', port: 9901 });
    expect(cfg.settings.metricPrefix).toBe('mail');
    expect(cfg.warnings).toEqual([]);
  });

  it('ends a value at a # after a blank, not at one inside a word or quotes', () => {
    const desc = (v: string) => metricOf(`metric m {\n  filter = event=a\n  description = ${v}\n}\n`).description;
    expect(desc('issue#5 of many')).toBe('issue#5 of many');
    expect(desc("Dovecot's commands # a note")).toBe("Dovecot's commands");
    expect(desc('requests # not this')).toBe('requests');
    expect(desc('"a # b"')).toBe('a # b');
    expect(desc("'single quoted'")).toBe('single quoted');
    expect(desc('"say \\"hi\\""')).toBe('say "hi"');
  });

  it('joins continuation lines with one space', () => {
    const m = metricOf(
      ['metric m {', '  filter = event=imap_command_finished AND \\', '           cmd_name=SELECT   \\', '  AND tagged_reply_state=NO', '}'].join('\n'),
    );
    expect(m.filter).toBe('event=imap_command_finished AND cmd_name=SELECT AND tagged_reply_state=NO');
  });

  it('maps positions through continuation lines', () => {
    const e = errorOf(['metric m {', '  filter = event=a', '  group_by = cmd_name \\', '     duration:bogus', '}'].join('\n'));
    expect(where(e)).toBe('test.conf:4:15');
    expect(e.detail).toBe("unknown aggregation function 'bogus' on field 'duration'");
    expect(e.message).toBe("test.conf:4:15: unknown aggregation function 'bogus' on field 'duration'");
  });

  it('accepts CRLF line ends, tabs and a byte order mark', () => {
    const cfg = parseConfigText('\ufeffmetric m {\r\n\tfilter = event=a\r\n\tfields = a\tb\r\n}\r\n', 'crlf.conf');
    expect(cfg.metrics[0]?.fields).toEqual(['a', 'b']);
  });

  it('builds a tree of blocks with names, quoted names and positions', () => {
    const tree = parseTree(
      ['namespace inbox {', '  mailbox "Sent Messages" {', '    special_use = \\Sent', '  }', '  local 1.2.3.4 { }', '}'].join('\n'),
      'tree.conf',
      '.',
    );
    const ns = tree[0] as BlockNode;
    expect(ns.type).toBe('namespace');
    expect(ns.name).toBe('inbox');
    expect(ns.namePos).toEqual({ file: 'tree.conf', line: 1, col: 11 });
    const mb = ns.children[0] as BlockNode;
    expect(mb.name).toBe('Sent Messages');
    expect(mb.namePos).toEqual({ file: 'tree.conf', line: 2, col: 12 });
    const su = mb.children[0] as SettingNode;
    expect(su.key).toBe('special_use');
    expect(su.value.text).toBe('\\Sent');
    expect(su.value.pos).toEqual({ file: 'tree.conf', line: 3, col: 19 });
    const local = ns.children[1] as BlockNode;
    expect(local.type).toBe('local');
    expect(local.name).toBe('1.2.3.4');
    expect(local.children).toEqual([]);
  });

  it('keeps `key = <file` as a file reference', () => {
    const tree = parseTree('ssl_cert = </etc/ssl/certs/dovecot.pem\n', 'x.conf', '/etc/dovecot');
    const s = tree[0] as SettingNode;
    expect(s.value.fileRef).toBe(true);
    expect(s.value.text).toBe('/etc/ssl/certs/dovecot.pem');
  });

  describe('errors', () => {
    it("an unexpected '}'", () => {
      const e = errorOf('listen = 127.0.0.1:9900\n  }\n');
      expect(e.code).toBe('ERR_CONFIG_SYNTAX');
      expect(e.message).toBe("test.conf:2:3: Unexpected '}'");
    });

    it("a block without its '}' points at its '{'", () => {
      const e = errorOf('metric m {\n  filter = event=a\n');
      expect(e.code).toBe('ERR_CONFIG_SYNTAX');
      expect(e.message).toBe("test.conf:1:10: Missing '}': block 'metric m' is not closed");
    });

    it('the innermost unclosed block is named', () => {
      const e = errorOf('service imap {\n  inet_listener imap {\n    port = 143\n}\n');
      expect(e.message).toBe("test.conf:1:14: Missing '}': block 'service imap' is not closed");
      const e2 = errorOf('service imap {\n  inet_listener imap {\n    port = 143\n');
      expect(e2.message).toBe("test.conf:2:22: Missing '}': block 'inet_listener imap' is not closed");
    });

    it("garbage after '{' or '}'", () => {
      expect(errorOf('service imap { port = 1 }\n').message).toBe("test.conf:1:16: Garbage after '{'");
      expect(errorOf('metric m {\n  filter = event=a\n}}\n').message).toBe("test.conf:3:2: Garbage after '}'");
    });

    it("a bare word expects '=' and two words expect '{'", () => {
      expect(errorOf('protocols\n').message).toBe("test.conf:1:10: Expecting '='");
      expect(errorOf('protocols imap\n').message).toBe("test.conf:1:15: Expecting '{'");
      const e = errorOf('foo bar = baz\n');
      expect(where(e)).toBe('test.conf:1:9');
      expect(e.detail).toMatch(/^Expecting '\{'/);
    });

    it('a setting without a name', () => {
      expect(errorOf('  = 5\n').message).toBe("test.conf:1:3: Missing setting name before '='");
    });
  });
});
