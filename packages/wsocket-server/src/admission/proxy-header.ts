/**
 * What a PROXY protocol header says (HAProxy's proxy-protocol.txt, versions 1
 * and 2), as the decoder hands it over: plain read-only data, no Buffers into
 * the socket's chunks (a TLV value is copied, so a header never pins a read).
 */

/** Which header a listener expects: text (v1), binary (v2), or either, told apart by their first bytes. */
export type ProxyProtocolMode = 'v1' | 'v2' | 'auto';

/**
 * Why a header was refused: a small fixed set, one counter each.
 * - `not-proxy`: the first bytes are no PROXY signature (a client speaking directly, or a scan).
 * - `unsupported-version`: a header of a version this listener does not accept
 *   (v1 on a `v2` listener, v2 on a `v1` listener, or a v2 signature with a version other than 2).
 * - `malformed`: the signature matched but the rest breaks the spec (a bad address, port,
 *   command, family, a lone CR or LF, a TLV running past the header, a bad SSL TLV...).
 * - `oversized`: no CRLF within 107 bytes (v1), or a v2 length over the listener's cap.
 * - `truncated`: the connection ended before the header was complete.
 * - `bad-checksum`: a v2 CRC32C TLV that does not match the header.
 */
export type ProxyRefusal = 'not-proxy' | 'unsupported-version' | 'malformed' | 'oversized' | 'truncated' | 'bad-checksum';

export const PROXY_REFUSALS: readonly ProxyRefusal[] = [
  'not-proxy',
  'unsupported-version',
  'malformed',
  'oversized',
  'truncated',
  'bad-checksum',
];

/** The longest v1 line, CRLF included ("PROXY UNKNOWN" with two full IPv6 addresses and ports). */
export const PROXY_V1_MAX_BYTES = 107;
/** The longest v2 header: 16 fixed bytes and a 16-bit length. */
export const PROXY_V2_MAX_BYTES = 16 + 0xffff;

/** The endpoints of the relayed connection, as the proxy saw them. */
export interface ProxyEndpoints {
  /** 'ipv4' and 'ipv6' carry addresses and ports; 'unix' carries socket paths and port 0. */
  readonly family: 'ipv4' | 'ipv6' | 'unix';
  /** 'stream' (TCP, UNIX stream) or 'dgram' (UDP, UNIX datagram); v1 is always 'stream'. */
  readonly transport: 'stream' | 'dgram';
  /** The client's address: IPv4 dotted, IPv6 in the form Node reports (lower case, compressed). */
  readonly sourceAddress: string;
  readonly sourcePort: number;
  /** The address and port the client connected to on the proxy. */
  readonly destinationAddress: string;
  readonly destinationPort: number;
}

/** The v2 PP2_TYPE_SSL TLV: what the proxy knows of the client's TLS connection. */
export interface ProxySslFacts {
  /** The client connected over TLS (PP2_CLIENT_SSL). */
  readonly clientSsl: boolean;
  /** The client presented a certificate on this connection (PP2_CLIENT_CERT_CONN). */
  readonly clientCertConnection: boolean;
  /** The client presented a certificate at least once in this TLS session (PP2_CLIENT_CERT_SESS). */
  readonly clientCertSession: boolean;
  /** 0 when the client's certificate was presented and verified, else the proxy's non-zero code. */
  readonly verify: number;
  /** TLS version, e.g. 'TLSv1.3' (PP2_SUBTYPE_SSL_VERSION). */
  readonly version?: string;
  /** Common name of the client certificate's subject (PP2_SUBTYPE_SSL_CN). */
  readonly commonName?: string;
  /** Cipher, e.g. 'TLS_AES_256_GCM_SHA384' (PP2_SUBTYPE_SSL_CIPHER). */
  readonly cipher?: string;
  /** Signature algorithm of the proxy's certificate, e.g. 'RSA-SHA256' (PP2_SUBTYPE_SSL_SIG_ALG). */
  readonly signatureAlgorithm?: string;
  /** Key algorithm of the proxy's certificate, e.g. 'RSA2048' (PP2_SUBTYPE_SSL_KEY_ALG). */
  readonly keyAlgorithm?: string;
}

/** A TLV of a type this decoder does not interpret (for example a cloud provider's 0xE0-0xEF). */
export interface ProxyCustomTlv {
  readonly type: number;
  readonly value: Buffer;
}

/** The v2 TLVs. When a type appears more than once, the first is kept. */
export interface ProxyTlvs {
  /** Application protocol negotiated with the client, e.g. 'h2' (PP2_TYPE_ALPN; bytes as latin1). */
  readonly alpn?: string;
  /** Host name the client asked for: the TLS SNI when the proxy terminated TLS (PP2_TYPE_AUTHORITY; UTF-8). */
  readonly authority?: string;
  /** The CRC32C the header carried; the decoder has verified it (a mismatch refuses the header). */
  readonly crc32c?: number;
  /** The proxy's opaque id of the connection, at most 128 bytes (PP2_TYPE_UNIQUE_ID). */
  readonly uniqueId?: Buffer;
  readonly ssl?: ProxySslFacts;
  /** Network namespace name the proxy accepted the connection in (PP2_TYPE_NETNS). */
  readonly netns?: string;
  /** Other types, in header order (NOOP excluded). */
  readonly custom?: readonly ProxyCustomTlv[];
}

export interface ProxyHeader {
  readonly version: 1 | 2;
  /**
   * 'proxy': relayed on behalf of a client. 'local': the proxy's own
   * connection (v2 LOCAL, a health check). v1 has only 'proxy'.
   */
  readonly command: 'proxy' | 'local';
  /**
   * The client's endpoints; undefined when the connection's own addresses are
   * the ones to use: v2 LOCAL, v1 UNKNOWN, v2 AF_UNSPEC (the spec: use the real
   * connection's endpoints).
   */
  readonly endpoints: ProxyEndpoints | undefined;
  /** The v2 TLVs; an empty object for v1 and for headers without any. */
  readonly tlvs: ProxyTlvs;
  /** Bytes the header took on the wire. */
  readonly byteLength: number;
}
