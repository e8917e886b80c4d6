import type { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';

/** What a person (or a monitor) wants to know of a certificate. */
export interface CertificateFacts {
  subject: string;
  commonName: string;
  /** DNS names and IP addresses of the subjectAltName (IPv6 in its short form, `::1`), else the common name. */
  names: string[];
  issuer: string;
  selfSigned: boolean;
  notBefore: Date;
  notAfter: Date;
  /** Whole days until notAfter (negative once expired). */
  daysLeft: number;
  /** 'ec', 'rsa', 'ed25519'... */
  keyType: string;
  fingerprint256: string;
}

/** The strength of a certificate's public key, as OpenSSL's security levels count it. */
export interface KeyStrength {
  /** 'ec P-256', 'rsa 2048', 'ed25519'... */
  label: string;
  /** Security bits: P-256 128, P-384 192, RSA 2048 112, RSA 3072 128... (0 when unknown). */
  bits: number;
}

const DAY_MS = 86_400_000;

/** Node prints IPv6 SANs in full (`0:0:0:0:0:0:0:1`); people write and compare the short form (`::1`). */
export function normalizeHostName(name: string): string {
  if (isIP(name) === 6) {
    try {
      return new URL(`http://[${name}]/`).hostname.slice(1, -1);
    } catch {
      return name.toLowerCase();
    }
  }
  return isIP(name) === 4 ? name : name.toLowerCase();
}

/**
 * The DNS names and IP addresses of a subjectAltName as Node formats it:
 * `DNS:a, IP Address:1.2.3.4`, where a value holding a comma or a quote is
 * JSON-quoted (`DNS:"a,b"`).
 */
export function subjectAltNames(subjectAltName: string | undefined): string[] {
  const names: string[] = [];
  const entry = /(DNS|IP Address|[A-Za-z][A-Za-z ]*):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/g;
  for (const match of (subjectAltName ?? '').matchAll(entry)) {
    const [, kind, raw] = match;
    if (kind !== 'DNS' && kind !== 'IP Address') continue;
    let value = raw;
    if (raw.startsWith('"')) {
      try {
        value = JSON.parse(raw) as string;
      } catch {
        continue;
      }
    }
    if (value !== '') names.push(kind === 'IP Address' ? normalizeHostName(value) : value);
  }
  return names;
}

export function certificateFacts(cert: X509Certificate, now = Date.now()): CertificateFacts {
  const commonName = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1] ?? '';
  const names = subjectAltNames(cert.subjectAltName);
  const notAfter = new Date(cert.validTo);
  return {
    subject: cert.subject.replace(/\n/g, ', '),
    commonName,
    names: names.length > 0 ? names : commonName ? [commonName] : [],
    issuer: cert.issuer.replace(/\n/g, ', '),
    selfSigned: cert.subject === cert.issuer && cert.verify(cert.publicKey),
    notBefore: new Date(cert.validFrom),
    notAfter,
    daysLeft: Math.floor((notAfter.getTime() - now) / DAY_MS),
    keyType: cert.publicKey.asymmetricKeyType ?? 'unknown',
    fingerprint256: cert.fingerprint256,
  };
}

const CURVES: Record<string, { name: string; bits: number }> = {
  prime256v1: { name: 'P-256', bits: 128 },
  secp256k1: { name: 'secp256k1', bits: 128 },
  secp384r1: { name: 'P-384', bits: 192 },
  secp521r1: { name: 'P-521', bits: 256 },
};

/** OpenSSL's BN_security_bits for RSA/DSA/DH moduli. */
function modulusBits(size: number): number {
  if (size >= 15360) return 256;
  if (size >= 7680) return 192;
  if (size >= 3072) return 128;
  if (size >= 2048) return 112;
  if (size >= 1024) return 80;
  return 0;
}

export function keyStrength(cert: X509Certificate): KeyStrength {
  const key = cert.publicKey;
  const type = key.asymmetricKeyType ?? 'unknown';
  const details = key.asymmetricKeyDetails ?? {};
  if (type === 'ec') {
    const curve = details.namedCurve ?? 'unknown curve';
    const known = CURVES[curve];
    return { label: `ec ${known?.name ?? curve}`, bits: known?.bits ?? 0 };
  }
  if (type === 'rsa' || type === 'rsa-pss' || type === 'dsa') {
    const size = details.modulusLength ?? 0;
    return { label: `${type} ${size}`, bits: modulusBits(size) };
  }
  if (type === 'ed25519' || type === 'x25519') return { label: type, bits: 128 };
  if (type === 'ed448' || type === 'x448') return { label: type, bits: 224 };
  return { label: type, bits: 0 };
}

/** One line: `CN=localhost [localhost, 127.0.0.1] ec, expires 2026-12-25 (30 days left)`. */
export function describeCertificate(facts: CertificateFacts): string {
  const expiry = facts.notAfter.toISOString().slice(0, 10);
  const left = facts.daysLeft < 0 ? `expired ${-facts.daysLeft} days ago` : `${facts.daysLeft} days left`;
  return `CN=${facts.commonName} [${facts.names.join(', ')}] ${facts.keyType}${facts.selfSigned ? ' self-signed' : ''}, expires ${expiry} (${left})`;
}
