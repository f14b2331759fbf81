/**
 * trusted_networks / ingest_networks: membership of a peer address in a list
 * of IPs and CIDRs (ipaddr.js). IPv4-mapped IPv6 peers (`::ffff:127.0.0.1`,
 * as dual-stack sockets report IPv4 clients) match as the IPv4 address.
 */
import ipaddr from 'ipaddr.js';

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/**
 * An IPv6 text with a trailing dotted quad, in hex groups: ipaddr.js takes
 * any such text for IPv4-mapped (it reads the IPv4-compatible `::10.1.2.3`,
 * which node prints for the IPv6 peer ::a01:203, as ::ffff:10.1.2.3);
 * written in hex, only a real ::ffff:0:0/96 address is mapped.
 */
function hexV6(t: string): string | null {
  const m = /^(.*:)(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(t);
  if (m === null) return t;
  const o = m.slice(2, 6).map(Number) as [number, number, number, number];
  if (o.some((x) => x > 255)) return null;
  return `${m[1]}${((o[0] << 8) | o[1]).toString(16)}:${((o[2] << 8) | o[3]).toString(16)}`;
}

function parsePeer(text: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  let t = text;
  if (t.startsWith('[') && t.endsWith(']')) t = t.slice(1, -1);
  const pct = t.indexOf('%');
  if (pct !== -1) t = t.slice(0, pct);
  if (t.includes(':')) {
    const hex = hexV6(t);
    if (hex === null) return null;
    t = hex;
  }
  if (!ipaddr.isValid(t)) return null;
  const a = ipaddr.parse(t);
  if (a.kind() === 'ipv6' && (a as ipaddr.IPv6).isIPv4MappedAddress()) return (a as ipaddr.IPv6).toIPv4Address();
  return a;
}

/** Peers whose answer a NetworkList remembers (a request per event from the same few peers asks again and again). */
const ALLOWS_CACHE_MAX = 4096;

export class NetworkList {
  private readonly ranges: Range[];
  readonly text: string;
  private readonly cache = new Map<string, boolean>();

  constructor(entries: readonly string[]) {
    this.text = entries.join(' ');
    this.ranges = entries.map((entry) => {
      const slash = entry.indexOf('/');
      const addr = slash === -1 ? entry : entry.slice(0, slash);
      const e = (addr.includes(':') ? (hexV6(addr) ?? addr) : addr) + (slash === -1 ? '' : entry.slice(slash));
      if (e.includes('/')) return ipaddr.parseCIDR(e);
      const a = ipaddr.parse(e);
      return [a, a.kind() === 'ipv4' ? 32 : 128] as Range;
    });
  }

  /** Whether the peer (an IP text, possibly IPv4-mapped IPv6) is inside the list. */
  allows(peer: string): boolean {
    const known = this.cache.get(peer);
    if (known !== undefined) return known;
    const r = this.check(peer);
    if (this.cache.size >= ALLOWS_CACHE_MAX) this.cache.clear();
    this.cache.set(peer, r);
    return r;
  }

  private check(peer: string): boolean {
    const a = parsePeer(peer);
    if (a === null) return false;
    for (const [net, bits] of this.ranges) {
      if (net.kind() !== a.kind()) {
        // an IPv6 list entry for an IPv4-mapped range
        if (net.kind() === 'ipv6' && a.kind() === 'ipv4' && bits >= 96 && (net as ipaddr.IPv6).isIPv4MappedAddress()) {
          if ((a as ipaddr.IPv4).match((net as ipaddr.IPv6).toIPv4Address(), bits - 96)) return true;
        }
        continue;
      }
      if (a.match([net, bits] as never)) return true;
    }
    return false;
  }
}

/** The peer as shown in messages (IPv4-mapped shown as IPv4). */
export function displayPeer(peer: string): string {
  const a = parsePeer(peer);
  return a === null ? peer : a.toString();
}
