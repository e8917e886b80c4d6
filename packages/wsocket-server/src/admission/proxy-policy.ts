import { describe, ICS_ERR, icsError } from '@ics-ts/wsocket';
import { AddressList } from './address-list';
import type { ProxyProtocolMode } from './proxy-header';
import { PROXY_V2_MAX_BYTES } from './proxy-header';
import { V2_FIXED_BYTES } from './proxy-v2';

/** The PROXY protocol keys, on the server, a multiListenSockets item or an IcsHost. */
export interface ProxyOptions {
  /**
   * Read a PROXY protocol header (HAProxy, nginx `proxy_protocol on`, cloud
   * load balancers) before anything else on this listener: 'v1' (text), 'v2'
   * (binary), 'auto' (either), or 'off'. The client's address in the header
   * becomes peerAddr; the balancer's is proxyAddr. Needs trustedProxies.
   * Default 'off'.
   */
  proxyProtocol?: 'off' | ProxyProtocolMode;
  /**
   * The balancers allowed to send the header: addresses and CIDR blocks
   * ('10.0.0.0/8', '2001:db8::/32'); any other peer is refused at once.
   * `['*']` trusts every peer (whoever reaches the port can then claim any
   * address: only where the network lets no one else in). Required with
   * proxyProtocol; no default.
   */
  trustedProxies?: string[];
  /** Milliseconds from the accept for the whole header to arrive (the spec asks for at least 3 s). Default 5000. */
  proxyHeaderTimeout?: number;
  /** The longest v2 header accepted, 16 bytes plus its TLVs, up to the spec's 65551 (v1 is always at most 107). Default 4096. */
  proxyHeaderMaxBytes?: number;
}

export const PROXY_OPTION_KEYS = ['proxyProtocol', 'trustedProxies', 'proxyHeaderTimeout', 'proxyHeaderMaxBytes'] as const;

export const PROXY_DEFAULTS = {
  proxyProtocol: 'off',
  proxyHeaderTimeout: 5000,
  proxyHeaderMaxBytes: 4096,
} as const;

/** The longest proxyHeaderTimeout: a day (a bound, not a setting anyone should want). */
const MAX_TIMEOUT_MS = 86_400_000;

/**
 * A listener's PROXY protocol settings. Kept when `mode` is 'off' too, so a
 * listener that turns the header on inherits the server's trustedProxies.
 */
export interface ProxyPolicy {
  readonly mode: 'off' | ProxyProtocolMode;
  /** The balancers allowed to send a header; 'all' for `['*']`; undefined when not given. */
  readonly trusted: AddressList | 'all' | undefined;
  readonly timeoutMs: number;
  readonly maxBytes: number;
}

const TRUST_ALL = '*';

/** Whether `peerAddr` (as the system reports it) may send a header under `policy`. */
export function isTrustedProxy(policy: ProxyPolicy, peerAddr: string): boolean {
  const { trusted } = policy;
  return trusted === 'all' || (trusted !== undefined && trusted.has(peerAddr));
}

/**
 * The PROXY policy `source` sets, key by key over `fallback` (the server's);
 * undefined when no key is set here or there. A listener that reads headers
 * must have trustedProxies. Errors name `prefix + key`.
 */
export function resolveProxyPolicy(
  source: Partial<Record<string, unknown>>,
  fallback: ProxyPolicy | undefined,
  where: string,
  prefix = '',
): ProxyPolicy | undefined {
  const touched = PROXY_OPTION_KEYS.some((key) => source[key] !== undefined);
  if (!touched) return fallback;
  const modeValue = source.proxyProtocol ?? fallback?.mode ?? PROXY_DEFAULTS.proxyProtocol;
  if (modeValue !== 'off' && modeValue !== 'v1' && modeValue !== 'v2' && modeValue !== 'auto') {
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${where}: option ${prefix}proxyProtocol must be 'off', 'v1', 'v2' or 'auto', got ${describe(modeValue)}`);
  }
  const trusted =
    source.trustedProxies !== undefined ? trustedList(source.trustedProxies, where, `${prefix}trustedProxies`) : fallback?.trusted;
  const timeoutMs = rangeOption(source, 'proxyHeaderTimeout', fallback?.timeoutMs ?? PROXY_DEFAULTS.proxyHeaderTimeout, 1, MAX_TIMEOUT_MS, where, prefix);
  const maxBytes = rangeOption(source, 'proxyHeaderMaxBytes', fallback?.maxBytes ?? PROXY_DEFAULTS.proxyHeaderMaxBytes, V2_FIXED_BYTES, PROXY_V2_MAX_BYTES, where, prefix);
  if (modeValue !== 'off' && trusted === undefined) {
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION,
      `${where}: option ${prefix}proxyProtocol ${describe(modeValue)} needs option ${prefix}trustedProxies: the addresses or CIDR blocks ` +
        `of the load balancers allowed to send the header (['*'] trusts every peer: then anyone who reaches the port can claim any address)`,
    );
  }
  return { mode: modeValue, trusted, timeoutMs, maxBytes };
}

function trustedList(value: unknown, where: string, option: string): AddressList | 'all' {
  if (Array.isArray(value) && value.length === 1 && value[0] === TRUST_ALL) return 'all';
  if (Array.isArray(value) && value.includes(TRUST_ALL)) {
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${where}: option ${option}: '*' (trust every peer) must be the only entry, got ${describe(value)}`);
  }
  if (Array.isArray(value) && value.length === 0) {
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${where}: option ${option} is empty: name the load balancers, or ['*'] to trust every peer`);
  }
  return new AddressList(value, where, option);
}

function rangeOption(
  source: Partial<Record<string, unknown>>,
  key: 'proxyHeaderTimeout' | 'proxyHeaderMaxBytes',
  fallback: number,
  min: number,
  max: number,
  where: string,
  prefix: string,
): number {
  const value = source[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${where}: option ${prefix}${key} must be a number, got ${describe(value)}`);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `${where}: option ${prefix}${key} must be an integer from ${min} to ${max}, got ${describe(value)}`);
  }
  return value;
}
