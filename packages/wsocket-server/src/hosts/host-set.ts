import type { ListenerPolicy } from '../admission/policy';
import type { ClientClassRef, ClientConstructor } from '../clients/client-registry';
import type { TWSocketClient } from '../clients/wsocket-client';
import type { CertRecheck } from '../events';
import type { Listener } from '../listen/listener';
import { ADMISSION_KEYS, resolvePolicy } from '../options/admission-options';
import { widenedContext } from '../tls/widened-context';
import { HostsValidation, reportHosts } from './host-report';
import { HostBinding, SniPolicy, SniSelector, buildBindings } from './host-table';
import { IcsHost, IcsHostOptions } from './ics-host';
import { ICS_ERR, icsError } from '@ics-ts/wsocket';

/**
 * The server's host table (ICS IcsHosts): validated hosts, what each listener
 * built from a binding serves (its hosts, SNI selector, handshake context and
 * admission policy), certificate rechecks and the report.
 */
export class HostSet<C extends TWSocketClient> {
  private list: IcsHost<C>[] = [];

  constructor(
    private readonly resolveClientClass: (ref: ClientClassRef<C>, option: string) => ClientConstructor<C>,
    private readonly serverPolicy: ListenerPolicy,
    private readonly sniUnknown: SniPolicy,
    private readonly sniMissing: SniPolicy,
    private readonly where: string,
  ) {}

  get hosts(): readonly IcsHost<C>[] {
    return this.list;
  }

  /** Validates a table (nothing changes on an error) and returns its hosts and bindings; `use()` makes it current. */
  plan(table: IcsHostOptions<C>[]): { hosts: IcsHost<C>[]; bindings: HostBinding[] } {
    const hosts = table.map((options, index) => new IcsHost<C>(options, index, this.resolveClientClass, this.where));
    const tags = new Set<string>();
    for (const host of hosts) {
      if (tags.has(host.hostTag)) {
        throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${this.where}: option icsHosts[${host.index}]: hostTag ${JSON.stringify(host.hostTag)} is used twice`);
      }
      tags.add(host.hostTag);
    }
    const bindings = buildBindings(hosts, this.where);
    if (bindings.length === 0) throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${this.where}: option icsHosts: no enabled host binds a port`);
    return { hosts, bindings };
  }

  use(hosts: IcsHost<C>[]): void {
    this.list = hosts;
  }

  /**
   * The table as options, each host's tag pinned: a default tag (host<index>)
   * would otherwise follow the index and rename hosts when one is removed.
   */
  currentTable(): IcsHostOptions<C>[] {
    return this.list.map((h) => ({ ...(h.options as IcsHostOptions<C>), hostTag: h.hostTag }));
  }

  byTag(hostTag: string): IcsHost<C> {
    const host = this.list.find((h) => h.hostTag === hostTag);
    if (!host) {
      throw icsError(RangeError, ICS_ERR.NO_SUCH_HOST, `${this.where}: no host with hostTag ${JSON.stringify(hostTag)} (${this.list.map((h) => h.hostTag).join(', ')})`);
    }
    return host;
  }

  /** Makes `listener` serve a binding: its hosts, SNI, handshake context, and the policy the first of its hosts that sets a key gives. */
  serve(listener: Listener, binding: HostBinding): void {
    if (!binding.tls) listener.hosts = { key: binding.key, hosts: binding.hosts, sni: undefined };
    else {
      const sni = new SniSelector(binding.hosts, this.sniUnknown, this.sniMissing);
      listener.hosts = { key: binding.key, hosts: binding.hosts, sni, handshakeContext: widenedContext(binding.hosts) };
    }
    const merged: Record<string, unknown> = {};
    for (const host of [...binding.hosts].reverse()) {
      for (const key of ADMISSION_KEYS) {
        const value = (host.options as Record<string, unknown>)[key];
        if (value !== undefined) merged[key] = value;
      }
    }
    listener.policy = resolvePolicy(merged, this.serverPolicy, this.where);
  }

  /** A binding no host uses any more: closed, kept so listener indexes stay put. */
  retire(listener: Listener): void {
    listener.close();
    const hosts = listener.hosts!;
    listener.hosts = { ...hosts, hosts: [], sni: hosts.sni && new SniSelector([], this.sniUnknown, this.sniMissing) };
  }

  /** ICS RecheckSslCerts over every host, and the listeners' widened copies of their default host's context. */
  recheck(listeners: readonly Listener[]): CertRecheck {
    const result: CertRecheck = { reloaded: [], failed: [] };
    for (const host of this.list) {
      const outcome = host.sslContext?.reload();
      if (outcome?.changed) result.reloaded.push(host.hostTag);
      else if (outcome?.error) result.failed.push({ hostTag: host.hostTag, error: outcome.error });
    }
    // A widened copy reads the same files as its default host: keep it in step (its outcome is that host's, already reported).
    for (const listener of listeners) listener.hosts?.handshakeContext?.reload();
    return result;
  }

  report(): HostsValidation {
    return reportHosts(this.list, buildBindings(this.list, this.where));
  }
}
