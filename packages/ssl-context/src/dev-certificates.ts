import 'reflect-metadata'; // @peculiar/x509 uses tsyringe, which needs it loaded first
import * as x509 from '@peculiar/x509';
import { createPrivateKey, randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';

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
  /** Keep the files in this directory and reuse them while valid for the same names. Off unless given. */
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
  if (!Array.isArray(names) || names.length === 0 || names.some((n) => typeof n !== 'string' || n === '')) {
    throw new TypeError(`createDevCertificate: option names must be a non-empty array of host names, got ${JSON.stringify(names)}`);
  }
  const days = options.days ?? 90;
  if (!Number.isInteger(days) || days < 1) throw new RangeError(`createDevCertificate: option days must be an integer >= 1, got ${days}`);
  if (options.cacheDir) {
    const cached = readCached(options.cacheDir, names);
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

function cacheBase(dir: string, names: string[]): string {
  return join(dir, names[0].replace(/\*/g, 'x').replace(/[^A-Za-z0-9_.-]/g, '_'));
}

function readCached(dir: string, names: string[]): DevIdentity | undefined {
  const base = cacheBase(dir, names);
  try {
    const cert = readFileSync(`${base}.crt.pem`, 'latin1');
    const key = readFileSync(`${base}.key.pem`, 'latin1');
    const parsed = new X509Certificate(cert);
    const sans = (parsed.subjectAltName ?? '').split(', ').map((s) => s.replace(/^(DNS|IP Address):/, ''));
    const valid = new Date(parsed.validTo).getTime() - Date.now() > DAY_MS;
    if (valid && names.every((n) => sans.includes(n))) return { cert, key };
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
