/**
 * IP addresses of PROXY headers: v1 text checked strictly (the spec's
 * canonical forms, no leading zeros, no zone ids) and every address written in
 * the one form Node reports a peer in, so a per-IP limit or a deny rule sees
 * the same string whether the client came directly, by v1 or by v2.
 */

/** A dotted IPv4 address as the spec writes it: four 0..255 decimals, no leading zeros. */
export function isCanonicalIPv4(text: string): boolean {
  const length = text.length;
  if (length < 7 || length > 15) return false;
  let parts = 0;
  let value = 0;
  let digits = 0;
  let first = 0;
  for (let i = 0; i <= length; i++) {
    const c = i < length ? text.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      if (digits === 0 || (digits > 1 && first === 0x30) || value > 255) return false;
      if (++parts > 4) return false;
      value = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits === 0) first = c;
      if (++digits > 3) return false;
      value = value * 10 + (c - 0x30);
    } else {
      return false;
    }
  }
  return parts === 4;
}

/**
 * Parses IPv6 text into `into[0..16)`: hex groups of 1-4 digits, at most one
 * '::', an optional dotted IPv4 tail (HAProxy's v1 sender writes v4-mapped
 * addresses that way). No zone id. Returns false when it is not one.
 */
export function parseIPv6(text: string, into: Uint8Array): boolean {
  const length = text.length;
  if (length < 2 || length > 45) return false;
  const words = new Array<number>(8);
  let count = 0;
  let gap = -1;
  let i = 0;
  if (text.charCodeAt(0) === 0x3a) {
    if (text.charCodeAt(1) !== 0x3a) return false;
    gap = 0;
    i = 2;
    if (i === length) return finishIPv6(words, count, gap, into);
  }
  for (;;) {
    const start = i;
    let value = 0;
    while (i < length && i - start < 5) {
      const digit = hexValue(text.charCodeAt(i));
      if (digit < 0) break;
      value = value * 16 + digit;
      i++;
    }
    const digits = i - start;
    if (i < length && text.charCodeAt(i) === 0x2e) {
      // A dotted IPv4 tail: it ends the address and fills two words.
      if (count > 6) return false;
      const tail = text.slice(start);
      if (!isCanonicalIPv4(tail)) return false;
      let octet = 0;
      const bytes = tail.split('.');
      for (const b of bytes) octet = (octet << 8) | Number(b);
      words[count++] = (octet >>> 16) & 0xffff;
      words[count++] = octet & 0xffff;
      return finishIPv6(words, count, gap, into);
    }
    if (digits === 0 || digits > 4 || count === 8) return false;
    words[count++] = value;
    if (i === length) return finishIPv6(words, count, gap, into);
    if (text.charCodeAt(i) !== 0x3a) return false;
    i++;
    if (i < length && text.charCodeAt(i) === 0x3a) {
      if (gap >= 0) return false;
      gap = count;
      i++;
      if (i === length) return finishIPv6(words, count, gap, into);
    } else if (i === length) {
      return false; // a single trailing colon
    }
  }
}

function finishIPv6(words: number[], count: number, gap: number, into: Uint8Array): boolean {
  if (gap < 0 ? count !== 8 : count > 7) return false;
  const zeros = 8 - count;
  let w = 0;
  for (let k = 0; k < 8; k++) {
    let word: number;
    if (gap >= 0 && k >= gap && k < gap + zeros) word = 0;
    else word = words[w++];
    into[2 * k] = word >> 8;
    into[2 * k + 1] = word & 0xff;
  }
  return true;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

export function formatIPv4(bytes: Uint8Array, offset: number): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

/**
 * 16 bytes as Node writes a peer's IPv6 address (libuv's inet_ntop): lower
 * case, no leading zeros, the first longest run of two or more zero words as
 * '::', and a dotted tail for v4-mapped (::ffff:a.b.c.d) and v4-compatible
 * (::a.b.c.d) addresses.
 */
export function formatIPv6(bytes: Uint8Array, offset: number): string {
  const words = new Array<number>(8);
  for (let k = 0; k < 8; k++) words[k] = (bytes[offset + 2 * k] << 8) | bytes[offset + 2 * k + 1];
  let bestBase = -1;
  let bestLength = 0;
  let runBase = -1;
  for (let k = 0; k <= 8; k++) {
    if (k < 8 && words[k] === 0) {
      if (runBase < 0) runBase = k;
    } else if (runBase >= 0) {
      const runLength = k - runBase;
      if (runLength > bestLength) {
        bestBase = runBase;
        bestLength = runLength;
      }
      runBase = -1;
    }
  }
  if (bestLength < 2) bestBase = -1;
  let text = '';
  for (let k = 0; k < 8; k++) {
    if (bestBase >= 0 && k >= bestBase && k < bestBase + bestLength) {
      if (k === bestBase) text += ':';
      continue;
    }
    if (k !== 0) text += ':';
    if (k === 6 && bestBase === 0 && (bestLength === 6 || (bestLength === 5 && words[5] === 0xffff))) {
      return text + formatIPv4(bytes, offset + 12);
    }
    text += words[k].toString(16);
  }
  if (bestBase >= 0 && bestBase + bestLength === 8) text += ':';
  return text;
}
