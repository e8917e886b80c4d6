import { formatIPv4, formatIPv6 } from './proxy-addresses';
import { crc32cUpdate, crc32cZeros } from './proxy-crc32c';
import type { ProxyCustomTlv, ProxyEndpoints, ProxyHeader, ProxyRefusal, ProxySslFacts, ProxyTlvs } from './proxy-header';

/** The 12-byte v2 signature: \r\n\r\n\0\r\nQUIT\n. */
export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** Signature, version/command, family/transport, 16-bit length. */
export const V2_FIXED_BYTES = 16;

const TYPE_ALPN = 0x01;
const TYPE_AUTHORITY = 0x02;
const TYPE_CRC32C = 0x03;
const TYPE_NOOP = 0x04;
const TYPE_UNIQUE_ID = 0x05;
const TYPE_SSL = 0x20;
const SUBTYPE_SSL_VERSION = 0x21;
const SUBTYPE_SSL_CN = 0x22;
const SUBTYPE_SSL_CIPHER = 0x23;
const SUBTYPE_SSL_SIG_ALG = 0x24;
const SUBTYPE_SSL_KEY_ALG = 0x25;
const TYPE_NETNS = 0x30;

const CLIENT_SSL = 0x01;
const CLIENT_CERT_CONN = 0x02;
const CLIENT_CERT_SESS = 0x04;

const UNIQUE_ID_MAX_BYTES = 128;
/** Bytes of the address block per family: AF_UNSPEC, AF_INET, AF_INET6, AF_UNIX. */
const ADDRESS_BYTES = [0, 12, 36, 216];
const UNIX_PATH_BYTES = 108;

const NO_TLVS: ProxyTlvs = Object.freeze({});

/** The version nibble of byte 13 (the caller has matched the 12-byte signature). */
export function v2Version(bytes: Uint8Array): number {
  return bytes[12] >> 4;
}

/** The whole header's length from its fixed part. */
export function v2TotalBytes(bytes: Uint8Array): number {
  return V2_FIXED_BYTES + ((bytes[14] << 8) | bytes[15]);
}

/**
 * Reads a complete v2 header, `bytes[0..end)` (the decoder matched the
 * signature and version and gathered 16 + length bytes). LOCAL (health
 * checks) and AF_UNSPEC keep the connection's own endpoints and, as HAProxy
 * does, their address block and TLVs are skipped unread.
 */
export function parseProxyV2(bytes: Buffer, end: number): ProxyHeader | ProxyRefusal {
  const command = bytes[12] & 0x0f;
  const family = bytes[13] >> 4;
  const transport = bytes[13] & 0x0f;
  if (command > 1 || family > 3 || transport > 2) return 'malformed';
  if (command === 0 || family === 0 || transport === 0) {
    return { version: 2, command: command === 0 ? 'local' : 'proxy', endpoints: undefined, tlvs: NO_TLVS, byteLength: end };
  }
  const addressEnd = V2_FIXED_BYTES + ADDRESS_BYTES[family];
  if (addressEnd > end) return 'malformed';
  const endpoints = readEndpoints(bytes, family, transport === 1 ? 'stream' : 'dgram');
  const tlvs = addressEnd === end ? NO_TLVS : readTlvs(bytes, addressEnd, end);
  if (typeof tlvs === 'string') return tlvs;
  return { version: 2, command: 'proxy', endpoints, tlvs, byteLength: end };
}

function readEndpoints(bytes: Buffer, family: number, transport: 'stream' | 'dgram'): ProxyEndpoints {
  const a = V2_FIXED_BYTES;
  if (family === 1) {
    return {
      family: 'ipv4',
      transport,
      sourceAddress: formatIPv4(bytes, a),
      sourcePort: bytes.readUInt16BE(a + 8),
      destinationAddress: formatIPv4(bytes, a + 4),
      destinationPort: bytes.readUInt16BE(a + 10),
    };
  }
  if (family === 2) {
    return {
      family: 'ipv6',
      transport,
      sourceAddress: formatIPv6(bytes, a),
      sourcePort: bytes.readUInt16BE(a + 32),
      destinationAddress: formatIPv6(bytes, a + 16),
      destinationPort: bytes.readUInt16BE(a + 34),
    };
  }
  return {
    family: 'unix',
    transport,
    sourceAddress: unixPath(bytes, a),
    sourcePort: 0,
    destinationAddress: unixPath(bytes, a + UNIX_PATH_BYTES),
    destinationPort: 0,
  };
}

/** A sun_path: up to the first NUL (an abstract socket's leading NUL gives ''). */
function unixPath(bytes: Buffer, start: number): string {
  const nul = bytes.indexOf(0, start);
  const stop = nul < 0 || nul > start + UNIX_PATH_BYTES ? start + UNIX_PATH_BYTES : nul;
  return bytes.toString('utf8', start, stop);
}

interface MutableTlvs {
  alpn?: string;
  authority?: string;
  crc32c?: number;
  uniqueId?: Buffer;
  ssl?: ProxySslFacts;
  netns?: string;
  custom?: ProxyCustomTlv[];
}

/** The TLVs in bytes[start..end): each must fit exactly; the checksum, when present, is verified. */
function readTlvs(bytes: Buffer, start: number, end: number): ProxyTlvs | ProxyRefusal {
  const tlvs: MutableTlvs = {};
  let crcValueAt = -1;
  let at = start;
  while (at < end) {
    if (at + 3 > end) return 'malformed';
    const type = bytes[at];
    const valueStart = at + 3;
    const valueEnd = valueStart + ((bytes[at + 1] << 8) | bytes[at + 2]);
    if (valueEnd > end) return 'malformed';
    switch (type) {
      case TYPE_ALPN:
        tlvs.alpn ??= bytes.toString('latin1', valueStart, valueEnd);
        break;
      case TYPE_AUTHORITY:
        tlvs.authority ??= bytes.toString('utf8', valueStart, valueEnd);
        break;
      case TYPE_CRC32C:
        if (valueEnd - valueStart !== 4 || crcValueAt >= 0) return 'malformed';
        crcValueAt = valueStart;
        tlvs.crc32c = bytes.readUInt32BE(valueStart);
        break;
      case TYPE_NOOP:
        break;
      case TYPE_UNIQUE_ID:
        if (valueEnd - valueStart > UNIQUE_ID_MAX_BYTES) return 'malformed';
        tlvs.uniqueId ??= Buffer.from(bytes.subarray(valueStart, valueEnd));
        break;
      case TYPE_SSL: {
        const ssl = readSsl(bytes, valueStart, valueEnd);
        if (ssl === undefined) return 'malformed';
        tlvs.ssl ??= ssl;
        break;
      }
      case TYPE_NETNS:
        tlvs.netns ??= bytes.toString('latin1', valueStart, valueEnd);
        break;
      default:
        (tlvs.custom ??= []).push({ type, value: Buffer.from(bytes.subarray(valueStart, valueEnd)) });
    }
    at = valueEnd;
  }
  if (crcValueAt >= 0) {
    let crc = crc32cUpdate(0, bytes, 0, crcValueAt);
    crc = crc32cZeros(crc, 4);
    crc = crc32cUpdate(crc, bytes, crcValueAt + 4, end);
    if (crc !== tlvs.crc32c) return 'bad-checksum';
  }
  return tlvs;
}

/** PP2_TYPE_SSL: client flags (1 byte), verify (4 bytes), then sub-TLVs that must fit exactly. */
function readSsl(bytes: Buffer, start: number, end: number): ProxySslFacts | undefined {
  if (end - start < 5) return undefined;
  const client = bytes[start];
  let version: string | undefined;
  let commonName: string | undefined;
  let cipher: string | undefined;
  let signatureAlgorithm: string | undefined;
  let keyAlgorithm: string | undefined;
  let at = start + 5;
  while (at < end) {
    if (at + 3 > end) return undefined;
    const type = bytes[at];
    const valueStart = at + 3;
    const valueEnd = valueStart + ((bytes[at + 1] << 8) | bytes[at + 2]);
    if (valueEnd > end) return undefined;
    switch (type) {
      case SUBTYPE_SSL_VERSION:
        version ??= bytes.toString('latin1', valueStart, valueEnd);
        break;
      case SUBTYPE_SSL_CN:
        commonName ??= bytes.toString('utf8', valueStart, valueEnd);
        break;
      case SUBTYPE_SSL_CIPHER:
        cipher ??= bytes.toString('latin1', valueStart, valueEnd);
        break;
      case SUBTYPE_SSL_SIG_ALG:
        signatureAlgorithm ??= bytes.toString('latin1', valueStart, valueEnd);
        break;
      case SUBTYPE_SSL_KEY_ALG:
        keyAlgorithm ??= bytes.toString('latin1', valueStart, valueEnd);
        break;
      default:
        break;
    }
    at = valueEnd;
  }
  return {
    clientSsl: (client & CLIENT_SSL) !== 0,
    clientCertConnection: (client & CLIENT_CERT_CONN) !== 0,
    clientCertSession: (client & CLIENT_CERT_SESS) !== 0,
    verify: bytes.readUInt32BE(start + 1),
    version,
    commonName,
    cipher,
    signatureAlgorithm,
    keyAlgorithm,
  };
}
