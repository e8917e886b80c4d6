import type { SecureVersion } from 'node:tls';

/**
 * ICS TSslSrvSecurity levels (V9.3 to V9.5 mapping, OverbyteIcsWSocketS.pas
 * ValidateHosts): every level has TLS 1.2 as its floor; they differ in cipher
 * list, OpenSSL security level and the TLS version ceiling/floor.
 */
export type SslSrvSecurity =
  | 'none'
  | 'ssl3'
  | 'back'
  | 'inter'
  | 'interFS'
  | 'high'
  | 'high128'
  | 'high192'
  | 'tls12Less'
  | 'tls13Only';

export const SSL_SRV_SECURITY_LEVELS: readonly SslSrvSecurity[] = [
  'none', 'ssl3', 'back', 'inter', 'interFS', 'high', 'high128', 'high192', 'tls12Less', 'tls13Only',
];

export const DEFAULT_SSL_SRV_SECURITY: SslSrvSecurity = 'high';

/** ICS sslCipherSuitesTLS13. */
export const TLS13_SUITES = 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256';

/** ICS sslCiphersMozillaSrvTLS12 (Mozilla "intermediate": all forward-secret AEAD). */
export const MOZILLA_TLS12 =
  'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:' +
  'ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:' +
  'DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305';

/** ICS sslCiphersMozillaSrvBack, expressed as an OpenSSL rule: broad, legacy CBC/SHA1 included, the broken ones excluded. */
export const MOZILLA_BACK = 'HIGH:MEDIUM:!aNULL:!eNULL:!EXPORT:!DES:!RC4:!MD5:!PSK:!SRP:!CAMELLIA:!3DES';

export interface SecurityProfile {
  level: SslSrvSecurity;
  minVersion: SecureVersion;
  maxVersion: SecureVersion;
  /** TLS 1.2 and below cipher list, with the OpenSSL security level appended. */
  ciphers: string;
  /** TLS 1.3 cipher suites. */
  cipherSuites: string;
  /** OpenSSL security level (0 any, 1 80-bit, 2 112-bit, 3 128-bit, 4 192-bit). */
  secLevel: number;
  /** Server cipher order preferred over the client's. */
  honorCipherOrder: boolean;
  /** What it means, for a person. */
  summary: string;
}

interface LevelRow {
  min: SecureVersion;
  max: SecureVersion;
  tls12: string;
  secLevel: number;
  serverOrder: boolean;
  summary: string;
}

const TABLE: Record<SslSrvSecurity, LevelRow> = {
  // ICS uses 'ALL', which includes anonymous suites (no server authentication at all): we exclude those.
  none: { min: 'TLSv1.2', max: 'TLSv1.3', tls12: 'ALL:!aNULL:!eNULL', secLevel: 0, serverOrder: true, summary: 'TLS 1.2+, any authenticated cipher, no key-size floor' },
  ssl3: { min: 'TLSv1.2', max: 'TLSv1.3', tls12: MOZILLA_TLS12, secLevel: 1, serverOrder: false, summary: 'no longer supported by ICS: same as back but Mozilla ciphers' },
  back: { min: 'TLSv1.2', max: 'TLSv1.3', tls12: MOZILLA_BACK, secLevel: 1, serverOrder: true, summary: 'TLS 1.2+, legacy ciphers (CBC, SHA1) for old clients, 80-bit keys' },
  inter: { min: 'TLSv1.2', max: 'TLSv1.3', tls12: MOZILLA_TLS12, secLevel: 2, serverOrder: false, summary: 'as high (ICS merged inter, interFS and high in V8.66)' },
  interFS: { min: 'TLSv1.2', max: 'TLSv1.3', tls12: MOZILLA_TLS12, secLevel: 2, serverOrder: false, summary: 'as high' },
  high: { min: 'TLSv1.2', max: 'TLSv1.3', tls12: MOZILLA_TLS12, secLevel: 2, serverOrder: false, summary: 'TLS 1.2+ forward-secret AEAD ciphers, 112-bit keys (default)' },
  high128: { min: 'TLSv1.2', max: 'TLSv1.3', tls12: MOZILLA_TLS12, secLevel: 3, serverOrder: false, summary: 'as high, 128-bit keys: RSA >= 3072 or EC >= 256 across the chain' },
  high192: { min: 'TLSv1.2', max: 'TLSv1.3', tls12: MOZILLA_TLS12, secLevel: 4, serverOrder: false, summary: 'as high, 192-bit keys: RSA >= 7680 or EC >= 384 across the chain' },
  tls12Less: { min: 'TLSv1.2', max: 'TLSv1.2', tls12: MOZILLA_TLS12, secLevel: 2, serverOrder: false, summary: 'TLS 1.2 only (TLS 1.3 off)' },
  tls13Only: { min: 'TLSv1.3', max: 'TLSv1.3', tls12: MOZILLA_TLS12, secLevel: 2, serverOrder: false, summary: 'TLS 1.3 only' },
};

export function isSslSrvSecurity(value: unknown): value is SslSrvSecurity {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(TABLE, value);
}

/**
 * The settings of a level; `cipherList12`/`cipherList13` override the lists as
 * ICS's TIcsHost SslCipherList12/SslCipherList13 do.
 */
export function securityProfile(level: SslSrvSecurity, cipherList12?: string, cipherList13?: string): SecurityProfile {
  const row = TABLE[level];
  return {
    level,
    minVersion: row.min,
    maxVersion: row.max,
    ciphers: `${cipherList12 || row.tls12}:@SECLEVEL=${row.secLevel}`,
    cipherSuites: cipherList13 || TLS13_SUITES,
    secLevel: row.secLevel,
    honorCipherOrder: row.serverOrder,
    summary: row.summary,
  };
}
