/**
 * Server identities and client certificates through TWSocketServer: mutual TLS
 * (sslVerifyPeer 'require' / 'request' with sslCA), PFX with the right and the
 * wrong password, a key that does not match its certificate, and
 * TSslContext.reload() swapping the certificate for new connections only.
 *
 * Loopback only, port 0; temp files in a temp dir removed after the file.
 */
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import * as tls from 'node:tls';
import { DevIdentity, TSslContext, createDevCA, createDevCertificate } from '@ics-ts/ssl-context';
import { HandshakeFailure, TWSocketClient, TWSocketServer } from '@ics-ts/wsocket-server';
import { TempDir, openssl, tempDir } from '../../ssl-context/test/helpers';
import { EchoClient, disconnects, startServer, withClient } from './helpers';
import { TlsPeer } from './tls-peer';

// ---------------------------------------------------------------- TLS peers

/** Connects and returns the peer with its server-side client, once the banner came. */
async function served<C extends TWSocketClient>(
  server: TWSocketServer<C>,
  options: tls.ConnectionOptions = {},
  port = server.bindPort,
): Promise<{ peer: TlsPeer; client: C }> {
  const result = await withClient(server, () => TlsPeer.open(port, options));
  expect(await result.peer.nextLine()).toBe(server.banner);
  return result;
}

/** Connects a peer the server must refuse: resolves with the failure the server reported. */
async function refused(server: TWSocketServer<TWSocketClient>, options: tls.ConnectionOptions): Promise<{ peer: TlsPeer; failure: HandshakeFailure }> {
  let admitted = false;
  const onCreate = () => (admitted = true);
  server.on('clientCreate', onCreate);
  const failed = once(server, 'sslHandshakeError') as Promise<[HandshakeFailure]>;
  const peer = TlsPeer.open(server.bindPort, options);
  const [failure] = await failed;
  await peer.closed;
  server.off('clientCreate', onCreate);
  expect(admitted).toBe(false);
  expect(peer.received).toBe(''); // not even the banner
  expect(failure.peerAddr).toBe('127.0.0.1');
  return { peer, failure };
}

// ---------------------------------------------------------------- fixtures

let tmp: TempDir;
let serverId: DevIdentity;
let ca: DevIdentity;
let clientId: DevIdentity;
let otherCa: DevIdentity;
let strangerId: DevIdentity;

beforeAll(async () => {
  tmp = tempDir('wsocket-server-tls-');
  serverId = await createDevCertificate({ names: ['localhost', '127.0.0.1'] });
  ca = await createDevCA('Client CA');
  clientId = await createDevCertificate({ names: ['client.test'], ca });
  otherCa = await createDevCA('Other CA');
  strangerId = await createDevCertificate({ names: ['stranger.test'], ca: otherCa });
});
afterAll(() => tmp?.remove());

function fingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

/** Just the leaf of a PEM chain. */
function leaf(pem: string): string {
  return /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)![0];
}

// ---------------------------------------------------------------- mutual TLS

describe("mutual TLS: sslVerifyPeer 'require' with sslCA", () => {
  function mtlsServer() {
    return startServer({
      clientClass: EchoClient,
      banner: 'who are you',
      sslEnable: true,
      sslContext: { sslCert: serverId.cert, sslKey: serverId.key, sslCA: ca.cert, sslVerifyPeer: 'require' },
    });
  }

  test('a client certificate from the CA is accepted; peerCertificate and authorized readable, also after close', async () => {
    const server = await mtlsServer();
    const { peer, client } = await served(server, { cert: clientId.cert, key: clientId.key });
    expect(client.tls!.authorized).toBe(true);
    const cert = client.tls!.peerCertificate!;
    expect(cert).toBeDefined();
    expect(cert.subject.CN).toBe('client.test');
    expect(cert.issuer.CN).toBe('Client CA');
    expect(cert.fingerprint256).toBe(fingerprint(clientId.cert));
    expect(await peer.ask('hello')).toBe('echo hello');
    const gone = disconnects(server, 1);
    await peer.end();
    await gone;
    expect(client.tls!.peerCertificate!.subject.CN).toBe('client.test');
    expect(client.tls!.authorized).toBe(true);
    expect(server.sslHandshakeErrors).toBe(0);
  });

  test('the same over TLS 1.2', async () => {
    const server = await mtlsServer();
    const { client } = await served(server, { cert: clientId.cert, key: clientId.key, maxVersion: 'TLSv1.2' });
    expect(client.tls!.protocol).toBe('TLSv1.2');
    expect(client.tls!.authorized).toBe(true);
    expect(client.tls!.peerCertificate!.subject.CN).toBe('client.test');
  });

  test('no client certificate: refused (a handshake error, no client, no banner)', async () => {
    const server = await mtlsServer();
    const { failure } = await refused(server, {});
    expect(failure.error.message).toMatch(/certificate/i);
    expect(server.sslHandshakeErrors).toBe(1);
    expect(server.clientCount).toBe(0);
  });

  test('a client certificate from ANOTHER CA: refused', async () => {
    const server = await mtlsServer();
    const { failure } = await refused(server, { cert: strangerId.cert, key: strangerId.key });
    expect(failure.error.message).toMatch(/client certificate refused/);
    expect(server.sslHandshakeErrors).toBe(1);
    expect(server.clientCount).toBe(0);
  });

  test('another CA, the leaf alone (no chain sent), over TLS 1.2: refused too', async () => {
    const server = await mtlsServer();
    const { failure } = await refused(server, { cert: leaf(strangerId.cert), key: strangerId.key, maxVersion: 'TLSv1.2' });
    expect(failure.error.message).toMatch(/client certificate refused/);
  });

  test('a self-signed client certificate: refused', async () => {
    const server = await mtlsServer();
    const selfSigned = await createDevCertificate({ names: ['self.test'] });
    const { failure } = await refused(server, { cert: selfSigned.cert, key: selfSigned.key });
    expect(failure.error.message).toMatch(/client certificate refused/);
  });

  test('an expired client certificate from the CA: refused', async () => {
    const server = await mtlsServer();
    const expired = await createDevCertificate({ names: ['old.test'], ca, days: 1, notBefore: new Date(Date.now() - 10 * 86_400_000) });
    const { failure } = await refused(server, { cert: expired.cert, key: expired.key });
    expect(failure.error.message).toMatch(/client certificate refused: .*expired/);
  });

  test('refusals do not harm the server: a good client after them is served', async () => {
    const server = await mtlsServer();
    await refused(server, {});
    await refused(server, { cert: strangerId.cert, key: strangerId.key });
    const { peer, client } = await served(server, { cert: clientId.cert, key: clientId.key });
    expect(client.tls!.authorized).toBe(true);
    expect(await peer.ask('ok')).toBe('echo ok');
    expect(server.sslHandshakeErrors).toBe(2);
  });
});

describe("optional client certificates: sslVerifyPeer 'request'", () => {
  function requestServer() {
    return startServer({
      banner: 'hello',
      sslEnable: true,
      sslContext: { sslCert: serverId.cert, sslKey: serverId.key, sslCA: ca.cert, sslVerifyPeer: 'request' },
    });
  }

  test('no certificate: accepted, peerCertificate undefined, authorized false', async () => {
    const server = await requestServer();
    const { client } = await served(server, {});
    expect(client.tls!.peerCertificate).toBeUndefined();
    expect(client.tls!.authorized).toBe(false);
  });

  test('a certificate from the CA: accepted and authorized', async () => {
    const server = await requestServer();
    const { client } = await served(server, { cert: clientId.cert, key: clientId.key });
    expect(client.tls!.peerCertificate!.subject.CN).toBe('client.test');
    expect(client.tls!.authorized).toBe(true);
  });

  test('a certificate from another CA: accepted, readable, but not authorized', async () => {
    const server = await requestServer();
    const { client } = await served(server, { cert: strangerId.cert, key: strangerId.key });
    expect(client.tls!.peerCertificate!.subject.CN).toBe('stranger.test');
    expect(client.tls!.authorized).toBe(false);
    expect(server.sslHandshakeErrors).toBe(0);
  });
});

// ---------------------------------------------------------------- PFX and keys

describe('PFX identities', () => {
  let pfx: string;

  beforeAll(() => {
    const cert = tmp.write('pfx-src.crt.pem', serverId.cert);
    const key = tmp.write('pfx-src.key.pem', serverId.key);
    openssl(tmp.dir, ['pkcs12', '-export', '-in', cert, '-inkey', key, '-out', 'server.pfx', '-passout', 'pass:right horse']);
    pfx = tmp.file('server.pfx');
  });

  test('the right password: the server serves the PFX certificate', async () => {
    const server = await startServer({ banner: 'pfx', sslEnable: true, sslContext: { sslCert: pfx, sslPassword: 'right horse' } });
    const { peer } = await served(server);
    expect(peer.serverFingerprint).toBe(fingerprint(serverId.cert));
  });

  test('the wrong password: the constructor throws, naming the option and the file', () => {
    expect(() => new TWSocketServer({ sslEnable: true, sslContext: { sslCert: pfx, sslPassword: 'wrong' } })).toThrow(
      `TWSocketServer: option sslContext: sslCert file ${pfx}: wrong sslPassword`,
    );
  });

  test('no password: the constructor throws, saying one is needed', () => {
    expect(() => new TWSocketServer({ sslEnable: true, sslContext: { sslCert: pfx } })).toThrow(
      new RegExp(`option sslContext: sslCert file ${pfx.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*sslPassword is needed`),
    );
  });

  test('the wrong password on a multiListenSockets item names that item', () => {
    expect(
      () =>
        new TWSocketServer({
          multiListenSockets: [
            { addr: '127.0.0.1', port: 0 },
            { addr: '127.0.0.1', port: 0, sslEnable: true, sslContext: { sslCert: pfx, sslPassword: 'nope' } },
          ],
        }),
    ).toThrow(`TWSocketServer: option multiListenSockets[1].sslContext: sslCert file ${pfx}: wrong sslPassword`);
  });
});

describe('a key that does not match its certificate', () => {
  test('the constructor throws, naming the option and both files', () => {
    const cert = tmp.write('mismatch.crt.pem', serverId.cert);
    const key = tmp.write('mismatch.key.pem', clientId.key);
    expect(() => new TWSocketServer({ sslEnable: true, sslContext: { sslCert: cert, sslKey: key } })).toThrow(
      `TWSocketServer: option sslContext: sslKey file ${key}: the private key does not match the certificate in sslCert file ${cert}`,
    );
  });

  test('inline PEM: the same check', () => {
    expect(() => new TWSocketServer({ sslEnable: true, sslContext: { sslCert: serverId.cert, sslKey: strangerId.key } })).toThrow(
      /option sslContext: sslKey \(inline PEM\): the private key does not match/,
    );
  });
});

// ---------------------------------------------------------------- reload

describe('TSslContext.reload() under a running server', () => {
  test('new connections get the new certificate; an open connection keeps the old one and keeps working', async () => {
    const first = await createDevCertificate({ names: ['localhost', '127.0.0.1'] });
    const second = await createDevCertificate({ names: ['localhost', '127.0.0.1'] });
    const certFile = tmp.write('reload.crt.pem', first.cert);
    const keyFile = tmp.write('reload.key.pem', first.key);
    const ctx = new TSslContext({ sslCert: certFile, sslKey: keyFile });
    const server = await startServer({ clientClass: EchoClient, banner: 'r', sslEnable: true, sslContext: ctx });
    expect(server.sslContext).toBe(ctx);

    const old = await served(server);
    expect(old.peer.serverFingerprint).toBe(fingerprint(first.cert));

    // Unchanged files: nothing to do.
    expect(ctx.reload()).toEqual({ changed: false });

    tmp.write('reload.crt.pem', second.cert);
    tmp.write('reload.key.pem', second.key);
    const reloaded = once(ctx, 'reload');
    expect(ctx.reload()).toEqual({ changed: true });
    await reloaded;

    const fresh = await served(server);
    expect(fresh.peer.serverFingerprint).toBe(fingerprint(second.cert));
    expect(await fresh.peer.ask('new')).toBe('echo new');

    // The old connection: same session, same certificate, still serving.
    expect(old.peer.serverFingerprint).toBe(fingerprint(first.cert));
    expect(await old.peer.ask('old')).toBe('echo old');
    expect(server.clients).toEqual([old.client, fresh.client]);
  });

  test('a failed reload (garbage in the file) keeps the last good certificate for new connections', async () => {
    const good = await createDevCertificate({ names: ['localhost', '127.0.0.1'] });
    const certFile = tmp.write('bad-reload.crt.pem', good.cert);
    const keyFile = tmp.write('bad-reload.key.pem', good.key);
    const server = await startServer({ banner: 'g', sslEnable: true, sslContext: { sslCert: certFile, sslKey: keyFile } });
    tmp.write('bad-reload.crt.pem', 'not a certificate');
    const errors: Error[] = [];
    server.sslContext!.on('reloadError', (error) => errors.push(error));
    const result = server.sslContext!.reload();
    expect(result.changed).toBe(false);
    expect(result.error?.message).toContain(certFile);
    expect(errors).toHaveLength(1);
    const { peer } = await served(server);
    expect(peer.serverFingerprint).toBe(fingerprint(good.cert));
  });

  test('a listener with its own context: reloading it changes that listener only', async () => {
    const mainId = await createDevCertificate({ names: ['localhost', '127.0.0.1'] });
    const itemA = await createDevCertificate({ names: ['localhost', '127.0.0.1'] });
    const itemB = await createDevCertificate({ names: ['localhost', '127.0.0.1'] });
    const certFile = tmp.write('item.crt.pem', itemA.cert);
    const keyFile = tmp.write('item.key.pem', itemA.key);
    const itemCtx = new TSslContext({ sslCert: certFile, sslKey: keyFile });
    const server = await startServer({
      banner: 'm',
      sslEnable: true,
      sslContext: { sslCert: mainId.cert, sslKey: mainId.key },
      multiListenSockets: [{ addr: '127.0.0.1', port: 0, sslEnable: true, sslContext: itemCtx }],
    });
    const itemPort = server.listenSockets[1].bindPort;
    tmp.write('item.crt.pem', itemB.cert);
    tmp.write('item.key.pem', itemB.key);
    expect(itemCtx.reload().changed).toBe(true);
    const onItem = await served(server, {}, itemPort);
    const onMain = await served(server);
    expect(onItem.peer.serverFingerprint).toBe(fingerprint(itemB.cert));
    expect(onMain.peer.serverFingerprint).toBe(fingerprint(mainId.cert));
  });
});
