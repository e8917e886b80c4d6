import * as net from 'node:net';
import type { IcsHost } from './ics-host';
import { normalizeHostName } from './ics-host';
import { ICS_ERR, icsError } from '@ics-ts/wsocket';

/** What to do with a TLS client whose server name matches no host, or that sends none. */
export type SniPolicy = 'default' | 'refuse';

/** One address and port built from the host table, shared by every host bound there. */
export interface HostBinding {
  /** `addr|port|tls`: the identity of a binding across rebuilds. */
  key: string;
  addr: string;
  port: number;
  tls: boolean;
  /** Enabled hosts bound here, in table order (the first is the default). */
  hosts: IcsHost[];
}

export function bindingKey(addr: string, port: number, tls: boolean): string {
  return `${addr}|${port}|${tls ? 'tls' : 'tcp'}`;
}

function url(addr: string, port: number, tls: boolean): string {
  return `${tls ? 'tls' : 'tcp'}://${net.isIPv6(addr) ? `[${addr}]` : addr}:${port}`;
}

/**
 * ICS ValidateHosts' binding rule: each enabled host binds bindNonPort (plain)
 * and bindSslPort (TLS) on bindIpAddr and on bindIpAddr2; hosts with the same
 * address and port share one listener. One address and port cannot be plain
 * for one host and TLS for another: that is an error naming both.
 */
export function buildBindings(hosts: readonly IcsHost[], where = 'TWSocketServer'): HostBinding[] {
  const byKey = new Map<string, HostBinding>();
  const owner = new Map<string, IcsHost>(); // addr|port → first host, to name a plain/TLS clash
  const add = (host: IcsHost, addr: string, port: number, tls: boolean) => {
    const place = `${addr}|${port}`;
    const first = owner.get(place);
    if (first && byKey.has(bindingKey(addr, port, !tls))) {
      throw icsError(TypeError, ICS_ERR.INVALID_OPTION,
        `${where}: icsHosts[${host.index}] (${host.hostTag}) binds ${url(addr, port, tls)} but icsHosts[${first.index}] ` +
          `(${first.hostTag}) binds the same address and port ${tls ? 'without' : 'with'} TLS`,
      );
    }
    if (!first) owner.set(place, host);
    const key = bindingKey(addr, port, tls);
    let binding = byKey.get(key);
    if (!binding) {
      binding = { key, addr, port, tls, hosts: [] };
      byKey.set(key, binding);
    }
    if (!binding.hosts.includes(host)) binding.hosts.push(host);
  };
  for (const host of hosts) {
    if (!host.hostEnabled) continue;
    for (const addr of [host.bindIpAddr, host.bindIpAddr2]) {
      if (!addr) continue;
      if (host.bindNonPort) add(host, addr, host.bindNonPort, false);
      if (host.bindSslPort) add(host, addr, host.bindSslPort, true);
    }
  }
  return [...byKey.values()];
}

export interface HostMatch {
  host: IcsHost;
  /** The name that matched ('' when the default host was used). */
  matchedName: string;
}

/**
 * Picks the host for a TLS client's server name on one listener: an exact
 * name first, then a one-label wildcard (`*.example.com` matches
 * `a.example.com`, not `a.b.example.com` nor `example.com`), then the
 * listener's default host (the first bound there) unless the policy refuses.
 * Two map lookups whatever the number of hosts.
 */
export class SniSelector {
  private readonly exact = new Map<string, IcsHost>();
  private readonly wildcard = new Map<string, IcsHost>();
  /** Names claimed by more than one host here: the first host keeps them. */
  readonly duplicates: string[] = [];

  constructor(
    readonly hosts: readonly IcsHost[],
    readonly unknownName: SniPolicy = 'default',
    readonly missingName: SniPolicy = 'default',
  ) {
    for (const host of hosts) {
      for (const name of host.hostNames) {
        const map = name.startsWith('*.') ? this.wildcard : this.exact;
        const key = name.startsWith('*.') ? name.slice(2) : name;
        if (map.has(key)) this.duplicates.push(name);
        else map.set(key, host);
      }
    }
  }

  get defaultHost(): IcsHost | undefined {
    return this.hosts[0];
  }

  /** The host for `serverName` ('' or undefined: the client sent none); undefined: refuse. */
  select(serverName: string | undefined): HostMatch | undefined {
    if (!serverName) {
      return this.missingName === 'default' && this.defaultHost ? { host: this.defaultHost, matchedName: '' } : undefined;
    }
    const name = normalizeHostName(serverName);
    const exact = this.exact.get(name);
    if (exact) return { host: exact, matchedName: name };
    const dot = name.indexOf('.');
    if (dot > 0) {
      const wild = this.wildcard.get(name.slice(dot + 1));
      if (wild) return { host: wild, matchedName: `*.${name.slice(dot + 1)}` };
    }
    return this.unknownName === 'default' && this.defaultHost ? { host: this.defaultHost, matchedName: '' } : undefined;
  }
}
