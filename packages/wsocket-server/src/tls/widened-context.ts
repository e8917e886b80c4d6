import { SSL_SRV_SECURITY_LEVELS, TSslContext, securityProfile } from '@ics-ts/ssl-context';
import type { IcsHost } from '../hosts/ics-host';
import { VERSION_ORDER } from './handshake';

/**
 * The context a TLS binding's handshakes start with when a host there accepts
 * an older TLS version than the default host (see ListenerHosts.handshakeContext):
 * the default host's options at the level that differs from the default host's
 * only by that lower floor (a tls13Only default next to TLS 1.2 hosts: high).
 * Only the floor is widened: a higher ceiling would make clients that can do
 * both negotiate the newer version and then be refused by a host capped below
 * it (tls12Less). Undefined when the default host's own context will do.
 */
export function widenedContext(hosts: readonly IcsHost[]): TSslContext | undefined {
  const first = hosts[0]?.sslContext;
  if (!first) return undefined;
  const rank = (version: string) => VERSION_ORDER.indexOf(version);
  const own = first.profile;
  let min = own.minVersion;
  for (const host of hosts) {
    const profile = host.sslContext?.profile;
    if (profile && rank(profile.minVersion) < rank(min)) min = profile.minVersion;
  }
  if (min === own.minVersion) return undefined;
  const { sslCipherList12, sslCipherList13 } = first.options;
  const level = SSL_SRV_SECURITY_LEVELS.find((candidate) => {
    const p = securityProfile(candidate, sslCipherList12, sslCipherList13);
    return (
      p.minVersion === min && p.maxVersion === own.maxVersion && p.ciphers === own.ciphers &&
      p.cipherSuites === own.cipherSuites && p.honorCipherOrder === own.honorCipherOrder
    );
  });
  return level ? new TSslContext({ ...first.options, sslSrvSecurity: level }) : undefined;
}

