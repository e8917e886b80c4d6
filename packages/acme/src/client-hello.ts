/**
 * Reads the server name and the ALPN list of a TLS ClientHello from the first bytes of a connection,
 * before any TLS object exists. A tls-alpn-01 check (ALPN `acme-tls/1`) must get the challenge
 * certificate, and Node offers no single moment that knows both: with TLS 1.3 OpenSSL asks the
 * ALPNCallback before the SNICallback, with TLS 1.2 after it. Looking at the ClientHello first
 * decides before either.
 *
 * Bounded: the ClientHello may span several handshake records (post-quantum key shares make it
 * large), but never more than MAX_CLIENT_HELLO_BYTES; one pass over the bytes; no copy unless the
 * hello spans records.
 */

/** The largest ClientHello read: 16 KB of handshake message plus record headers. */
export const MAX_CLIENT_HELLO_BYTES = 16_384 + 5 * 4;

const RECORD_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 0x01;
const EXT_SERVER_NAME = 0x0000;
const EXT_ALPN = 0x0010;
const MAX_HANDSHAKE_BYTES = 16_384;

export type ClientHelloResult =
  /** More bytes are needed (the caller reads on, up to MAX_CLIENT_HELLO_BYTES). */
  | { kind: 'partial' }
  /** A ClientHello: its server name (lower case, '' when none) and ALPN protocols (empty when none). */
  | { kind: 'hello'; serverName: string; alpnProtocols: string[] }
  /** Not a TLS ClientHello, or a malformed one: the reason, for a counter. */
  | { kind: 'invalid'; reason: string };

const PARTIAL: ClientHelloResult = { kind: 'partial' };

function invalid(reason: string): ClientHelloResult {
  return { kind: 'invalid', reason };
}

/** The handshake message's bytes, joined from the records they came in, or why not yet. */
function handshakeBytes(data: Buffer): Buffer | ClientHelloResult {
  if (data.length > 0 && data[0] !== RECORD_HANDSHAKE) return invalid('not a TLS handshake record');
  const parts: Buffer[] = [];
  let have = 0;
  let need = -1;
  let offset = 0;
  while (offset + 5 <= data.length) {
    if (data[offset] !== RECORD_HANDSHAKE) return invalid('the ClientHello is interrupted by another record type');
    if (data[offset + 1] !== 0x03) return invalid('not a TLS record version');
    const length = data.readUInt16BE(offset + 3);
    if (length === 0 || length > 16_384) return invalid(`a TLS record of ${length} bytes`);
    const end = offset + 5 + length;
    const part = data.subarray(offset + 5, Math.min(end, data.length));
    parts.push(part);
    have += part.length;
    if (need < 0 && have >= 4) {
      const head = parts.length === 1 ? part : Buffer.concat(parts);
      if (head[0] !== HANDSHAKE_CLIENT_HELLO) return invalid('the first handshake message is not a ClientHello');
      need = 4 + head.readUIntBE(1, 3);
      if (need > MAX_HANDSHAKE_BYTES) return invalid(`a ClientHello of ${need} bytes`);
    }
    if (need >= 0 && have >= need) {
      const all = parts.length === 1 ? part : Buffer.concat(parts, have);
      return all.subarray(0, need);
    }
    if (end > data.length) break;
    offset = end;
  }
  if (data.length >= MAX_CLIENT_HELLO_BYTES) return invalid(`no complete ClientHello in ${MAX_CLIENT_HELLO_BYTES} bytes`);
  return PARTIAL;
}

/** Parses what has arrived so far. */
export function parseClientHello(data: Buffer): ClientHelloResult {
  const message = handshakeBytes(data);
  if (!Buffer.isBuffer(message)) return message;
  // ClientHello: version(2) random(32) session_id<0..32> cipher_suites<2..2^16-2> compression<1..2^8-1> extensions<0..2^16-1>
  let p = 4 + 2 + 32;
  const end = message.length;
  if (p + 1 > end) return invalid('a truncated ClientHello');
  p += 1 + message[p];
  if (p + 2 > end) return invalid('a truncated ClientHello');
  p += 2 + message.readUInt16BE(p);
  if (p + 1 > end) return invalid('a truncated ClientHello');
  p += 1 + message[p];
  if (p === end) return { kind: 'hello', serverName: '', alpnProtocols: [] };
  if (p + 2 > end) return invalid('a truncated ClientHello');
  const extensionsEnd = p + 2 + message.readUInt16BE(p);
  if (extensionsEnd !== end) return invalid('ClientHello extensions do not fill the message');
  p += 2;
  let serverName = '';
  let alpnProtocols: string[] = [];
  while (p < extensionsEnd) {
    if (p + 4 > extensionsEnd) return invalid('a truncated extension');
    const type = message.readUInt16BE(p);
    const length = message.readUInt16BE(p + 2);
    const start = p + 4;
    p = start + length;
    if (p > extensionsEnd) return invalid('an extension longer than the message');
    if (type === EXT_SERVER_NAME) {
      const name = readServerName(message, start, p);
      if (name === undefined) return invalid('a malformed server_name extension');
      serverName = name;
    } else if (type === EXT_ALPN) {
      const protocols = readAlpn(message, start, p);
      if (protocols === undefined) return invalid('a malformed ALPN extension');
      alpnProtocols = protocols;
    }
  }
  return { kind: 'hello', serverName, alpnProtocols };
}

/** RFC 6066: ServerNameList<1..2^16-1> of { name_type(1), HostName<1..2^16-1> }; the host_name (0) one. */
function readServerName(message: Buffer, start: number, end: number): string | undefined {
  if (start + 2 > end || start + 2 + message.readUInt16BE(start) !== end) return undefined;
  let p = start + 2;
  let name = '';
  while (p < end) {
    if (p + 3 > end) return undefined;
    const type = message[p];
    const length = message.readUInt16BE(p + 1);
    p += 3;
    if (length === 0 || p + length > end) return undefined;
    if (type === 0 && name === '') {
      name = message.toString('latin1', p, p + length).toLowerCase();
      if (length > 253 || !/^[a-z0-9._-]+$/.test(name)) return undefined;
    }
    p += length;
  }
  return name;
}

/** RFC 7301: ProtocolNameList<2..2^16-1> of ProtocolName<1..2^8-1>. */
function readAlpn(message: Buffer, start: number, end: number): string[] | undefined {
  if (start + 2 > end || start + 2 + message.readUInt16BE(start) !== end) return undefined;
  const protocols: string[] = [];
  let p = start + 2;
  while (p < end) {
    const length = message[p];
    p += 1;
    if (length === 0 || p + length > end) return undefined;
    protocols.push(message.toString('latin1', p, p + length));
    p += length;
  }
  return protocols;
}
