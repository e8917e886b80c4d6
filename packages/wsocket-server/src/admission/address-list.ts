import * as net from 'node:net';
import { describe, ICS_ERR, icsError } from '@ics-ts/wsocket';

/**
 * Addresses and CIDR blocks (IPv4 and IPv6) to match peers against, for the
 * allow and deny lists. IPv4-mapped IPv6 peers (`::ffff:1.2.3.4`, what a
 * dual-stack listener reports) match as IPv4. Entries are parsed once; a match
 * is a few integer compares per entry, no allocation for IPv4 peers.
 */
export class AddressList {
  /** IPv4 blocks as [network, mask] pairs of unsigned 32-bit numbers. */
  private readonly v4: number[] = [];
  /** IPv6 blocks as [network (8 x 16 bits), prefix length]. */
  private readonly v6: { words: Uint16Array; prefix: number }[] = [];
  /** The entries as given, for reports. */
  readonly entries: readonly string[];

  constructor(entries: unknown, where: string, option: string) {
    if (!Array.isArray(entries)) {
      throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${where}: option ${option} must be an array of addresses or CIDR blocks, got ${describe(entries)}`);
    }
    for (const [i, entry] of entries.entries()) {
      if (!this.add(entry)) {
        throw icsError(TypeError, ICS_ERR.INVALID_OPTION,
          `${where}: option ${option}[${i}] must be an IP address or a CIDR block ('10.0.0.0/8', '2001:db8::/32'), got ${describe(entry)}`,
        );
      }
    }
    this.entries = Object.freeze([...(entries as string[])]);
  }

  get size(): number {
    return this.v4.length / 2 + this.v6.length;
  }

  /** Whether `address` (as the system reports it) is in one of the blocks. */
  has(address: string): boolean {
    const v4 = ipv4Number(address.startsWith('::ffff:') ? address.slice(7) : address);
    if (v4 !== undefined) {
      for (let i = 0; i < this.v4.length; i += 2) {
        if (((v4 & this.v4[i + 1]) >>> 0) === this.v4[i]) return true;
      }
      return false;
    }
    if (this.v6.length === 0) return false;
    const words = ipv6Words(address);
    if (!words) return false;
    return this.v6.some((block) => inPrefix(words, block.words, block.prefix));
  }

  private add(entry: unknown): boolean {
    if (typeof entry !== 'string') return false;
    const slash = entry.indexOf('/');
    const addr = slash < 0 ? entry : entry.slice(0, slash);
    const bitsText = slash < 0 ? undefined : entry.slice(slash + 1);
    const family = net.isIP(addr);
    if (family === 0) return false;
    const max = family === 4 ? 32 : 128;
    if (bitsText !== undefined && !/^\d{1,3}$/.test(bitsText)) return false;
    const bits = bitsText === undefined ? max : Number(bitsText);
    if (bits > max) return false;
    if (family === 4) {
      const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
      this.v4.push((ipv4Number(addr)! & mask) >>> 0, mask);
      return true;
    }
    const mapped = mappedIPv4(addr);
    if (mapped !== undefined && bits >= 96) {
      // ::ffff:10.0.0.0/104 is 10.0.0.0/8: peers are matched as IPv4.
      const v4bits = bits - 96;
      const mask = v4bits === 0 ? 0 : (0xffffffff << (32 - v4bits)) >>> 0;
      this.v4.push((mapped & mask) >>> 0, mask);
      return true;
    }
    this.v6.push({ words: ipv6Words(addr)!, prefix: bits });
    return true;
  }
}

/** A dotted IPv4 address as an unsigned 32-bit number; undefined if it is not one. */
export function ipv4Number(address: string): number | undefined {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < address.length; i++) {
    const c = address.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0 || ++dots > 3) return undefined;
      value = value * 256 + part;
      part = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39 && digits < 3) {
      part = part * 10 + (c - 0x30);
      if (part > 255) return undefined;
      digits++;
    } else return undefined;
  }
  if (dots !== 3 || digits === 0) return undefined;
  return value * 256 + part;
}

function mappedIPv4(address: string): number | undefined {
  const lower = address.toLowerCase();
  if (lower.startsWith('::ffff:')) return ipv4Number(lower.slice(7));
  return undefined;
}

/** An IPv6 address as eight 16-bit words (an embedded IPv4 tail included); undefined if malformed. */
export function ipv6Words(address: string): Uint16Array | undefined {
  if (net.isIPv6(address) === false) return undefined;
  let text = address;
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  const words = new Uint16Array(8);
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) > 0) {
    const v4 = ipv4Number(text.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tail = [v4 >>> 16, v4 & 0xffff];
    text = text.slice(0, lastColon + 1) + '0';
  }
  const halves = text.split('::');
  const head = halves[0] ? halves[0].split(':') : [];
  const rest = halves.length > 1 && halves[1] ? halves[1].split(':') : [];
  const parsedHead = head.map((h) => parseInt(h, 16));
  const parsedRest = rest.map((h) => parseInt(h, 16));
  if (tail.length) {
    const list = halves.length > 1 ? parsedRest : parsedHead;
    list.splice(list.length - 1, 1, ...tail);
  }
  parsedHead.forEach((w, i) => (words[i] = w));
  parsedRest.forEach((w, i) => (words[8 - parsedRest.length + i] = w));
  return words;
}

function inPrefix(words: Uint16Array, network: Uint16Array, prefix: number): boolean {
  let bits = prefix;
  for (let i = 0; i < 8 && bits > 0; i++, bits -= 16) {
    const take = Math.min(16, bits);
    const mask = (0xffff << (16 - take)) & 0xffff;
    if ((words[i] & mask) !== (network[i] & mask)) return false;
  }
  return true;
}
