import type * as acme from 'acme-client';
import { acmeLibrary } from './acme-library';
import { createHash } from 'node:crypto';
import * as tls from 'node:tls';
import { ICS_ERR, icsError } from '@ics-ts/wsocket';

/** RFC 8737: the ALPN protocol a CA offers when it checks a tls-alpn-01 challenge. */
export const ACME_TLS_ALPN = 'acme-tls/1';
/** RFC 8737: id-pe-acmeIdentifier, the extension holding SHA-256(key authorization). */
export const ACME_IDENTIFIER_OID = '1.3.6.1.5.5.7.1.31';
/** RFC 8555 8.3: where http-01 answers. */
export const HTTP01_PREFIX = '/.well-known/acme-challenge/';

/** RFC 8555 8.1: a token is base64url, at least 128 bits; we take up to 256 characters. */
const TOKEN = /^[A-Za-z0-9_-]{16,256}$/;

/**
 * The answers one certificate manager holds while its order runs: a key authorization per http-01
 * token, a self-signed acmeIdentifier certificate per name for tls-alpn-01. Looking one up is a Map
 * read; nothing is held once the order ends.
 */
export class PendingChallenges {
  private readonly http01 = new Map<string, string>();
  private readonly tlsAlpn01 = new Map<string, tls.SecureContext>();

  get size(): number {
    return this.http01.size + this.tlsAlpn01.size;
  }

  /** The key authorization to answer `GET /.well-known/acme-challenge/TOKEN` with, if the token is ours. */
  http01Response(path: string): string | undefined {
    if (this.http01.size === 0 || !path.startsWith(HTTP01_PREFIX)) return undefined;
    return this.http01.get(path.slice(HTTP01_PREFIX.length));
  }

  /** The acme-tls/1 context for a server name (lower case), if a challenge for it is pending. */
  contextFor(serverName: string): tls.SecureContext | undefined {
    return this.tlsAlpn01.size === 0 ? undefined : this.tlsAlpn01.get(serverName.toLowerCase());
  }

  addHttp01(token: string, keyAuthorization: string): void {
    if (!TOKEN.test(token)) throw icsError(Error, ICS_ERR.ACME_ORDER_FAILED, `the CA sent an http-01 token that is not base64url: ${JSON.stringify(token.slice(0, 40))}`);
    this.http01.set(token, keyAuthorization);
  }

  /**
   * RFC 8737 section 3: a self-signed certificate for the name with a critical acmeIdentifier
   * extension holding SHA-256 of the key authorization, served to a connection offering ALPN
   * acme-tls/1 with that name. The key is the caller's ECDSA P-256 key: one key type with the
   * listener's default (Node serves the default certificate when SNI picks another key type, nodejs#54235).
   */
  async addTlsAlpn01(authz: acme.Authorization, keyAuthorization: string, keyPem: string): Promise<void> {
    const [, cert] = await acmeLibrary().crypto.createAlpnCertificate(authz, keyAuthorization, keyPem);
    const context = tls.createSecureContext({ key: keyPem, cert, minVersion: 'TLSv1.2' });
    this.tlsAlpn01.set(authz.identifier.value.toLowerCase(), context);
  }

  clear(): void {
    this.http01.clear();
    this.tlsAlpn01.clear();
  }
}

/** SHA-256 of a key authorization: what the acmeIdentifier extension must hold (for checks and tests). */
export function acmeIdentifierDigest(keyAuthorization: string): Buffer {
  return createHash('sha256').update(keyAuthorization).digest();
}
