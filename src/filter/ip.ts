/**
 * IP addresses without allocation: a parser that writes into a reusable
 * buffer (used per event), containment in a network, and the canonical text
 * (glibc `inet_ntop`, as Dovecot prints addresses).
 */

export class IpBuf {
  family: 0 | 4 | 6 = 0;
  /** 16-bit words: 2 for IPv4, 8 for IPv6 */
  readonly w = new Uint16Array(8);
  zoneStart = 0;
  zoneEnd = 0;
}

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

function isAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a);
}

/** Strict dotted quad (no leading zeros) into out.w[at], out.w[at+1]. */
function parseV4(s: string, start: number, end: number, out: IpBuf, at: number): boolean {
  let i = start;
  let hi = 0;
  for (let part = 0; part < 4; part++) {
    if (part > 0) {
      if (i >= end || s.charCodeAt(i) !== 0x2e) return false;
      i++;
    }
    const p0 = i;
    let v = 0;
    while (i < end) {
      const c = s.charCodeAt(i);
      if (c < 0x30 || c > 0x39) break;
      v = v * 10 + (c - 0x30);
      i++;
      if (i - p0 > 3) return false;
    }
    if (i === p0 || v > 255 || (i - p0 > 1 && s.charCodeAt(p0) === 0x30)) return false;
    if ((part & 1) === 0) hi = v;
    else out.w[at + (part >> 1)] = (hi << 8) | v;
  }
  return i === end;
}

function parseV6(s: string, start: number, end: number, out: IpBuf): boolean {
  const w = out.w;
  let i = start;
  let count = 0;
  let gap = -1;
  if (i < end && s.charCodeAt(i) === 0x3a) {
    if (i + 1 >= end || s.charCodeAt(i + 1) !== 0x3a) return false;
    gap = 0;
    i += 2;
  }
  while (i < end) {
    if (count === 8) return false;
    let j = i;
    let v = 0;
    while (j < end) {
      const h = hexVal(s.charCodeAt(j));
      if (h < 0) break;
      v = v * 16 + h;
      j++;
    }
    if (j === i) return false;
    if (j < end && s.charCodeAt(j) === 0x2e) {
      if (count > 6 || !parseV4(s, i, end, out, count)) return false;
      count += 2;
      break;
    }
    if (j - i > 4) return false;
    w[count++] = v;
    if (j === end) break;
    if (s.charCodeAt(j) !== 0x3a) return false;
    j++;
    if (j < end && s.charCodeAt(j) === 0x3a) {
      if (gap >= 0) return false;
      gap = count;
      j++;
    } else if (j === end) return false;
    i = j;
  }
  if (gap < 0) return count === 8;
  if (count > 7) return false;
  const tail = count - gap;
  for (let k = 0; k < tail; k++) w[7 - k] = w[count - 1 - k] as number;
  for (let k = gap; k < 8 - tail; k++) w[k] = 0;
  return true;
}

/**
 * Parses s[start, end) as an IPv4 address (dotted quad) or an IPv6 address
 * (optionally `[bracketed]`, with an embedded IPv4 tail and a `%zone`).
 */
export function parseIp(s: string, start: number, end: number, out: IpBuf): boolean {
  if (end - start < 2) return false;
  const c0 = s.charCodeAt(start);
  if (hexVal(c0) < 0 && c0 !== 0x3a && c0 !== 0x5b) return false;
  const bracketed = s.charCodeAt(start) === 0x5b;
  if (bracketed) {
    if (s.charCodeAt(end - 1) !== 0x5d) return false;
    start++;
    end--;
  }
  let colon = false;
  let pct = -1;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x3a) colon = true;
    else if (c === 0x25) {
      pct = i;
      break;
    }
  }
  out.zoneStart = out.zoneEnd = 0;
  if (!colon) {
    if (pct >= 0 || bracketed) return false;
    out.family = 4;
    return parseV4(s, start, end, out, 0);
  }
  if (pct >= 0) {
    if (pct + 1 >= end) return false;
    for (let i = pct + 1; i < end; i++) if (!isAlnum(s.charCodeAt(i))) return false;
    out.zoneStart = pct + 1;
    out.zoneEnd = end;
    end = pct;
  }
  out.family = 6;
  return parseV6(s, start, end, out);
}

/** Turns `::ffff:a.b.c.d` into the IPv4 address a.b.c.d (as Dovecot does before matching). */
export function unmapV4(b: IpBuf): void {
  const w = b.w;
  if (b.family === 6 && w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] === 0 && w[4] === 0 && w[5] === 0xffff) {
    b.family = 4;
    w[0] = w[6] as number;
    w[1] = w[7] as number;
    b.zoneStart = b.zoneEnd = 0;
  }
}

export interface IpNet {
  readonly family: 4 | 6;
  readonly w: Uint16Array;
  readonly bits: number;
  readonly zone: string;
}

/** True when the parsed address lies in the network (zones must agree when the network names one). */
export function inNetwork(b: IpBuf, s: string, net: IpNet): boolean {
  if (b.family !== net.family) return false;
  const zone = net.zone;
  if (zone !== '') {
    if (b.zoneEnd - b.zoneStart !== zone.length) return false;
    for (let i = 0; i < zone.length; i++) {
      if (s.charCodeAt(b.zoneStart + i) !== zone.charCodeAt(i)) return false;
    }
  }
  const full = net.bits >> 4;
  for (let i = 0; i < full; i++) if (b.w[i] !== net.w[i]) return false;
  const rest = net.bits & 15;
  if (rest === 0) return true;
  const mask = (0xffff << (16 - rest)) & 0xffff;
  return ((b.w[full] as number) & mask) === ((net.w[full] as number) & mask);
}

/** The canonical text of an address, as glibc's inet_ntop prints it. */
export function formatIp(family: 4 | 6, w: ArrayLike<number>, zone: string): string {
  const word = (i: number): number => w[i] ?? 0;
  if (family === 4) return `${word(0) >> 8}.${word(0) & 255}.${word(1) >> 8}.${word(1) & 255}`;
  let bestBase = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (word(i) !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && word(j) === 0) j++;
    if (j - i > bestLen) {
      bestBase = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) bestBase = -1;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (bestBase >= 0 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    if (i === 6 && bestBase === 0 && (bestLen === 6 || (bestLen === 5 && word(5) === 0xffff))) {
      out += `${word(6) >> 8}.${word(6) & 255}.${word(7) >> 8}.${word(7) & 255}`;
      break;
    }
    out += word(i).toString(16);
  }
  if (bestBase >= 0 && bestBase + bestLen === 8) out += ':';
  return zone === '' ? out : `${out}%${zone}`;
}
