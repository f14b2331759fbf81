import ipaddr from 'ipaddr.js';
import type { FieldOperand } from './ast.js';
import { isEscapedLiteral, unescape } from './escape.js';
import { IpBuf, formatIp, parseIp } from './ip.js';
import { INTMAX_MAX, isAmbiguousSize, parseIntervalMsecs, parseIntmax, parseSize } from './units.js';

function intOperand(n: bigint, unit: 'none' | 'size' | 'interval'): FieldOperand {
  return { kind: 'int', value: Number(n), text: n.toString(), unit };
}

/** An IP address or CIDR (`net_parse_range`): validated by ipaddr.js and by the matcher's own parser. */
export function parseIpOperand(raw: string): FieldOperand | null {
  const slash = raw.indexOf('/');
  const addr = slash < 0 ? raw : raw.slice(0, slash);
  const bare = addr.length > 2 && addr.startsWith('[') && addr.endsWith(']') ? addr.slice(1, -1) : addr;
  if (bare !== addr && !bare.includes(':')) return null;
  if (!ipaddr.IPv4.isValidFourPartDecimal(bare) && !ipaddr.IPv6.isValid(bare)) return null;
  const buf = new IpBuf();
  if (!parseIp(addr, 0, addr.length, buf) || buf.family === 0) return null;
  const family = buf.family;
  const max = family === 4 ? 32 : 128;
  let bits = max;
  if (slash >= 0) {
    const prefix = raw.slice(slash + 1);
    if (!/^[0-9]+$/.test(prefix) || BigInt(prefix) > BigInt(max)) return null;
    bits = Number(prefix);
  }
  const words = Array.from(buf.w.subarray(0, family === 4 ? 2 : 8));
  const zone = addr.slice(buf.zoneStart, buf.zoneEnd);
  const text = formatIp(family, words, zone) + (bits === max ? '' : `/${bits}`);
  return { kind: 'ip', family, words, bits, zone, text };
}

/**
 * Classifies a field condition's value as Dovecot does (event-filter-parser.y):
 * integer, IP/CIDR, size (an ambiguous `M` stays a string), interval (µs),
 * then a string: exact when it has no unescaped wildcard, else a pattern.
 * `raw` is the value as written (escapes of a quoted string kept).
 */
export function classifyFieldValue(raw: string): FieldOperand {
  const int = parseIntmax(raw);
  if (int !== null) return intOperand(int, 'none');
  const ip = parseIpOperand(raw);
  if (ip !== null) return ip;
  if (isAmbiguousSize(raw)) return { kind: 'ambiguous', text: raw };
  const size = parseSize(raw);
  if (size !== null && size <= INTMAX_MAX) return intOperand(size, 'size');
  const msecs = parseIntervalMsecs(raw);
  if (msecs !== null) return intOperand(msecs * 1000n, 'interval');
  if (isEscapedLiteral(raw)) return { kind: 'string', text: unescape(raw) };
  return { kind: 'wildcard', pattern: raw, numeric: /^[0-9*?]+$/.test(raw) };
}

/** The value as Dovecot renders it for comparison with string fields and for export. */
export function operandText(v: FieldOperand): string {
  return v.kind === 'wildcard' ? v.pattern : v.text;
}
