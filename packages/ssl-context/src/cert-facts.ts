import type { X509Certificate } from 'node:crypto';

/** What a person (or a monitor) wants to know of a certificate. */
export interface CertificateFacts {
  subject: string;
  commonName: string;
  /** DNS names and IP addresses of the subjectAltName, else the common name. */
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

const DAY_MS = 86_400_000;

export function certificateFacts(cert: X509Certificate, now = Date.now()): CertificateFacts {
  const commonName = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1] ?? '';
  const names = (cert.subjectAltName ?? '')
    .split(', ')
    .map((entry) => /^(?:DNS|IP Address):(.*)$/.exec(entry)?.[1])
    .filter((name): name is string => name !== undefined && name !== '');
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

/** One line: `CN=localhost [localhost, 127.0.0.1] ec, expires 2026-12-25 (30 days)`. */
export function describeCertificate(facts: CertificateFacts): string {
  const expiry = facts.notAfter.toISOString().slice(0, 10);
  const left = facts.daysLeft < 0 ? `expired ${-facts.daysLeft} days ago` : `${facts.daysLeft} days left`;
  return `CN=${facts.commonName} [${facts.names.join(', ')}] ${facts.keyType}${facts.selfSigned ? ' self-signed' : ''}, expires ${expiry} (${left})`;
}
