import { constants } from 'node:crypto';
import { EventEmitter } from 'node:events';
import * as tls from 'node:tls';
import { CertificateFacts, certificateFacts, describeCertificate, keyStrength } from './cert-facts';
import { IdentityError, LoadedIdentity, fileFingerprint, isInlinePem, loadIdentity } from './identity';
import {
  DEFAULT_SSL_SRV_SECURITY,
  SSL_SRV_SECURITY_LEVELS,
  SecurityProfile,
  SslSrvSecurity,
  isSslSrvSecurity,
  securityProfile,
} from './security-levels';
import { ICS_ERR, icsError } from '@ics-ts/wsocket';

/** ICS SslCliCertMethod: none, optional ('request'), require. */
export type SslVerifyPeer = 'none' | 'request' | 'require';

/**
 * TSslContext options. The identity names follow ICS's TIcsHost fields, so a
 * host entry and a context read alike.
 */
export interface SslContextOptions {
  /** Certificate: a file (.pem/.crt/.cer/.der, or .pfx/.p12), inline PEM, or a PEM bundle with key and intermediates. */
  sslCert: string;
  /** Private key: a PEM file or inline PEM (not needed when sslCert is a bundle or PFX). */
  sslKey?: string;
  /** Password of an encrypted key or of a PFX. */
  sslPassword?: string;
  /** Intermediate certificates: a PEM file or inline PEM (when not in the bundle). */
  sslInter?: string;
  /** CA certificates for verifying client certificates: a PEM file or inline PEM. */
  sslCA?: string;
  /** ICS security level. Default 'high'. */
  sslSrvSecurity?: SslSrvSecurity;
  /** Override the TLS 1.2 cipher list of the level (ICS SslCipherList12). */
  sslCipherList12?: string;
  /** Override the TLS 1.3 suites of the level (ICS SslCipherList13). */
  sslCipherList13?: string;
  /** Ask for ('request') or demand ('require') a client certificate, verified against sslCA. Default 'none'. */
  sslVerifyPeer?: SslVerifyPeer;
  /** ALPN protocols offered, in preference order ('h2', 'http/1.1', 'imap'...). */
  alpnProtocols?: string[];
  /** TLS session lifetime in seconds (tickets and cache), 0 to 2147483647. Default 300 (ICS). */
  sessionTimeout?: number;
  /**
   * Issue session tickets (resumption without server state). Default true.
   * Off, TLS 1.2 sends no ticket and TLS 1.3 only a session-ID reference; as
   * Node keeps no server-side session cache of its own, there is then no
   * resumption unless the server stores sessions itself. OpenSSL turns tickets
   * off by itself from security level 3 (high128, high192).
   */
  sessionTickets?: boolean;
  /** Refuse an expired or not yet valid certificate instead of warning. Default false. */
  refuseExpired?: boolean;
  /** Warn when the certificate expires within this many days. Default 30 (ICS CertExpireDays). */
  expireWarnDays?: number;
}

export interface SslContextEvents {
  /** A reload loaded a changed identity; new connections get it. */
  reload: [facts: CertificateFacts];
  /** A reload failed; the last good identity stays in use. */
  reloadError: [error: Error];
}

export interface ReloadResult {
  changed: boolean;
  error?: Error;
}

const WHERE = 'TSslContext';
const INT32_MAX = 2_147_483_647;

/** What each OpenSSL security level asks of the keys (SSL_CTX_set_security_level). */
const SECLEVEL_NEEDS: Record<number, string> = {
  0: 'any key',
  1: '80-bit: RSA >= 1024 bits or EC >= 160 bits',
  2: '112-bit: RSA >= 2048 bits or EC >= 224 bits',
  3: '128-bit: RSA >= 3072 bits or EC >= P-256',
  4: '192-bit: RSA >= 7680 bits or EC >= P-384',
  5: '256-bit: RSA >= 15360 bits or EC >= P-521',
};

function sourceName(sslCert: string): string {
  return isInlinePem(sslCert) ? 'sslCert (inline PEM)' : `sslCert file ${sslCert}`;
}

const KNOWN_KEYS = new Set([
  'sslCert', 'sslKey', 'sslPassword', 'sslInter', 'sslCA', 'sslSrvSecurity', 'sslCipherList12', 'sslCipherList13',
  'sslVerifyPeer', 'alpnProtocols', 'sessionTimeout', 'sessionTickets', 'refuseExpired', 'expireWarnDays',
]);

/**
 * TSslContext: a server identity, its security level and TLS settings, as one
 * Node SecureContext that can be reloaded atomically: handshakes started after
 * a reload use the new one, connections already open keep theirs.
 */
export class TSslContext extends EventEmitter<SslContextEvents> {
  readonly options: Readonly<SslContextOptions>;
  readonly profile: SecurityProfile;
  private context: tls.SecureContext;
  private identity: LoadedIdentity;
  private currentFacts: CertificateFacts;
  private currentWarnings: string[];

  constructor(options: SslContextOptions) {
    super();
    validateSslContextOptions(options);
    this.options = { ...options };
    this.profile = securityProfile(
      options.sslSrvSecurity ?? DEFAULT_SSL_SRV_SECURITY,
      options.sslCipherList12,
      options.sslCipherList13,
    );
    const built = this.build();
    this.identity = built.identity;
    this.context = built.context;
    this.currentFacts = built.facts;
    this.currentWarnings = built.warnings;
  }

  /** The SecureContext for new handshakes. */
  get secureContext(): tls.SecureContext {
    return this.context;
  }

  get facts(): CertificateFacts {
    return this.currentFacts;
  }

  /** Problems worth a look that did not stop loading (expiry soon, expired when allowed...). */
  get warnings(): readonly string[] {
    return this.currentWarnings;
  }

  /** One line for a person. */
  describe(): string {
    return `${describeCertificate(this.currentFacts)}, security ${this.profile.level}`;
  }

  /**
   * Options for the TLS socket of a connection served with this context
   * (those that Node sets per socket, not per SecureContext):
   * `new tls.TLSSocket(raw, { isServer: true, secureContext: ctx.secureContext, ...ctx.socketOptions() })`.
   * (`tls.createServer()` ignores a `secureContext` option; it builds its own
   * from key/cert.) On such a socket 'require' makes OpenSSL refuse a client
   * that sends no certificate, but a certificate that fails verification only
   * shows in the socket's verify result, which the server must check and act
   * on, as tls.Server does.
   */
  socketOptions(): Pick<tls.TLSSocketOptions, 'requestCert' | 'rejectUnauthorized' | 'ALPNProtocols'> {
    const verify = this.options.sslVerifyPeer ?? 'none';
    return {
      requestCert: verify !== 'none',
      rejectUnauthorized: verify === 'require',
      ALPNProtocols: this.options.alpnProtocols,
    };
  }

  /**
   * Re-reads the identity files when one changed (by content), and swaps the
   * context in. A failed reload keeps the last good context and says why.
   */
  reload(force = false): ReloadResult {
    if (!force && !this.filesChanged()) return { changed: false };
    let built: ReturnType<TSslContext['build']>;
    try {
      built = this.build();
    } catch (err) {
      const error = err instanceof Error ? err : icsError(Error, ICS_ERR.CERTIFICATE, String(err));
      this.emit('reloadError', error);
      return { changed: false, error };
    }
    this.identity = built.identity;
    this.context = built.context;
    this.currentFacts = built.facts;
    this.currentWarnings = built.warnings;
    this.emit('reload', built.facts);
    return { changed: true };
  }

  private filesChanged(): boolean {
    for (const [path, print] of this.identity.files) {
      if (fileFingerprint(path) !== print) return true;
    }
    return false;
  }

  private build(): { identity: LoadedIdentity; context: tls.SecureContext; facts: CertificateFacts; warnings: string[] } {
    const o = this.options;
    const identity = loadIdentity(o);
    const facts = certificateFacts(identity.certificate);
    const warnings = this.checkValidity(facts);
    const p = this.profile;
    let context: tls.SecureContext;
    try {
      context = tls.createSecureContext({
        cert: identity.certChain,
        key: identity.keyPem,
        pfx: identity.pfx,
        passphrase: identity.passphrase,
        ca: identity.caPem,
        minVersion: p.minVersion,
        maxVersion: p.maxVersion,
        ciphers: `${p.cipherSuites}:${p.ciphers}`,
        honorCipherOrder: p.honorCipherOrder,
        sessionTimeout: o.sessionTimeout ?? 300,
        sessionIdContext: 'ics-ts',
        secureOptions: o.sessionTickets === false ? constants.SSL_OP_NO_TICKET : undefined,
      });
    } catch (err) {
      throw this.contextError(err, identity);
    }
    return { identity, context, facts, warnings };
  }

  /**
   * Why createSecureContext refused. The cipher lists (and so the OpenSSL
   * security level) are set before the certificate is loaded, so OpenSSL
   * checks the key sizes of the chain against the level right then.
   */
  private contextError(err: unknown, identity: LoadedIdentity): Error {
    const o = this.options;
    const p = this.profile;
    const message = (err as Error).message;
    // loadPKCS12 (PFX) throws with the bare OpenSSL reason and no code.
    const reason = /ee key too small|ca key too small|ca md too weak|no cipher match/i.exec(message)?.[0];
    const code = (err as NodeJS.ErrnoException).code ?? (reason ? `ERR_SSL_${reason.toUpperCase().replace(/ /g, '_')}` : undefined);
    const where = sourceName(o.sslCert);
    const needs = `sslSrvSecurity ${p.level} (OpenSSL security level ${p.secLevel}: ${SECLEVEL_NEEDS[p.secLevel] ?? 'see OpenSSL'})`;
    if (code === 'ERR_SSL_EE_KEY_TOO_SMALL') {
      const strength = keyStrength(identity.certificate);
      return new IdentityError(
        `${where}: the certificate key (${strength.label}, ${strength.bits}-bit security) is too small for ${needs}`,
        { cause: err },
      );
    }
    if (code === 'ERR_SSL_CA_KEY_TOO_SMALL') {
      return new IdentityError(`${where}: the key of an intermediate certificate is too small for ${needs}`, { cause: err });
    }
    if (code === 'ERR_SSL_CA_MD_TOO_WEAK') {
      return new IdentityError(`${where}: a certificate of the chain is signed with a digest too weak for ${needs}`, { cause: err });
    }
    if (code === 'ERR_SSL_NO_CIPHER_MATCH' && (o.sslCipherList12 || o.sslCipherList13)) {
      return icsError(TypeError, ICS_ERR.INVALID_OPTION,
        `${WHERE}: option sslCipherList12/sslCipherList13 names no cipher OpenSSL can use ` +
          `(sslCipherList12 ${JSON.stringify(o.sslCipherList12)}, sslCipherList13 ${JSON.stringify(o.sslCipherList13)})`,
      );
    }
    return new IdentityError(`${where}: OpenSSL refused the identity at sslSrvSecurity ${p.level} (${message})`, { cause: err });
  }

  private checkValidity(facts: CertificateFacts): string[] {
    const warnings: string[] = [];
    const now = Date.now();
    const where = sourceName(this.options.sslCert);
    let problem: string | undefined;
    if (facts.notAfter.getTime() < now) problem = `${where}: certificate expired on ${facts.notAfter.toISOString()}`;
    else if (facts.notBefore.getTime() > now) problem = `${where}: certificate not valid before ${facts.notBefore.toISOString()}`;
    if (problem) {
      if (this.options.refuseExpired) throw new IdentityError(problem, { code: ICS_ERR.CERTIFICATE_EXPIRED });
      warnings.push(problem);
    } else if (facts.daysLeft < (this.options.expireWarnDays ?? 30)) {
      warnings.push(`${where}: certificate expires in ${facts.daysLeft} days (${facts.notAfter.toISOString()})`);
    }
    return warnings;
  }
}

/** Type and range checks; the message names the option and the value. */
export function validateSslContextOptions(options: SslContextOptions, where = WHERE): void {
  if (options === null || typeof options !== 'object') throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${where}: options must be an object`);
  for (const key of Object.keys(options)) {
    if (!KNOWN_KEYS.has(key)) throw icsError(TypeError, ICS_ERR.UNKNOWN_OPTION, `${where}: unknown option ${JSON.stringify(key)}`);
  }
  if (typeof options.sslCert !== 'string' || options.sslCert === '') {
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${where}: option sslCert must be a file name or PEM text, got ${JSON.stringify(options.sslCert)}`);
  }
  for (const key of ['sslKey', 'sslPassword', 'sslInter', 'sslCA', 'sslCipherList12', 'sslCipherList13'] as const) {
    const value = options[key];
    if (value !== undefined && typeof value !== 'string') {
      throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${where}: option ${key} must be a string, got ${JSON.stringify(value)}`);
    }
  }
  if (options.sslSrvSecurity !== undefined && !isSslSrvSecurity(options.sslSrvSecurity)) {
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION,
      `${where}: option sslSrvSecurity must be one of ${SSL_SRV_SECURITY_LEVELS.join(', ')}, got ${JSON.stringify(options.sslSrvSecurity)}`,
    );
  }
  const verify = options.sslVerifyPeer;
  if (verify !== undefined && verify !== 'none' && verify !== 'request' && verify !== 'require') {
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${where}: option sslVerifyPeer must be 'none', 'request' or 'require', got ${JSON.stringify(verify)}`);
  }
  if (verify !== undefined && verify !== 'none' && !options.sslCA) {
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${where}: option sslVerifyPeer ${JSON.stringify(verify)} needs sslCA (the CAs client certificates are checked against)`);
  }
  const alpn = options.alpnProtocols;
  if (alpn !== undefined && (!Array.isArray(alpn) || alpn.some((p) => typeof p !== 'string' || p === '' || p.length > 255))) {
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${where}: option alpnProtocols must be an array of non-empty strings, got ${JSON.stringify(alpn)}`);
  }
  for (const key of ['sessionTimeout', 'expireWarnDays'] as const) {
    const value = options[key];
    if (value === undefined) continue;
    if (typeof value !== 'number') throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${where}: option ${key} must be a number, got ${JSON.stringify(value)}`);
    if (!Number.isInteger(value) || value < 0 || value > INT32_MAX) {
      throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `${where}: option ${key} must be an integer from 0 to ${INT32_MAX}, got ${String(value)}`);
    }
  }
  for (const key of ['sessionTickets', 'refuseExpired'] as const) {
    const value = options[key];
    if (value !== undefined && typeof value !== 'boolean') {
      throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${where}: option ${key} must be a boolean, got ${JSON.stringify(value)}`);
    }
  }
}
