import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors.js';
import { tempTree } from './helpers.js';

const FRAGMENTS = [
  'metric', 'm', 'imap_command', '{', '}', '{ }', '=', ' ', '  ', '\t', '\n', '\r\n', '\\', '\\\n', '#', ' #', '"', "'", '<',
  'filter', 'fields', 'group_by', 'description', 'exporter', 'event_exporter log', 'method', 'exponential', 'linear',
  'discrete', 'modifier', 'min_magnitude', 'max_magnitude', 'base', 'min', 'max', 'step', '1', '0', '-1', '10', '19', '2',
  ':', 'duration:exponential:1:5:10', 'size:linear:0:100:7', 'user:discrete:%L{domain}', '%{value | lower}', '%',
  'event=imap_command_finished', 'AND', 'OR', 'NOT', '(', ')', '>', 'x=', '@', 'listen', '127.0.0.1:9900', '[::1]:1',
  'shards', 'ring_bytes', '16M', 'trusted_networks', '10.0.0.0/8', 'metric_prefix', 'dovecot_compat', '2.3',
  '!include', '!include_try', 'ok.conf', 'loop.conf', '*.conf', 'missing.conf', '{a,b}.conf', '[', ']', '?',
  'service imap {', 'passdb {', 'local 1.2.3.4 {', '$var', '\u00e9', '\u2026', '\0',
];

describe('garbage config text', () => {
  const dir = tempTree({
    'ok.conf': 'metric from_include {\n  filter = event=x\n}\n',
    'loop.conf': '!include loop.conf\n',
    'a.conf': 'shards = 2\n',
  });

  it('never throws anything but ConfigError and never hangs', () => {
    const text = fc.oneof(
      fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 60 }).map((parts) => parts.join('')),
      fc.array(fc.constantFrom(...FRAGMENTS).map((f) => f + ' '), { maxLength: 40 }).map((parts) => parts.join('')),
      fc.string({ maxLength: 200 }),
      fc.string({ unit: 'binary', maxLength: 200 }),
    );
    fc.assert(
      fc.property(text, (src) => {
        // CPU time, not wall-clock time: a parse that hangs burns CPU, a busy machine only delays it
        const started = process.cpuUsage();
        try {
          const cfg = parseConfigText(src, 'fuzz.conf', dir);
          expect(Object.isFrozen(cfg)).toBe(true);
        } catch (e) {
          if (!(e instanceof ConfigError)) throw e;
          expect(e.message).toMatch(/^[^:]+:\d+:\d+: /);
          expect(e.pos.line).toBeGreaterThanOrEqual(1);
          expect(e.pos.col).toBeGreaterThanOrEqual(1);
        }
        const used = process.cpuUsage(started);
        expect((used.user + used.system) / 1000).toBeLessThan(1000);
      }),
      { numRuns: 3000 },
    );
  });

  it('metric blocks with random settings never throw anything but ConfigError', () => {
    const value = fc.array(fc.constantFrom(...FRAGMENTS.filter((f) => !f.includes('\n'))), { maxLength: 8 }).map((p) => p.join(''));
    const setting = fc.tuple(fc.constantFrom('filter', 'fields', 'group_by', 'description', 'exporter', 'bogus'), value);
    fc.assert(
      fc.property(fc.array(setting, { maxLength: 6 }), (settings) => {
        const src = `metric m {\n${settings.map(([k, v]) => `  ${k} = ${v}`).join('\n')}\n}\n`;
        try {
          parseConfigText(src, 'fuzz.conf', dir);
        } catch (e) {
          if (!(e instanceof ConfigError)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });
});
