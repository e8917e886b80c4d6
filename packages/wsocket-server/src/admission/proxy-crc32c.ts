/**
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78; RFC 4960 appendix B),
 * the checksum a v2 header may carry in its PP2_TYPE_CRC32C TLV. Node has no
 * CRC32C of its own (zlib.crc32 is the other polynomial). Table-driven, one
 * byte per step: headers are short and checksummed headers are rare.
 */
const TABLE = buildTable();

function buildTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

/** Continues a CRC over bytes[start..end); start a new one with `crc = 0`. */
export function crc32cUpdate(crc: number, bytes: Uint8Array, start: number, end: number): number {
  let c = ~crc >>> 0;
  for (let i = start; i < end; i++) c = TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** Continues a CRC over `count` zero bytes (the checksum field, zeroed while it is computed). */
export function crc32cZeros(crc: number, count: number): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < count; i++) c = TABLE[c & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
