import type * as tls from 'node:tls';
import { AcmeCertManager, Http01Responder, IssuedCertificate } from '@ics-ts/acme';
import { TSslContext } from '@ics-ts/ssl-context';
import type { IcsHost } from './ics-host';
import { ICS_ERR, icsError, icsSystemError, icsCodeOf } from '@ics-ts/wsocket';

/** Where the certificates' news goes: the server reloads contexts and emits its events. */
export interface AutoCertificateSink {
  certificateIssued(host: IcsHost, certificate: IssuedCertificate): void;
  certificateOrderFailed(host: IcsHost, error: Error, retry: { failures: number; retryAt: Date }): void;
}

/**
 * The certAutoOrder hosts of a server: their AcmeCertManagers started at listen (each host's
 * certificate file ready before its listener opens), the http-01 responders (one per address and
 * httpPort, shared by the hosts there), and the tls-alpn-01 answers the TLS stage asks for.
 */
export class AutoCertificates {
  private managed: { host: IcsHost; manager: AcmeCertManager; onIssued(c: IssuedCertificate): void; onFailed(e: Error, r: { failures: number; retryAt: Date }): void }[] = [];
  private tlsAlpn: AcmeCertManager[] = [];
  private readonly responders = new Map<string, Http01Responder>();
  /** start() and stop() run one after the other (two listen() calls, a setIcsHosts during a close...). */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly sink: AutoCertificateSink) {}

  /** A tls-alpn-01 challenge waits for the CA: only then does the TLS stage read ClientHellos first. */
  get tlsAlpnPending(): boolean {
    for (const manager of this.tlsAlpn) if (manager.pendingChallenges > 0) return true;
    return false;
  }

  /** The acme-tls/1 context for a server name, when one of our hosts has a challenge for it. */
  challengeContextFor(serverName: string): tls.SecureContext | undefined {
    for (const manager of this.tlsAlpn) {
      const context = manager.challengeContextFor(serverName);
      if (context) return context;
    }
    return undefined;
  }

  /** http-01 responders by `addr|port`, for a report. */
  get http01Responders(): ReadonlyMap<string, Http01Responder> {
    return this.responders;
  }

  /**
   * Starts the managers of these hosts (those not started yet), makes each host's context from its
   * certificate file (the stored one or a stand-in) and opens the http-01 ports. Hosts no longer in
   * the list are stopped. Rejects, naming the host, when a work directory or a port cannot be had.
   */
  start(hosts: readonly IcsHost[]): Promise<void> {
    return this.serialize(() => this.startNow(hosts));
  }

  /** Stops every manager (ICS OrderClose) and closes the http-01 ports; the files stay. */
  stop(): Promise<void> {
    return this.serialize(() => this.stopHosts(this.managed.map((m) => m.host)));
  }

  private serialize(work: () => Promise<void>): Promise<void> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async startNow(hosts: readonly IcsHost[]): Promise<void> {
    const wanted = hosts.filter((host) => host.certManager !== undefined);
    await this.stopHosts(this.managed.filter((m) => !wanted.includes(m.host)).map((m) => m.host));
    for (const host of wanted) {
      if (this.managed.some((m) => m.host === host)) continue;
      const manager = host.certManager!;
      try {
        await manager.start();
      } catch (error) {
        throw icsError(Error, icsCodeOf(error, ICS_ERR.ACME_ORDER_FAILED), `icsHosts[${host.index}] (${host.hostTag}): certAutoOrder: ${(error as Error).message}`, { cause: error });
      }
      if (host.sslContext) host.sslContext.reload(true);
      else if (host.bindSslPort !== 0) host.sslContext = new TSslContext({ ...host.contextOptions, sslCert: manager.bundleFile });
      const entry = {
        host,
        manager,
        onIssued: (certificate: IssuedCertificate) => this.sink.certificateIssued(host, certificate),
        onFailed: (error: Error, retry: { failures: number; retryAt: Date }) => this.sink.certificateOrderFailed(host, error, retry),
      };
      manager.on('certificate', entry.onIssued);
      manager.on('orderFailed', entry.onFailed);
      this.managed.push(entry);
    }
    this.tlsAlpn = this.managed.filter((m) => m.manager.options.challenge === 'tls-alpn-01').map((m) => m.manager);
    await this.openResponders();
  }

  private async stopHosts(hosts: IcsHost[]): Promise<void> {
    const leaving = this.managed.filter((m) => hosts.includes(m.host));
    this.managed = this.managed.filter((m) => !hosts.includes(m.host));
    this.tlsAlpn = this.managed.filter((m) => m.manager.options.challenge === 'tls-alpn-01').map((m) => m.manager);
    for (const m of leaving) {
      m.manager.off('certificate', m.onIssued);
      m.manager.off('orderFailed', m.onFailed);
    }
    await Promise.all(leaving.map((m) => m.manager.stop()));
    await this.openResponders();
  }

  /** One http-01 responder per address and port the http-01 hosts name; closes those no host names any more. */
  private async openResponders(): Promise<void> {
    const groups = new Map<string, AcmeCertManager[]>();
    for (const { host, manager } of this.managed) {
      if (host.http01Port === 0) continue;
      const key = `${host.bindIpAddr}|${host.http01Port}`;
      groups.set(key, [...(groups.get(key) ?? []), manager]);
    }
    for (const [key, responder] of [...this.responders]) {
      if (groups.has(key)) continue;
      this.responders.delete(key);
      await responder.close();
    }
    for (const [key, managers] of groups) {
      const current = this.responders.get(key);
      const lookup = (path: string): string | undefined => {
        for (const manager of managers) {
          const body = manager.http01Response(path);
          if (body !== undefined) return body;
        }
        return undefined;
      };
      if (current) {
        current.lookup = lookup;
        continue;
      }
      const [addr, port] = key.split('|');
      const responder = new Http01Responder(lookup);
      try {
        await responder.listen(Number(port), addr);
      } catch (error) {
        throw icsSystemError(ICS_ERR.LISTEN_FAILED, (error as NodeJS.ErrnoException).code, `certAutoOrder: cannot answer http-01 on ${addr} port ${port}: ${(error as Error).message}`, {
          cause: error,
        });
      }
      this.responders.set(key, responder);
    }
  }
}
