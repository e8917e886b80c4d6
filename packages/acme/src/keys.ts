import { acmeLibrary } from './acme-library';
import { X509Certificate, createPrivateKey, generateKeyPair } from 'node:crypto';
import { subjectAltNames } from '@ics-ts/ssl-context';
import type { AcmeKeyType } from './options';
import { ICS_ERR, type IcsErrorCode } from '@ics-ts/wsocket';

/** A new private key as PKCS#8 PEM, generated off the event loop (RSA 3072 takes about a second). */
export async function newPrivateKey(keyType: AcmeKeyType): Promise<string> {
  const privateKeyEncoding = { type: 'pkcs8', format: 'pem' } as const;
  const publicKeyEncoding = { type: 'spki', format: 'pem' } as const;
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, _publicKey: string, privateKey: string): void => (err ? reject(err) : resolve(privateKey));
    if (keyType === 'ecdsa-p256') generateKeyPair('ec', { namedCurve: 'prime256v1', privateKeyEncoding, publicKeyEncoding }, done);
    else generateKeyPair('rsa', { modulusLength: keyType === 'rsa-2048' ? 2048 : 3072, privateKeyEncoding, publicKeyEncoding }, done);
  });
}

/** The key type of a PEM private key, when it is one of ours. */
export function keyTypeOf(keyPem: string): AcmeKeyType | undefined {
  const key = createPrivateKey(keyPem);
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec' && details?.namedCurve === 'prime256v1') return 'ecdsa-p256';
  if (key.asymmetricKeyType === 'rsa' && details?.modulusLength === 2048) return 'rsa-2048';
  if (key.asymmetricKeyType === 'rsa' && details?.modulusLength === 3072) return 'rsa-3072';
  return undefined;
}

/** A PKCS#10 request for the names (the first is the common name), signed with the key. */
export async function certificateRequest(names: string[], keyPem: string): Promise<Buffer> {
  const [, csr] = await acmeLibrary().crypto.createCsr({ commonName: names[0], altNames: names }, keyPem);
  return csr;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----/g;
/** A chain longer than this is not a certificate chain a CA sends. */
const MAX_CHAIN = 10;

/** A certificate with its key, as the work directory keeps it and a TSslContext loads it. */
export interface CertificateBundle {
  /** The certificate's private key (PKCS#8 PEM). */
  keyPem: string;
  /** The leaf certificate (PEM). */
  certPem: string;
  /** The intermediates, leaf excluded (PEM, may be empty). */
  chainPem: string;
  notBefore: Date;
  notAfter: Date;
  /** DNS names of the subjectAltName. */
  names: string[];
  fingerprint256: string;
  /** Self-signed: the stand-in made while no CA certificate exists yet. */
  standIn: boolean;
}

export class CertificateCheckError extends Error {
  override readonly name = 'CertificateCheckError';
  readonly code: IcsErrorCode = ICS_ERR.ACME_CERTIFICATE_CHECK;
}

/**
 * Splits a PEM chain and checks it is what we asked for: the leaf holds our key and every name, and
 * is valid now. What a CA sends is input like any other: a wrong answer is refused, never installed.
 */
export function checkBundle(keyPem: string, chain: string, names: readonly string[], now = Date.now()): CertificateBundle {
  const certs: string[] = chain.match(PEM_CERT) ?? [];
  if (certs.length === 0) throw new CertificateCheckError('the certificate chain holds no PEM certificate');
  if (certs.length > MAX_CHAIN) throw new CertificateCheckError(`the certificate chain holds ${certs.length} certificates, more than ${MAX_CHAIN}`);
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(certs[0]);
  } catch (err) {
    throw new CertificateCheckError('the certificate cannot be parsed', { cause: err });
  }
  if (!leaf.checkPrivateKey(createPrivateKey(keyPem))) throw new CertificateCheckError('the certificate does not hold our key');
  const held = subjectAltNames(leaf.subjectAltName).map((name) => name.toLowerCase());
  const missing = names.filter((name) => !held.includes(name));
  if (missing.length > 0) throw new CertificateCheckError(`the certificate lacks the names ${missing.join(', ')} (it has ${held.join(', ')})`);
  const notBefore = new Date(leaf.validFrom);
  const notAfter = new Date(leaf.validTo);
  if (notAfter.getTime() <= now) throw new CertificateCheckError(`the certificate expired on ${notAfter.toISOString()}`);
  return {
    keyPem,
    certPem: `${certs[0]}\n`,
    chainPem: certs.slice(1).map((cert) => `${cert}\n`).join(''),
    notBefore,
    notAfter,
    names: held,
    fingerprint256: leaf.fingerprint256,
    standIn: leaf.issuer === leaf.subject && leaf.verify(leaf.publicKey),
  };
}

/** The one-file form: key, leaf, intermediates. TSslContext reads it as sslCert (a bundle with its key). */
export function bundlePem(bundle: CertificateBundle): string {
  return `${bundle.keyPem.trimEnd()}\n${bundle.certPem}${bundle.chainPem}`;
}

/** Reads the one-file form back: the key and the chain. */
export function splitBundlePem(text: string): { keyPem: string; chain: string } | undefined {
  const key = /-----BEGIN PRIVATE KEY-----[A-Za-z0-9+/=\r\n]+-----END PRIVATE KEY-----/.exec(text);
  if (!key) return undefined;
  return { keyPem: `${key[0]}\n`, chain: text.slice(key.index + key[0].length) };
}
