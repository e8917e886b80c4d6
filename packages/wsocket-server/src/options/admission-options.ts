import { describe, ICS_ERR, icsError } from '@ics-ts/wsocket';
import { AddressList } from '../admission/address-list';
import type { AcceptFilter, ListenerPolicy } from '../admission/policy';
import { PROXY_OPTION_KEYS, ProxyOptions, resolveProxyPolicy } from '../admission/proxy-policy';

/** The admission keys a listener (a multiListenSockets item, an IcsHost) may set for itself. */
export interface AdmissionOptions extends ProxyOptions {
  /**
   * Addresses and CIDR blocks ('10.0.0.0/8', '2001:db8::/32') that may connect;
   * a non-empty list admits only those. IPv4-mapped IPv6 peers match as IPv4.
   * Default: everyone.
   */
  allow?: string[];
  /** Addresses and CIDR blocks refused at once, before any TLS work, no byte sent; deny wins over allow. Default none. */
  deny?: string[];
  /** Clients from one IPv4 address, or one IPv6 /64, beyond which bannerTooBusyPerIp is sent; 0 = no limit. Default 0. */
  maxClientsPerIp?: number;
}

/** The keys above, plus the accept filter (a function: code, not a config file). */
export interface ListenerAdmissionOptions extends AdmissionOptions {
  /** ICS OnClientAcceptFilter: see AcceptFilter. */
  acceptFilter?: AcceptFilter;
}

export const ADMISSION_KEYS = ['allow', 'deny', 'maxClientsPerIp', ...PROXY_OPTION_KEYS] as const;
export const LISTENER_ADMISSION_KEYS = [...ADMISSION_KEYS, 'acceptFilter'] as const;

/**
 * A listener's policy: what `source` sets (prefix names it in errors:
 * 'multiListenSockets[0].'), else what `fallback` (the server's) has.
 */
export function resolvePolicy(
  source: Partial<Record<string, unknown>>,
  fallback: ListenerPolicy | undefined,
  where: string,
  prefix = '',
): ListenerPolicy {
  const list = (key: 'allow' | 'deny'): AddressList | undefined => {
    const value = source[key];
    if (value === undefined) return fallback?.[key];
    const parsed = new AddressList(value, where, `${prefix}${key}`);
    return parsed.size > 0 ? parsed : undefined;
  };
  let maxClientsPerIp = fallback?.maxClientsPerIp ?? 0;
  if (source.maxClientsPerIp !== undefined) {
    const value = source.maxClientsPerIp;
    if (!Number.isInteger(value) || (value as number) < 0) {
      throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `${where}: option ${prefix}maxClientsPerIp must be an integer >= 0, got ${describe(value)}`);
    }
    maxClientsPerIp = value as number;
  }
  let acceptFilter = fallback?.acceptFilter;
  if (source.acceptFilter !== undefined) {
    if (typeof source.acceptFilter !== 'function') {
      throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${where}: option ${prefix}acceptFilter must be a function, got ${describe(source.acceptFilter)}`);
    }
    acceptFilter = source.acceptFilter as AcceptFilter;
  }
  const proxy = resolveProxyPolicy(source, fallback?.proxy, where, prefix);
  return { allow: list('allow'), deny: list('deny'), maxClientsPerIp, acceptFilter, proxy };
}
