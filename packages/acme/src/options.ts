import { readFileSync } from 'node:fs';
import { ICS_ERR, MAX_TIMER_MS, icsError } from '@ics-ts/wsocket';

/** The certificate key: ECDSA P-256 (the default: small, fast), or RSA for old clients. ICS CertPKeyType. */
export type AcmeKeyType = 'ecdsa-p256' | 'rsa-2048' | 'rsa-3072';
export const ACME_KEY_TYPES: readonly AcmeKeyType[] = ['ecdsa-p256', 'rsa-2048', 'rsa-3072'];

/**
 * How the CA checks that we hold a name (ICS CertChallenge). A TCP server can answer two of RFC 8555's
 * and RFC 8737's challenges itself: tls-alpn-01 on its own TLS port (443 for a public CA), and http-01
 * on a plain port (80 for a public CA). dns-01 needs a DNS provider's API and is not offered.
 */
export type AcmeChallengeType = 'tls-alpn-01' | 'http-01';
export const ACME_CHALLENGE_TYPES: readonly AcmeChallengeType[] = ['tls-alpn-01', 'http-01'];

/** A certificate that orders and renews itself: the settings of one host (ICS SslCertAutoOrder and its Cert* fields). */
export interface AcmeCertOptions {
  /** The ACME directory URL (https), e.g. Let's Encrypt's `https://acme-v02.api.letsencrypt.org/directory`. */
  directory: string;
  /** DNS names the certificate is for, all in one certificate; the first is its common name. No wildcards (they need dns-01). */
  names: string[];
  /** Account contact: `mailto:admin@example.com` (a bare address gets `mailto:`), or several. Optional for most CAs. */
  contact?: string | string[];
  /** Key of the certificate. Default 'ecdsa-p256'. The account key is always ECDSA P-256. */
  keyType?: AcmeKeyType;
  /** Challenge the CA checks. Default 'tls-alpn-01'. */
  challenge?: AcmeChallengeType;
  /** Work directory (ICS CertDirWork): the account key, the certificate and the order state, 0700, files 0600. One per host. */
  workDir: string;
  /** Renew when the certificate has fewer days left than this (ICS RenewalDays). Default 30; 1 to 365. */
  renewDays?: number;
  /**
   * The CAs trusted for the directory's HTTPS, instead of the system's: a PEM file or inline PEM.
   * For a private CA or a test CA such as Pebble. Default: Node's built-in roots.
   */
  caBundle?: string;
  /** First delay after a failed order, in ms; it doubles at each failure up to retryMaxMs. Default 60000. */
  retryMinMs?: number;
  /** Longest delay between retries, in ms. Default 21600000 (6 hours). */
  retryMaxMs?: number;
  /** Deadline of one HTTP request to the CA, in ms. Default 30000. */
  requestTimeoutMs?: number;
  /** Deadline of one whole order (account, challenges, finalize, download), in ms. Default 300000. */
  orderTimeoutMs?: number;
}

/** The options with every default filled in, the contact as a list and caBundle read. */
export interface ResolvedAcmeCertOptions {
  directory: string;
  names: string[];
  contact: string[];
  keyType: AcmeKeyType;
  challenge: AcmeChallengeType;
  workDir: string;
  renewDays: number;
  caBundle: string | undefined;
  retryMinMs: number;
  retryMaxMs: number;
  requestTimeoutMs: number;
  orderTimeoutMs: number;
}

export const ACME_DEFAULTS = {
  keyType: 'ecdsa-p256',
  challenge: 'tls-alpn-01',
  renewDays: 30,
  retryMinMs: 60_000,
  retryMaxMs: 21_600_000,
  requestTimeoutMs: 30_000,
  orderTimeoutMs: 300_000,
} as const;

const WHERE = 'AcmeCertManager';
/** Let's Encrypt's limit of names in one certificate. */
export const MAX_NAMES = 100;
const MAX_CONTACTS = 10;

const KNOWN_KEYS = new Set([
  'directory', 'names', 'contact', 'keyType', 'challenge', 'workDir', 'renewDays', 'caBundle',
  'retryMinMs', 'retryMaxMs', 'requestTimeoutMs', 'orderTimeoutMs',
]);

/** One DNS label: letters, digits, hyphens inside, 1 to 63 characters (RFC 1123). */
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

function typeError(where: string, message: string): never {
  throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${where}: ${message}`);
}

function checkInteger(value: unknown, where: string, option: string, min: number, max: number): number {
  if (typeof value !== 'number') typeError(where, `option ${option} must be a number, got ${describe(value)}`);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `${where}: option ${option} must be an integer from ${min} to ${max}, got ${describe(value)}`);
  }
  return value;
}

/** A DNS name a CA can issue for over tls-alpn-01 or http-01: lower case, no wildcard, no IP literal. */
export function checkDnsName(value: unknown, where: string, option: string): string {
  if (typeof value !== 'string') typeError(where, `option ${option} must be a DNS name, got ${describe(value)}`);
  const name = value.toLowerCase().replace(/\.$/, '');
  if (name.startsWith('*.')) {
    typeError(where, `option ${option} ${describe(value)} is a wildcard, which only dns-01 can validate (not offered)`);
  }
  const labels = name.split('.');
  if (name.length > 253 || labels.length < 2 || !labels.every((label) => LABEL.test(label)) || /^[0-9]+$/.test(labels[labels.length - 1])) {
    typeError(where, `option ${option} must be a DNS name with at least two labels (letters, digits, hyphens), got ${describe(value)}`);
  }
  return name;
}

function checkContact(value: unknown, where: string): string[] {
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  if (list.length > MAX_CONTACTS) {
    throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `${where}: option contact holds ${list.length} entries, at most ${MAX_CONTACTS}`);
  }
  return list.map((entry: unknown, i) => {
    const option = Array.isArray(value) ? `contact[${i}]` : 'contact';
    if (typeof entry !== 'string') typeError(where, `option ${option} must be an e-mail address or a mailto: URL, got ${describe(entry)}`);
    const uri = entry.startsWith('mailto:') ? entry : `mailto:${entry}`;
    if (uri.length > 320 || !/^mailto:[^\s@,;<>"]+@[^\s@,;<>"]+\.[^\s@,;<>"]+$/.test(uri)) {
      typeError(where, `option ${option} must be an e-mail address or a mailto: URL, got ${describe(entry)}`);
    }
    return uri;
  });
}

function checkDirectory(value: unknown, where: string): string {
  if (typeof value !== 'string') typeError(where, `option directory must be an https URL, got ${describe(value)}`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    typeError(where, `option directory must be an https URL, got ${describe(value)}`);
  }
  if (url.protocol !== 'https:') typeError(where, `option directory must be an https URL (RFC 8555 asks for TLS), got ${describe(value)}`);
  return url.href;
}

/** The CA bundle's PEM text: inline, or read from its file; it must hold a certificate. */
function readCaBundle(value: unknown, where: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') typeError(where, `option caBundle must be a PEM file name or PEM text, got ${describe(value)}`);
  let text = value;
  if (!value.includes('-----BEGIN ')) {
    try {
      text = readFileSync(value, 'latin1');
    } catch (err) {
      throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${where}: option caBundle: cannot read ${describe(value)} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
    }
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) typeError(where, `option caBundle ${describe(value)} holds no PEM certificate`);
  return text;
}

/** Type and range checks, defaults filled in; the message names the option and the value. */
export function resolveAcmeCertOptions(options: AcmeCertOptions, where = WHERE): ResolvedAcmeCertOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) typeError(where, `options must be an object, got ${describe(options)}`);
  for (const key of Object.keys(options)) {
    if (!KNOWN_KEYS.has(key)) typeError(where, `unknown option ${describe(key)}`);
  }
  const o = options as unknown as Record<string, unknown>;
  const directory = checkDirectory(o.directory, where);
  if (!Array.isArray(o.names) || o.names.length === 0) typeError(where, `option names must be a non-empty array of DNS names, got ${describe(o.names)}`);
  if (o.names.length > MAX_NAMES) throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `${where}: option names holds ${o.names.length} names, at most ${MAX_NAMES} fit in one certificate`);
  const names = o.names.map((name, i) => checkDnsName(name, where, `names[${i}]`));
  const duplicate = names.find((name, i) => names.indexOf(name) !== i);
  if (duplicate !== undefined) typeError(where, `option names lists ${describe(duplicate)} twice`);
  const keyType = o.keyType ?? ACME_DEFAULTS.keyType;
  if (!ACME_KEY_TYPES.includes(keyType as AcmeKeyType)) {
    typeError(where, `option keyType must be one of ${ACME_KEY_TYPES.join(', ')}, got ${describe(keyType)}`);
  }
  const challenge = o.challenge ?? ACME_DEFAULTS.challenge;
  if (!ACME_CHALLENGE_TYPES.includes(challenge as AcmeChallengeType)) {
    typeError(where, `option challenge must be one of ${ACME_CHALLENGE_TYPES.join(', ')}, got ${describe(challenge)}`);
  }
  if (typeof o.workDir !== 'string' || o.workDir === '') typeError(where, `option workDir must be a directory name, got ${describe(o.workDir)}`);
  const retryMinMs = checkInteger(o.retryMinMs ?? ACME_DEFAULTS.retryMinMs, where, 'retryMinMs', 1, MAX_TIMER_MS);
  const retryMaxMs = checkInteger(o.retryMaxMs ?? ACME_DEFAULTS.retryMaxMs, where, 'retryMaxMs', 1, MAX_TIMER_MS);
  if (retryMaxMs < retryMinMs) {
    throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `${where}: option retryMaxMs (${retryMaxMs}) must be at least retryMinMs (${retryMinMs})`);
  }
  return {
    directory,
    names,
    contact: checkContact(o.contact, where),
    keyType: keyType as AcmeKeyType,
    challenge: challenge as AcmeChallengeType,
    workDir: o.workDir,
    renewDays: checkInteger(o.renewDays ?? ACME_DEFAULTS.renewDays, where, 'renewDays', 1, 365),
    caBundle: readCaBundle(o.caBundle, where),
    retryMinMs,
    retryMaxMs,
    requestTimeoutMs: checkInteger(o.requestTimeoutMs ?? ACME_DEFAULTS.requestTimeoutMs, where, 'requestTimeoutMs', 1, MAX_TIMER_MS),
    orderTimeoutMs: checkInteger(o.orderTimeoutMs ?? ACME_DEFAULTS.orderTimeoutMs, where, 'orderTimeoutMs', 1, MAX_TIMER_MS),
  };
}
