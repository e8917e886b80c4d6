import * as net from 'node:net';
import { AcmeCertManager, AcmeCertOptions } from '@ics-ts/acme';
import { SslContextOptions, TSslContext } from '@ics-ts/ssl-context';
import { describe, ICS_ERR, icsError, icsCodeOf } from '@ics-ts/wsocket';
import { ADMISSION_KEYS, AdmissionOptions, resolvePolicy } from '../options/admission-options';
import type { ClientClassRef, ClientConstructor } from '../clients/client-registry';
import type { TWSocketClient } from '../clients/wsocket-client';

/**
 * One TLS (or plain) host, ICS's TIcsHost: the names it answers to, where it
 * listens, its identity and security level, and (our addition) its own client
 * class.
 */
export interface IcsHostOptions<C extends TWSocketClient = TWSocketClient>
  extends Partial<Omit<SslContextOptions, 'sslCert'>>, AdmissionOptions {
  /** Exact names ('mail.example.com') and one-label wildcards ('*.example.com'). */
  hostNames: string[];
  /** Default true; a disabled host binds nothing and is never picked. */
  hostEnabled?: boolean;
  /** IP literal to bind. Default '0.0.0.0'. */
  bindIpAddr?: string;
  /** A second IP literal to bind the same ports on ('::', say). */
  bindIpAddr2?: string;
  /** Plain TCP port; 0 = none. Default 0. */
  bindNonPort?: number;
  /** TLS port; 0 = none. Default 0. */
  bindSslPort?: number;
  /** A short name for reports and logs; unique. Default 'host<index>'. */
  hostTag?: string;
  /** Free text for a person. */
  descr?: string;
  /** The identity (file, inline PEM, bundle or PFX); needed with bindSslPort, unless certAutoOrder gets one. */
  sslCert?: string;
  /**
   * Order the certificate from an ACME CA and renew it (ICS SslCertAutoOrder): the host's names, all in one
   * certificate. tls-alpn-01 is answered on this host's own TLS port; http-01 on `httpPort` (default 80) of
   * bindIpAddr. See docs/hosts.md, Automatic certificates.
   */
  certAutoOrder?: HostCertAutoOrder;
  /** Client class for this host's connections (class or registered name). */
  clientClass?: ClientClassRef<C>;
  /** Banner for this host's clients instead of the server's (our addition). */
  banner?: string;
}

/** certAutoOrder of a host: the AcmeCertManager options less the names (the host's), plus the http-01 port. */
export interface HostCertAutoOrder extends Omit<AcmeCertOptions, 'names'> {
  /** Where http-01 is answered (on bindIpAddr). Default 80. */
  httpPort?: number;
}

const HOST_KEYS = new Set([
  'certAutoOrder', 'hostNames', 'hostEnabled', 'bindIpAddr', 'bindIpAddr2', 'bindNonPort', 'bindSslPort', 'hostTag', 'descr',
  'sslCert', 'sslKey', 'sslPassword', 'sslInter', 'sslCA', 'sslSrvSecurity', 'sslCipherList12', 'sslCipherList13',
  'sslVerifyPeer', 'alpnProtocols', 'sessionTimeout', 'sessionTickets', 'refuseExpired', 'expireWarnDays', 'clientClass',
  'banner', ...ADMISSION_KEYS,
]);
const CONTEXT_KEYS = [
  'sslCert', 'sslKey', 'sslPassword', 'sslInter', 'sslCA', 'sslSrvSecurity', 'sslCipherList12', 'sslCipherList13',
  'sslVerifyPeer', 'alpnProtocols', 'sessionTimeout', 'sessionTickets', 'refuseExpired', 'expireWarnDays',
] as const;

/** A host name as SNI sends it: lower case, no trailing dot. */
export function normalizeHostName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

const LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;

function validName(name: string): boolean {
  const labels = (name.startsWith('*.') ? name.slice(2) : name).split('.');
  return name.length <= 253 && labels.every((label) => LABEL.test(label)) && !name.slice(2).includes('*');
}

/** A validated host: what the server builds bindings and SNI maps from. */
export class IcsHost<C extends TWSocketClient = TWSocketClient> {
  readonly index: number;
  readonly hostTag: string;
  readonly descr: string;
  readonly hostNames: readonly string[];
  readonly hostEnabled: boolean;
  readonly bindIpAddr: string;
  readonly bindIpAddr2: string;
  readonly bindNonPort: number;
  readonly bindSslPort: number;
  /** The host's TLS context; for a certAutoOrder host without a stored certificate, made at listen. */
  sslContext: TSslContext | undefined;
  /** The certificate's ACME manager (certAutoOrder); the server starts it at listen. */
  readonly certManager: AcmeCertManager | undefined;
  /** certAutoOrder's http-01 port (0 unless the challenge is http-01). */
  readonly http01Port: number;
  /** The TLS options of the host (what its context is made of, less the identity). */
  readonly contextOptions: Readonly<Partial<SslContextOptions>>;
  readonly clientClass: ClientConstructor<C> | undefined;
  /** This host's banner; the server's when undefined. */
  readonly banner: string | undefined;
  /** The options it was made from (for a report, or to change it later). */
  readonly options: Readonly<IcsHostOptions<C>>;

  constructor(
    options: IcsHostOptions<C>,
    index: number,
    resolveClientClass: (ref: ClientClassRef<C>, option: string) => ClientConstructor<C>,
    where = 'TWSocketServer',
  ) {
    const name = `icsHosts[${index}]`;
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${where}: option ${name} must be an object, got ${describe(options)}`);
    }
    const tag = options.hostTag ?? `host${index}`;
    if (typeof tag !== 'string' || tag === '') {
      throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${where}: option ${name}.hostTag must be a non-empty string, got ${describe(options.hostTag)}`);
    }
    const at = `${where}: option ${name} (${tag})`;
    for (const key of Object.keys(options)) {
      if (!HOST_KEYS.has(key)) throw icsError(TypeError, ICS_ERR.UNKNOWN_OPTION, `${at}: unknown key ${JSON.stringify(key)}`);
    }
    const names = options.hostNames;
    if (!Array.isArray(names) || names.length === 0 || names.some((n) => typeof n !== 'string')) {
      throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${at}: hostNames must be a non-empty array of host names, got ${describe(names)}`);
    }
    const normalized = names.map(normalizeHostName);
    const bad = normalized.find((n) => !validName(n));
    if (bad !== undefined) {
      throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${at}: hostNames has ${JSON.stringify(bad)}, not a host name or a one-label wildcard (*.example.com)`);
    }
    const enabled = options.hostEnabled ?? true;
    if (typeof enabled !== 'boolean') throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${at}: hostEnabled must be a boolean, got ${describe(enabled)}`);
    const addr = options.bindIpAddr ?? '0.0.0.0';
    if (typeof addr !== 'string' || net.isIP(addr) === 0) {
      throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${at}: bindIpAddr must be an IP address literal, got ${describe(addr)}`);
    }
    const addr2 = options.bindIpAddr2 ?? '';
    if (typeof addr2 !== 'string' || (addr2 !== '' && net.isIP(addr2) === 0)) {
      throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${at}: bindIpAddr2 must be an IP address literal or empty, got ${describe(addr2)}`);
    }
    const nonPort = port(options.bindNonPort, `${at}: bindNonPort`);
    const sslPort = port(options.bindSslPort, `${at}: bindSslPort`);
    if (enabled && nonPort === 0 && sslPort === 0) {
      throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${at}: neither bindNonPort nor bindSslPort is set: the host would listen nowhere`);
    }
    if (nonPort !== 0 && nonPort === sslPort) {
      throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${at}: bindNonPort and bindSslPort are both ${nonPort}: one port cannot be plain and TLS`);
    }
    let context: TSslContext | undefined;
    const contextOptions: Partial<SslContextOptions> = {};
    for (const key of CONTEXT_KEYS) {
      if (options[key] !== undefined) (contextOptions as Record<string, unknown>)[key] = options[key];
    }
    let manager: AcmeCertManager | undefined;
    let http01Port = 0;
    if (options.certAutoOrder !== undefined && enabled) {
      ({ manager, http01Port } = autoOrder(options.certAutoOrder, normalized, sslPort, at));
      if (options.sslCert !== undefined) throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${at}: give sslCert or certAutoOrder, not both (certAutoOrder keeps the certificate in its workDir)`);
      contextOptions.sslCert = manager.bundleFile;
    }
    if (sslPort !== 0 && enabled) {
      if (!contextOptions.sslCert) throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${at}: bindSslPort ${sslPort} needs sslCert (the host's certificate) or certAutoOrder`);
      try {
        context = manager ? storedContext(contextOptions as SslContextOptions) : new TSslContext(contextOptions as SslContextOptions);
      } catch (error) {
        const message = `${at}: ${(error as Error).message.replace(/^TSslContext: /, '')}`;
        throw error instanceof RangeError
          ? icsError(RangeError, icsCodeOf(error, ICS_ERR.OPTION_OUT_OF_RANGE), message, { cause: error })
          : icsError(TypeError, icsCodeOf(error, ICS_ERR.INVALID_OPTION), message, { cause: error });
      }
    }
    this.index = index;
    this.hostTag = tag;
    this.descr = typeof options.descr === 'string' ? options.descr : '';
    this.hostNames = normalized;
    this.hostEnabled = enabled;
    this.bindIpAddr = addr;
    this.bindIpAddr2 = addr2;
    this.bindNonPort = nonPort;
    this.bindSslPort = sslPort;
    this.sslContext = context;
    this.certManager = manager;
    this.http01Port = http01Port;
    this.contextOptions = contextOptions;
    if (options.banner !== undefined && typeof options.banner !== 'string') {
      throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${at}: banner must be a string, got ${describe(options.banner)}`);
    }
    this.banner = options.banner;
    this.clientClass = options.clientClass === undefined ? undefined : resolveClientClass(options.clientClass, `${name}.clientClass`);
    // Checked here, so a bad entry names its host; a binding applies the first of its hosts' that sets one.
    resolvePolicy(options as unknown as Record<string, unknown>, undefined, where, `${name}.`);
    this.options = { ...options };
  }

  /** ICS DisplayName: `tag - descr` or `tag - addr:ports`. */
  get displayName(): string {
    const ports = [this.bindNonPort && `${this.bindNonPort}`, this.bindSslPort && `${this.bindSslPort} (TLS)`].filter(Boolean);
    return `${this.hostTag} - ${this.descr || `${this.bindIpAddr}:${ports.join(', ')}`}`;
  }
}

/** Validates certAutoOrder (errors name the host and the key) and makes the host's manager. */
function autoOrder(value: unknown, names: string[], sslPort: number, at: string): { manager: AcmeCertManager; http01Port: number } {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${at}: certAutoOrder must be an object, got ${describe(value)}`);
  }
  const { httpPort, ...acme } = value as HostCertAutoOrder;
  if ('names' in acme) throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${at}: certAutoOrder.names: the certificate is for the host's hostNames`);
  const challenge = acme.challenge ?? 'tls-alpn-01';
  if (challenge === 'tls-alpn-01' && sslPort === 0) {
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${at}: certAutoOrder with challenge tls-alpn-01 needs bindSslPort (the CA checks the host's TLS port)`);
  }
  const http01Port = challenge === 'http-01' ? port(httpPort ?? 80, `${at}: certAutoOrder.httpPort`) : 0;
  if (challenge === 'http-01' && http01Port === 0) throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `${at}: certAutoOrder.httpPort must be a port in 1..65535, got 0`);
  // Its errors name the option inside certAutoOrder: "...icsHosts[0] (web): certAutoOrder: option renewDays must be...".
  return { manager: new AcmeCertManager({ ...acme, names }, `${at}: certAutoOrder`), http01Port };
}

/** The certificate a certAutoOrder host stored at its last run, if it still loads; else it is made at listen. */
function storedContext(options: SslContextOptions): TSslContext | undefined {
  try {
    return new TSslContext(options);
  } catch (error) {
    if ((error as Error).name === 'IdentityError') return undefined;
    throw error;
  }
}

function port(value: unknown, what: string): number {
  const result = value ?? 0;
  if (!Number.isInteger(result) || (result as number) < 0 || (result as number) > 65535) {
    throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `${what} must be an integer in 0..65535 (0 = none), got ${describe(value)}`);
  }
  return result as number;
}
