import { createHash, createPrivateKey, KeyObject, X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { ICS_ERR, type IcsErrorCode } from '@ics-ts/wsocket';
import { extname } from 'node:path';
import * as tls from 'node:tls';

/**
 * Loads a server identity the way ICS's LoadOneCert recognises its sources:
 * text holding "-----BEGIN " is inline PEM; anything else is a file whose
 * extension says what it is (.pfx/.p12 PKCS#12; .pem/.crt/.cer/.der/.0-.9
 * PEM or DER). A PEM bundle may hold the key, the certificate and the
 * intermediates together.
 */

export interface IdentitySources {
  sslCert: string;
  sslKey?: string;
  sslPassword?: string;
  sslInter?: string;
  sslCA?: string;
}

/** What was loaded, ready for tls.createSecureContext. */
export interface LoadedIdentity {
  /** The leaf certificate. */
  certificate: X509Certificate;
  /** PEM: leaf then intermediates (what the server sends). */
  certChain?: string;
  /** PEM private key (decrypted). */
  keyPem?: string;
  /** PKCS#12 bytes, when the identity came from a PFX. */
  pfx?: Buffer;
  passphrase?: string;
  /** CA certificates (PEM) for verifying client certificates. */
  caPem?: string;
  /** The files read, with a fingerprint of their contents (for reload). */
  files: Map<string, string>;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/g;
const KEY_LABELS = new Set(['PRIVATE KEY', 'ENCRYPTED PRIVATE KEY', 'EC PRIVATE KEY', 'RSA PRIVATE KEY']);
const PEM_EXTENSIONS = new Set(['.pem', '.crt', '.cer', '.der', '.key', '.0', '.1', '.2', '.3', '.4', '.5', '.6', '.7', '.8', '.9']);

/** A certificate, key or CA that cannot be used; `code` ICS_ERR_CERTIFICATE, or ICS_ERR_CERTIFICATE_EXPIRED. */
export class IdentityError extends Error {
  readonly code: IcsErrorCode;
  constructor(message: string, options?: { cause?: unknown; code?: IcsErrorCode }) {
    super(message, options);
    this.name = 'IdentityError';
    this.code = options?.code ?? ICS_ERR.CERTIFICATE;
  }
}

export function isInlinePem(value: string): boolean {
  return value.includes('-----BEGIN ');
}

function describeSource(option: string, value: string): string {
  return isInlinePem(value) ? `${option} (inline PEM)` : `${option} file ${value}`;
}

function readSource(option: string, value: string, files: Map<string, string>): Buffer {
  if (isInlinePem(value)) return Buffer.from(value, 'latin1');
  let bytes: Buffer;
  try {
    bytes = readFileSync(value);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'not found' : code === 'EACCES' ? 'not readable (permission denied)' : String(err);
    throw new IdentityError(`${option} file ${value}: ${why}`, { cause: err });
  }
  files.set(value, fingerprint(bytes));
  return bytes;
}

export function fingerprint(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Fingerprint of a file now, or undefined if it cannot be read. */
export function fileFingerprint(path: string): string | undefined {
  try {
    statSync(path);
    return fingerprint(readFileSync(path));
  } catch {
    return undefined;
  }
}

interface PemParts {
  certs: string[];
  key?: string;
}

function splitPem(text: string): PemParts {
  const parts: PemParts = { certs: [] };
  for (const match of text.matchAll(PEM_BLOCK)) {
    const label = match[1];
    if (label === 'CERTIFICATE') parts.certs.push(match[0]);
    else if (KEY_LABELS.has(label) && parts.key === undefined) parts.key = match[0];
  }
  return parts;
}

/** PEM text of a certificate source, converting DER. */
function certificatePem(option: string, value: string, bytes: Buffer): string {
  const text = bytes.toString('latin1');
  if (text.includes('-----BEGIN ')) return text;
  try {
    return new X509Certificate(bytes).toString();
  } catch (err) {
    throw new IdentityError(`${describeSource(option, value)}: neither PEM nor a DER certificate`, { cause: err });
  }
}

function decryptKey(option: string, value: string, keyPem: string, password: string | undefined): KeyObject {
  try {
    return createPrivateKey({ key: keyPem, passphrase: password ?? '' });
  } catch (err) {
    const encrypted = keyPem.includes('ENCRYPTED') || /Proc-Type: 4,ENCRYPTED/.test(keyPem);
    const why = encrypted
      ? password
        ? 'wrong sslPassword for the private key'
        : 'the private key is encrypted: sslPassword is needed'
      : 'not a readable private key';
    throw new IdentityError(`${describeSource(option, value)}: ${why}`, { cause: err });
  }
}

function loadPfx(sources: IdentitySources, bytes: Buffer): { certificate: X509Certificate } {
  let context: tls.SecureContext;
  try {
    context = tls.createSecureContext({ pfx: bytes, passphrase: sources.sslPassword ?? '' });
  } catch (err) {
    const message = (err as Error).message;
    const why = /mac verify|password|decrypt/i.test(message)
      ? sources.sslPassword
        ? 'wrong sslPassword'
        : 'the PFX is protected: sslPassword is needed'
      : (err as NodeJS.ErrnoException).code === 'ERR_CRYPTO_UNSUPPORTED_OPERATION'
        ? 'the PFX uses legacy encryption (RC2/3DES) that OpenSSL 3 does not read; re-export it: ' +
          '`openssl pkcs12 -legacy -in old.pfx -nodes | openssl pkcs12 -export -out new.pfx`'
        : `not a usable PKCS#12 file (${message})`;
    throw new IdentityError(`sslCert file ${sources.sslCert}: ${why}`, { cause: err });
  }
  // Node's SecureContext can hand back the leaf it loaded from the PFX (DER).
  const native = (context as unknown as { context: { getCertificate(): Buffer | null } }).context;
  const der = native.getCertificate();
  if (!der) throw new IdentityError(`sslCert file ${sources.sslCert}: the PFX holds no certificate`);
  return { certificate: new X509Certificate(der) };
}

export function loadIdentity(sources: IdentitySources): LoadedIdentity {
  const files = new Map<string, string>();
  const { sslCert, sslKey, sslPassword, sslInter, sslCA } = sources;
  const caPem = sslCA ? certificatePem('sslCA', sslCA, readSource('sslCA', sslCA, files)) : undefined;
  if (caPem !== undefined && splitPem(caPem).certs.length === 0) {
    throw new IdentityError(`${describeSource('sslCA', sslCA!)}: holds no certificate`);
  }

  if (!isInlinePem(sslCert)) {
    const ext = extname(sslCert).toLowerCase();
    if (ext === '.pfx' || ext === '.p12') {
      const bytes = readSource('sslCert', sslCert, files);
      const { certificate } = loadPfx(sources, bytes);
      return { certificate, pfx: bytes, passphrase: sslPassword ?? '', caPem, files };
    }
    if (!PEM_EXTENSIONS.has(ext)) {
      throw new IdentityError(
        `sslCert file ${sslCert}: unknown certificate file extension "${ext}" (use .pem, .crt, .cer, .der, .pfx or .p12)`,
      );
    }
  }

  const certText = certificatePem('sslCert', sslCert, readSource('sslCert', sslCert, files));
  const bundle = splitPem(certText);
  if (bundle.certs.length === 0) throw new IdentityError(`${describeSource('sslCert', sslCert)}: holds no certificate`);
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(bundle.certs[0]);
  } catch (err) {
    throw new IdentityError(`${describeSource('sslCert', sslCert)}: the certificate cannot be parsed`, { cause: err });
  }

  let keySource = 'sslCert';
  let keyValue = sslCert;
  let keyPemText = bundle.key;
  if (keyPemText === undefined) {
    if (!sslKey) throw new IdentityError(`sslKey: a private key is needed (none in ${describeSource('sslCert', sslCert)})`);
    keySource = 'sslKey';
    keyValue = sslKey;
    keyPemText = splitPem(readSource('sslKey', sslKey, files).toString('latin1')).key;
    if (keyPemText === undefined) throw new IdentityError(`${describeSource('sslKey', sslKey)}: holds no private key`);
  }
  const key = decryptKey(keySource, keyValue, keyPemText, sslPassword);
  if (!certificate.checkPrivateKey(key)) {
    throw new IdentityError(
      `${describeSource(keySource, keyValue)}: the private key does not match the certificate in ${describeSource('sslCert', sslCert)}`,
    );
  }

  let intermediates = bundle.certs.slice(1);
  if (intermediates.length === 0 && sslInter) {
    const interText = certificatePem('sslInter', sslInter, readSource('sslInter', sslInter, files));
    intermediates = splitPem(interText).certs;
    if (intermediates.length === 0) throw new IdentityError(`${describeSource('sslInter', sslInter)}: holds no certificate`);
  }
  return {
    certificate,
    certChain: [bundle.certs[0], ...intermediates].join('\n'),
    keyPem: key.export({ type: 'pkcs8', format: 'pem' }) as string,
    caPem,
    files,
  };
}
