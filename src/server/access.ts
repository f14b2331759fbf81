/**
 * trusted_networks / ingest_networks: membership of a peer address in a list
 * of IPs and CIDRs (ipaddr.js). IPv4-mapped IPv6 peers (`::ffff:127.0.0.1`,
 * as dual-stack sockets report IPv4 clients) match as the IPv4 address.
 */
import ipaddr from 'ipaddr.js';

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

function parsePeer(text: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  let t = text;
  if (t.startsWith('[') && t.endsWith(']')) t = t.slice(1, -1);
  const pct = t.indexOf('%');
  if (pct !== -1) t = t.slice(0, pct);
  if (!ipaddr.isValid(t)) return null;
  const a = ipaddr.parse(t);
  if (a.kind() === 'ipv6' && (a as ipaddr.IPv6).isIPv4MappedAddress()) return (a as ipaddr.IPv6).toIPv4Address();
  return a;
}

export class NetworkList {
  private readonly ranges: Range[];
  readonly text: string;

  constructor(entries: readonly string[]) {
    this.text = entries.join(' ');
    this.ranges = entries.map((e) => {
      if (e.includes('/')) return ipaddr.parseCIDR(e);
      const a = ipaddr.parse(e);
      return [a, a.kind() === 'ipv4' ? 32 : 128] as Range;
    });
  }

  /** Whether the peer (an IP text, possibly IPv4-mapped IPv6) is inside the list. */
  allows(peer: string): boolean {
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
