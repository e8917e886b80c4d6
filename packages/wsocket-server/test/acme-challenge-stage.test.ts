/**
 * The TLS stage while a tls-alpn-01 challenge waits: every connection's ClientHello is read first.
 * The CA's check gets the challenge certificate; everyone else, hostile or not, goes through the
 * usual handshake as if nothing happened. The challenge source is a stand-in kept pending for the
 * whole test (with a real CA a challenge is pending for a second or so: see ics-hosts-acme.test.ts).
 */
import { once } from 'node:events';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { createDevCertificate } from '@ics-ts/ssl-context';
import { TWSocketServer } from '@ics-ts/wsocket-server';
import { acmeIdentifierDigest } from '@ics-ts/acme';
import { EchoClient, track } from './helpers';
import { TlsPeer } from './tls-peer';
import { freePort } from '../../acme/test/pebble';
import { PendingChallenges } from '../../acme/src/challenges';

const KEY_AUTHORIZATION = 'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI';

async function serverWithPendingChallenge(): Promise<{ server: TWSocketServer<EchoClient>; port: number; fingerprint: string }> {
  const port = await freePort();
  const identity = await createDevCertificate({ names: ['app.example.com'] });
  const server = track(
    new TWSocketServer<EchoClient>({
      clientClass: EchoClient,
      sslHandshakeTimeout: 300,
      icsHosts: [{ hostTag: 'app', hostNames: ['app.example.com'], bindIpAddr: '127.0.0.1', bindSslPort: port, sslCert: identity.cert + identity.key }],
    }),
  );
  const challenges = new PendingChallenges();
  const alpnKey = (await createDevCertificate({ names: ['x.example.com'] })).key;
  await challenges.addTlsAlpn01({ identifier: { type: 'dns', value: 'app.example.com' } } as Parameters<PendingChallenges['addTlsAlpn01']>[0], KEY_AUTHORIZATION, alpnKey);
  (server as unknown as { handshakes: { acme: unknown } }).handshakes.acme = {
    tlsAlpnPending: true,
    challengeContextFor: (name: string) => challenges.contextFor(name),
  };
  await server.listen();
  const { X509Certificate } = await import('node:crypto');
  return { server, port, fingerprint: new X509Certificate(identity.cert).fingerprint256 };
}

test('the CA check gets the challenge certificate and never becomes a client; ordinary clients are served', async () => {
  const { server, port, fingerprint } = await serverWithPendingChallenge();
  const check = tls.connect({ host: '127.0.0.1', port, servername: 'app.example.com', ALPNProtocols: ['acme-tls/1'], rejectUnauthorized: false });
  await once(check, 'secureConnect');
  const raw = check.getPeerCertificate().raw;
  expect(check.alpnProtocol).toBe('acme-tls/1');
  check.end();
  await once(check, 'close');
  // id-pe-acmeIdentifier (1.3.6.1.5.5.7.1.31) and, inside it, SHA-256 of the key authorization.
  expect(raw.includes(Buffer.from([0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x1f]))).toBe(true);
  expect(raw.includes(acmeIdentifierDigest(KEY_AUTHORIZATION))).toBe(true);
  expect(server.acmeChallengesAnswered).toBe(1);
  expect(server.clientCount).toBe(0);

  for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
    const peer = await TlsPeer.connect(port, { servername: 'app.example.com', ALPNProtocols: ['h2'], maxVersion });
    expect(peer.fingerprint).toBe(fingerprint);
    expect(await peer.ask('hi')).toBe('echo hi');
    await peer.destroy();
  }
  // acme-tls/1 for a name with no challenge: an ordinary handshake with the host's certificate.
  const other = await TlsPeer.connect(port, { servername: 'other.example.com', ALPNProtocols: ['acme-tls/1'] });
  expect(other.fingerprint).toBe(fingerprint);
  await other.destroy();
});

test('garbage, silence and a half ClientHello are handshake failures, counted; the server serves on', async () => {
  const { server, port } = await serverWithPendingChallenge();
  const before = { ...server.sslHandshakeFailures };
  const garbage = net.connect(port, '127.0.0.1');
  garbage.on('error', () => undefined);
  garbage.write('GET / HTTP/1.1\r\n\r\n');
  await once(garbage, 'close');
  const silent = net.connect(port, '127.0.0.1');
  silent.on('error', () => undefined);
  await once(silent, 'close');
  const half = net.connect(port, '127.0.0.1');
  half.on('error', () => undefined);
  half.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc])); // a 508-byte hello announced, 4 bytes sent
  await once(half, 'close');
  const after = server.sslHandshakeFailures;
  expect(after.protocol).toBe(before.protocol + 1);
  expect(after.timeout).toBe(before.timeout + 2);
  expect(server.acmeChallengesAnswered).toBe(0);
  const peer = await TlsPeer.connect(port, { servername: 'app.example.com' });
  expect(await peer.ask('still')).toBe('echo still');
  await peer.destroy();
});
