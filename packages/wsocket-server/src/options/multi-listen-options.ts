import type { SslContextOptions, TSslContext } from '@ics-ts/ssl-context';
import { describe, ICS_ERR, icsError } from '@ics-ts/wsocket';
import type { WSocketDefaults } from '@ics-ts/wsocket';
import type { ClientClassRef, ClientConstructor } from '../clients/client-registry';
import type { ListenerSpec } from '../listen/listener';
import { SocketFamily, checkBacklog, resolveAddress, resolveClientDefaults, resolvePort, resolveSslContext } from './server-options';
import type { TWSocketClient } from '../clients/wsocket-client';
import type { ListenerPolicy } from '../admission/policy';
import { LISTENER_ADMISSION_KEYS, ListenerAdmissionOptions, resolvePolicy } from './admission-options';

/**
 * One extra listener (ICS TWSocketMultiListenItem): its own address, port,
 * family, backlog, TLS and, our addition, its own client class.
 */
export interface MultiListenItem<C extends TWSocketClient = TWSocketClient> extends ListenerAdmissionOptions {
  addr: string;
  /** Number, numeric string or service name; 0 = the system picks one. */
  port: number | string;
  socketFamily?: SocketFamily;
  /** With '::', take IPv6 only, so 0.0.0.0 can listen on the same port. Default false. */
  ipv6Only?: boolean;
  /** Default: the server's listenBacklog. */
  listenBacklog?: number;
  /** Serve TLS on this listener (needs `sslContext` here or on the server). Default false. */
  sslEnable?: boolean;
  /** The TLS context (identity and security level) for this listener, or its options; default: the server's. */
  sslContext?: TSslContext | SslContextOptions;
  /** Connection-life defaults for clients accepted here, over the server's clientDefaults. */
  clientDefaults?: WSocketDefaults;
  /** Client class for connections accepted here (a class or registered name); default: the server's. */
  clientClass?: ClientClassRef<C>;
}

const ITEM_KEYS = new Set<string>(['addr', 'port', 'socketFamily', 'ipv6Only', 'listenBacklog', 'sslEnable', 'sslContext', 'clientClass', 'clientDefaults', ...LISTENER_ADMISSION_KEYS]);

/** What an item falls back to: the server's settings. */
export interface ItemDefaults {
  listenBacklog: number;
  sslContext: TSslContext | undefined;
  /** The server's clientDefaults, for the item's to go over. */
  clientDefaults: WSocketDefaults | undefined;
  /** The server's admission policy, for the keys the item does not set. */
  policy: ListenerPolicy;
  resolveClientClass(ref: ClientClassRef, option: string): ClientConstructor;
}

/** Validates item `index`; every message names `multiListenSockets[index]`. */
export function listenerSpecFromItem(item: unknown, index: number, defaults: ItemDefaults, where: string): ListenerSpec {
  const prefix = `multiListenSockets[${index}].`;
  if (item === null || typeof item !== 'object' || Array.isArray(item)) {
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${where}: option multiListenSockets[${index}] must be an object, got ${describe(item)}`);
  }
  const entry = item as Record<string, unknown>;
  for (const key of Object.keys(entry)) {
    if (!ITEM_KEYS.has(key)) throw icsError(TypeError, ICS_ERR.UNKNOWN_OPTION, `${where}: unknown option ${prefix}${key}`);
  }
  const addr = entry.addr;
  const socketFamily = resolveAddress(addr, entry.socketFamily, where, prefix);
  const port = resolvePort(entry.port, where, `${prefix}port`);
  const listenBacklog = checkBacklog(entry.listenBacklog ?? defaults.listenBacklog, where, prefix);
  if (entry.ipv6Only !== undefined && typeof entry.ipv6Only !== 'boolean') {
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${where}: option ${prefix}ipv6Only must be a boolean, got ${describe(entry.ipv6Only)}`);
  }
  if (entry.sslEnable !== undefined && typeof entry.sslEnable !== 'boolean') {
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${where}: option ${prefix}sslEnable must be a boolean, got ${describe(entry.sslEnable)}`);
  }
  const sslEnable = (entry.sslEnable as boolean | undefined) ?? false;
  const sslContext = resolveSslContext(entry.sslContext, where, `${prefix}sslContext`) ?? defaults.sslContext;
  if (sslEnable && !sslContext) {
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${where}: option ${prefix}sslEnable needs an sslContext (on the item or on the server)`);
  }
  const clientClass =
    entry.clientClass === undefined
      ? undefined
      : defaults.resolveClientClass(entry.clientClass as ClientClassRef, `${prefix}clientClass`);
  return {
    index,
    addr: addr as string,
    port,
    socketFamily,
    ipv6Only: (entry.ipv6Only as boolean | undefined) ?? false,
    listenBacklog,
    sslEnable,
    sslContext: sslEnable ? sslContext : undefined,
    clientClass,
    policy: resolvePolicy(entry, defaults.policy, where, prefix),
    clientDefaults: resolveClientDefaults(entry.clientDefaults, defaults.clientDefaults, where, `${prefix}clientDefaults`),
  };
}
