import { formatIPv6, isCanonicalIPv4, parseIPv6 } from './proxy-addresses';
import type { ProxyEndpoints, ProxyHeader, ProxyRefusal } from './proxy-header';

/** "PROXY " */
export const V1_SIGNATURE = Buffer.from('PROXY ', 'latin1');

const NO_TLVS = Object.freeze({});
const ipv6Scratch = new Uint8Array(16);

/**
 * Reads a complete v1 line, `bytes[0..end)`, signature and CRLF included
 * (the decoder found them): "PROXY TCP4|TCP6 src dst sport dport" with single
 * spaces, or "PROXY UNKNOWN" followed by anything, which says: use the
 * connection's own endpoints.
 */
export function parseProxyV1(bytes: Buffer, end: number): ProxyHeader | ProxyRefusal {
  const text = bytes.toString('latin1', V1_SIGNATURE.length, end - 2);
  if (text.startsWith('UNKNOWN') && (text.length === 7 || text.charCodeAt(7) === 0x20)) {
    return { version: 1, command: 'proxy', endpoints: undefined, tlvs: NO_TLVS, byteLength: end };
  }
  const fields = text.split(' ');
  if (fields.length !== 5) return 'malformed';
  const [protocol, source, destination, sourcePortText, destinationPortText] = fields;
  let family: 'ipv4' | 'ipv6';
  let sourceAddress: string;
  let destinationAddress: string;
  if (protocol === 'TCP4') {
    if (!isCanonicalIPv4(source) || !isCanonicalIPv4(destination)) return 'malformed';
    family = 'ipv4';
    sourceAddress = source;
    destinationAddress = destination;
  } else if (protocol === 'TCP6') {
    if (!parseIPv6(source, ipv6Scratch)) return 'malformed';
    sourceAddress = formatIPv6(ipv6Scratch, 0);
    if (!parseIPv6(destination, ipv6Scratch)) return 'malformed';
    destinationAddress = formatIPv6(ipv6Scratch, 0);
    family = 'ipv6';
  } else {
    return 'malformed';
  }
  const sourcePort = parsePort(sourcePortText);
  const destinationPort = parsePort(destinationPortText);
  if (sourcePort < 0 || destinationPort < 0) return 'malformed';
  const endpoints: ProxyEndpoints = { family, transport: 'stream', sourceAddress, sourcePort, destinationAddress, destinationPort };
  return { version: 1, command: 'proxy', endpoints, tlvs: NO_TLVS, byteLength: end };
}

/** A decimal 0..65535 without leading zeros, else -1. */
function parsePort(text: string): number {
  const length = text.length;
  if (length === 0 || length > 5 || (length > 1 && text.charCodeAt(0) === 0x30)) return -1;
  let value = 0;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
    value = value * 10 + (c - 0x30);
  }
  return value <= 0xffff ? value : -1;
}
