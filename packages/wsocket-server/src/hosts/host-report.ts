import * as net from 'node:net';
import type { HostBinding } from './host-table';
import type { IcsHost } from './ics-host';
import { VERSION_ORDER } from '../tls/handshake';

/** One host as validateHosts() reports it. */
export interface HostReport {
  index: number;
  hostTag: string;
  displayName: string;
  hostNames: readonly string[];
  enabled: boolean;
  /** `tcp://0.0.0.0:8080`, `tls://[::1]:8443` */
  bindings: string[];
  /** The certificate, for a TLS host. */
  certificate?: { names: string[]; notAfter: string; daysLeft: number; securityLevel: string };
  /**
   * Where the certificate comes from: 'file' (sslCert), 'acme' (certAutoOrder, from the CA), 'stand-in'
   * (certAutoOrder, self-signed until the first order succeeds), 'none' (certAutoOrder, ordered at listen).
   */
  certificateSource?: 'file' | 'acme' | 'stand-in' | 'none';
  /** certAutoOrder: when the next order runs (ISO time; 'at listen' before the server listens). */
  nextOrder?: string;
  /** certAutoOrder: the last failed order's error, while the failures last. */
  lastOrderError?: string;
  /** What deserves a look: names the certificate does not cover, expiry, names taken by an earlier host. */
  problems: string[];
}

export interface HostsValidation {
  hosts: HostReport[];
  /** The report as lines a person reads. */
  text: string;
}

const DAY_MS = 86_400_000;

function bindingUrl(binding: HostBinding): string {
  const host = net.isIPv6(binding.addr) ? `[${binding.addr}]` : binding.addr;
  return `${binding.tls ? 'tls' : 'tcp'}://${host}:${binding.port}`;
}

/** Does a certificate name (maybe a wildcard) cover a host name (maybe a wildcard)? */
function covers(certName: string, hostName: string): boolean {
  const cert = certName.toLowerCase();
  if (cert === hostName) return true;
  if (cert.startsWith('*.') && !hostName.startsWith('*.')) {
    const dot = hostName.indexOf('.');
    return dot > 0 && hostName.slice(dot + 1) === cert.slice(2);
  }
  return false;
}

/** ICS ValidateHosts' report: per host, names, bindings, certificate and problems. */
export function reportHosts(hosts: readonly IcsHost[], bindings: readonly HostBinding[]): HostsValidation {
  const claimed = new Map<string, IcsHost>(); // binding key + name → first host
  const reports = hosts.map((host): HostReport => {
    const problems: string[] = [];
    const mine = bindings.filter((b) => b.hosts.includes(host));
    for (const binding of mine) {
      const cap = binding.tls ? binding.hosts[0]?.sslContext?.profile : undefined;
      const floor = host.sslContext?.profile;
      if (cap && floor && binding.hosts[0] !== host && VERSION_ORDER.indexOf(floor.minVersion) > VERSION_ORDER.indexOf(cap.maxVersion)) {
        // The version is negotiated with the default host's context, before SNI picks this host.
        problems.push(
          `unreachable on ${bindingUrl(binding)}: it needs ${floor.minVersion} (sslSrvSecurity ${floor.level}) but TLS stops at ` +
            `${cap.maxVersion} there (the default host ${binding.hosts[0].hostTag} has sslSrvSecurity ${cap.level})`,
        );
      }
      for (const name of host.hostNames) {
        const key = `${binding.key}|${name}`;
        const first = claimed.get(key);
        if (first && first !== host) problems.push(`${name} on ${bindingUrl(binding)} is already served by ${first.hostTag}`);
        else claimed.set(key, host);
      }
    }
    const report: HostReport = {
      index: host.index,
      hostTag: host.hostTag,
      displayName: host.displayName,
      hostNames: host.hostNames,
      enabled: host.hostEnabled,
      bindings: mine.map(bindingUrl),
      problems,
    };
    const context = host.sslContext;
    const manager = host.certManager;
    if (manager) {
      const status = manager.status;
      report.certificateSource = status.source ?? (context ? (context.facts.selfSigned ? 'stand-in' : 'acme') : 'none');
      const renewAt = context && report.certificateSource === 'acme' ? context.facts.notAfter.getTime() - manager.options.renewDays * DAY_MS : undefined;
      const next = status.state === 'new' ? (renewAt !== undefined && renewAt > Date.now() ? new Date(renewAt) : undefined) : status.nextOrderAt;
      report.nextOrder = next ? next.toISOString() : 'at listen';
      if (status.lastError) {
        report.lastOrderError = status.lastError;
        problems.push(`certAutoOrder: ${status.failures} failed order(s), the last: ${status.lastError}`);
      }
    } else if (context) {
      report.certificateSource = 'file';
    }
    if (context) {
      const facts = context.facts;
      report.certificate = {
        names: facts.names,
        notAfter: facts.notAfter.toISOString(),
        daysLeft: facts.daysLeft,
        securityLevel: context.profile.level,
      };
      for (const name of host.hostNames) {
        if (!facts.names.some((certName) => covers(certName, name))) problems.push(`the certificate does not cover ${name}`);
      }
      problems.push(...context.warnings);
    }
    return report;
  });
  const text = reports
    .map((r) => {
      const head = `#${r.index} ${r.displayName}${r.enabled ? '' : ' (disabled)'}: ${r.hostNames.join(', ')}`;
      const lines = [head, `  bindings: ${r.bindings.join(', ') || 'none'}`];
      if (r.certificate) {
        const c = r.certificate;
        lines.push(`  certificate: ${c.names.join(', ')}, expires ${c.notAfter.slice(0, 10)} (${c.daysLeft} days), security ${c.securityLevel}`);
      }
      if (r.nextOrder !== undefined) lines.push(`  certAutoOrder: source ${r.certificateSource}, next order ${r.nextOrder}`);
      for (const problem of r.problems) lines.push(`  problem: ${problem}`);
      return lines.join('\n');
    })
    .join('\n');
  return { hosts: reports, text };
}
