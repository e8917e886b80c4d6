import 'reflect-metadata'; // @peculiar/x509 uses tsyringe, which needs it loaded first
import * as x509 from '@peculiar/x509';
import { createPrivateKey, randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { normalizeHostName, subjectAltNames } from './cert-facts';
import { ICS_ERR, icsError } from '@ics-ts/wsocket';

/**
 * Development certificates, so a demo or a test needs no files: ECDSA P-256
 * (one key type for every certificate a listener serves: Node 20 serves the
 * default certificate when SNI picks one of another key type, nodejs#54235),
 * self-signed, or signed by a local development CA.
 */

export interface DevIdentity {
  /** PEM certificate (for a CA-signed one: leaf then the CA). */
  cert: string;
  /** PEM PKCS#8 private key. */
  key: string;
}

export interface DevCertificateOptions {
  /** DNS names and IP addresses the certificate is for; the first is its CN. */
  names: string[];
  /** Days of validity. Default 90. */
  days?: number;
  /** Sign with this CA instead of self-signing. */
  ca?: DevIdentity;
  /** Start of validity. Default: one hour ago (clock skew). */
  notBefore?: Date;
  /**
   * Keep the files in this directory (`<names[0]>.crt.pem`, `<names[0]>.key.pem`) and reuse them while they
   * are valid for more than a day, for exactly the same names and from the same issuer (self-signed, or `ca`).
   * Off unless given.
   */
  cacheDir?: string;
}

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

let providerSet = false;
function provider(): void {
  if (!providerSet) {
    x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
    providerSet = true;
  }
}

type KeyPair = webcrypto.CryptoKeyPair;
type Key = webcrypto.CryptoKey;

async function newKeys(): Promise<KeyPair> {
  return (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as KeyPair;
}

async function keyPem(key: Key): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({ type: 'pkcs8', format: 'pem' }) as string;
}

async function importKey(pem: string): Promise<Key> {
  const der = createPrivateKey(pem).export({ type: 'pkcs8', format: 'der' });
  return (await webcrypto.subtle.importKey('pkcs8', der, ALGORITHM, false, ['sign'])) as Key;
}

function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] &= 0x7f; // positive
  return bytes.toString('hex');
}

function altNames(names: string[]): x509.JsonGeneralName[] {
  return names.map((name) => (isIP(name) ? { type: 'ip', value: name } : { type: 'dns', value: name }));
}

function dnQuote(name: string): string {
  return name.replace(/([,+"\\<>;=])/g, '\\$1');
}

/** A local development CA (self-signed, may sign certificates). */
export async function createDevCA(name = 'ics-ts development CA', days = 365): Promise<DevIdentity> {
  if (typeof name !== 'string' || name === '') throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `createDevCA: name must be a non-empty string, got ${JSON.stringify(name)}`);
  if (!Number.isInteger(days) || days < 1) throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `createDevCA: days must be an integer >= 1, got ${days}`);
  provider();
  const keys = await newKeys();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${dnQuote(name)}`,
    notBefore: new Date(now - HOUR_MS),
    notAfter: new Date(now + days * DAY_MS),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: cert.toString('pem'), key: await keyPem(keys.privateKey) };
}

/** A server certificate for `names`: self-signed, or signed by `ca`. */
export async function createDevCertificate(options: DevCertificateOptions): Promise<DevIdentity> {
  const { names } = options;
  if (!Array.isArray(names) || names.length === 0 || names.some((n) => !isHostName(n))) {
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION,
      `createDevCertificate: option names must be a non-empty array of host names or IP addresses, got ${JSON.stringify(names)}`,
    );
  }
  const days = options.days ?? 90;
  if (!Number.isInteger(days) || days < 1) throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `createDevCertificate: option days must be an integer >= 1, got ${days}`);
  if (options.notBefore !== undefined && (!(options.notBefore instanceof Date) || Number.isNaN(options.notBefore.getTime()))) {
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `createDevCertificate: option notBefore must be a valid Date, got ${String(options.notBefore)}`);
  }
  if (options.cacheDir) {
    const cached = readCached(options.cacheDir, names, options.ca);
    if (cached) return cached;
  }
  provider();
  const keys = await newKeys();
  const notBefore = options.notBefore ?? new Date(Date.now() - HOUR_MS);
  const notAfter = new Date(notBefore.getTime() + HOUR_MS + days * DAY_MS);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
    new x509.SubjectAlternativeNameExtension(altNames(names)),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  let pem: string;
  if (options.ca) {
    const caCert = new x509.X509Certificate(options.ca.cert);
    extensions.push(await x509.AuthorityKeyIdentifierExtension.create(caCert));
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: `CN=${dnQuote(names[0])}`,
      issuer: caCert.subject,
      notBefore,
      notAfter,
      publicKey: keys.publicKey,
      signingKey: await importKey(options.ca.key),
      signingAlgorithm: ALGORITHM,
      extensions,
    });
    pem = `${cert.toString('pem')}\n${options.ca.cert.trim()}\n`;
  } else {
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(),
      name: `CN=${dnQuote(names[0])}`,
      notBefore,
      notAfter,
      keys,
      signingAlgorithm: ALGORITHM,
      extensions,
    });
    pem = `${cert.toString('pem')}\n`;
  }
  const identity = { cert: pem, key: await keyPem(keys.privateKey) };
  if (options.cacheDir) writeCached(options.cacheDir, names, identity);
  return identity;
}

/** A DNS name (a leading `*.` allowed) or an IP address. */
function isHostName(name: unknown): name is string {
  if (typeof name !== 'string' || name === '' || name.length > 253) return false;
  if (isIP(name)) return true;
  return /^(\*\.)?[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/.test(name);
}

function cacheBase(dir: string, names: string[]): string {
  return join(dir, names[0].replace(/\*/g, 'x').replace(/[^A-Za-z0-9_.-]/g, '_'));
}

function sameNames(a: string[], b: string[]): boolean {
  const left = new Set(a.map(normalizeHostName));
  const right = new Set(b.map(normalizeHostName));
  return left.size === right.size && [...left].every((n) => right.has(n));
}

/**
 * The cached pair for `names`, if it is still usable: valid for more than a
 * day, for the same names, its key matching, and from the same issuer (the
 * given CA, or self-signed when there is none).
 */
function readCached(dir: string, names: string[], ca: DevIdentity | undefined): DevIdentity | undefined {
  const base = cacheBase(dir, names);
  try {
    const cert = readFileSync(`${base}.crt.pem`, 'latin1');
    const key = readFileSync(`${base}.key.pem`, 'latin1');
    const parsed = new X509Certificate(cert);
    const now = Date.now();
    if (new Date(parsed.validTo).getTime() - now <= DAY_MS || new Date(parsed.validFrom).getTime() > now) return undefined;
    if (!sameNames(subjectAltNames(parsed.subjectAltName), names)) return undefined;
    if (!parsed.checkPrivateKey(createPrivateKey(key))) return undefined;
    // checkIssued() also wants keyCertSign on the issuer, which a self-signed leaf does not have.
    const issuer = ca ? new X509Certificate(ca.cert) : parsed;
    if (parsed.issuer !== issuer.subject || !parsed.verify(issuer.publicKey)) return undefined;
    return { cert, key };
  } catch {
    // no usable cached pair: make a new one
  }
  return undefined;
}

function writeCached(dir: string, names: string[], identity: DevIdentity): void {
  mkdirSync(dir, { recursive: true });
  const base = cacheBase(dir, names);
  writeFileSync(`${base}.crt.pem`, identity.cert);
  writeFileSync(`${base}.key.pem`, identity.key, { mode: 0o600 });
}
