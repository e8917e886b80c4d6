/**
 * Development certificates: self-signed and CA-signed ECDSA P-256 identities
 * that real TLS clients verify, and the cacheDir reuse rules.
 */
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import { TSslContext, certificateFacts, createDevCA, createDevCertificate, keyStrength } from '@ics-ts/ssl-context';
import { TempDir, closeSocket, echo, startServer, tempDir, tryConnect } from './helpers';

const DAY_MS = 86_400_000;
let tmp: TempDir;

beforeAll(() => {
  tmp = tempDir();
});
afterAll(() => tmp.remove());

describe('self-signed', () => {
  test('for localhost, 127.0.0.1 and ::1: a Node client with ca = the certificate verifies it', async () => {
    const dev = await createDevCertificate({ names: ['localhost', '127.0.0.1', '::1'] });
    const cert = new X509Certificate(dev.cert);
    expect(keyStrength(cert)).toEqual({ label: 'ec P-256', bits: 128 });
    expect(cert.checkPrivateKey(require('node:crypto').createPrivateKey(dev.key))).toBe(true);
    expect(dev.key).toContain('-----BEGIN PRIVATE KEY-----');
    expect(cert.ca).toBe(false);
    const server = await startServer(new TSslContext({ sslCert: dev.cert, sslKey: dev.key }));
    try {
      // by IP (the IP SAN is checked) and by name (the DNS SAN)
      for (const servername of [undefined, 'localhost']) {
        const result = await tryConnect(server.port, { ca: dev.cert, rejectUnauthorized: true, servername });
        expect(result.ok).toBe(true);
        if (result.ok) {
          expect(result.socket.authorized).toBe(true);
          expect(await echo(result.socket, 'hello')).toBe('hello');
          await closeSocket(result.socket);
        }
      }
      // a name it is not for
      const wrongName = await tryConnect(server.port, { ca: dev.cert, rejectUnauthorized: true, servername: 'other.test' });
      expect(!wrongName.ok && (wrongName.error as NodeJS.ErrnoException).code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
      // without the certificate as CA
      const untrusted = await tryConnect(server.port, { rejectUnauthorized: true });
      expect(!untrusted.ok && (untrusted.error as NodeJS.ErrnoException).code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    } finally {
      await server.close();
    }
  });
});

describe('CA-signed', () => {
  test('a client verifies with ca = the CA certificate, and fails without it', async () => {
    const ca = await createDevCA('Dev Test CA');
    const caCert = new X509Certificate(ca.cert);
    expect(caCert.ca).toBe(true);
    expect(certificateFacts(caCert).selfSigned).toBe(true);
    const dev = await createDevCertificate({ names: ['localhost', '127.0.0.1'], ca });
    const leaf = new X509Certificate(dev.cert);
    expect(leaf.checkIssued(caCert)).toBe(true);
    expect(leaf.verify(caCert.publicKey)).toBe(true);
    expect(dev.cert).toContain(ca.cert.trim()); // leaf then CA

    const server = await startServer(new TSslContext({ sslCert: dev.cert, sslKey: dev.key }));
    try {
      const trusted = await tryConnect(server.port, { ca: ca.cert, rejectUnauthorized: true, servername: 'localhost' });
      expect(trusted.ok).toBe(true);
      if (trusted.ok) {
        expect(trusted.fingerprint256).toBe(leaf.fingerprint256);
        await closeSocket(trusted.socket);
      }
      const untrusted = await tryConnect(server.port, { rejectUnauthorized: true, servername: 'localhost' });
      expect(untrusted.ok).toBe(false);
      expect(!untrusted.ok && (untrusted.error as NodeJS.ErrnoException).code).toBe('SELF_SIGNED_CERT_IN_CHAIN');
      const otherCa = await createDevCA('Another CA');
      const wrongCa = await tryConnect(server.port, { ca: otherCa.cert, rejectUnauthorized: true, servername: 'localhost' });
      expect(wrongCa.ok).toBe(false);
    } finally {
      await server.close();
    }
  });
});

describe('cacheDir', () => {
  test('writes the files, reuses them on the second call, not when the names differ', async () => {
    const dir = tmp.file('cache1');
    const names = ['localhost', '127.0.0.1', '::1'];
    const first = await createDevCertificate({ names, cacheDir: dir });
    expect(fs.readFileSync(`${dir}/localhost.crt.pem`, 'latin1')).toBe(first.cert);
    expect(fs.readFileSync(`${dir}/localhost.key.pem`, 'latin1')).toBe(first.key);
    expect(fs.statSync(`${dir}/localhost.key.pem`).mode & 0o777).toBe(0o600);

    const second = await createDevCertificate({ names, cacheDir: dir });
    expect(second.cert).toBe(first.cert);
    expect(second.key).toBe(first.key);
    // the same names written otherwise (order, IPv6 spelling) still match
    const third = await createDevCertificate({ names: ['localhost', '0:0:0:0:0:0:0:1', '127.0.0.1'], cacheDir: dir });
    expect(third.cert).toBe(first.cert);

    const fewer = await createDevCertificate({ names: ['localhost'], cacheDir: dir });
    expect(fewer.cert).not.toBe(first.cert);
    expect(certificateFacts(new X509Certificate(fewer.cert)).names).toEqual(['localhost']);
    const more = await createDevCertificate({ names: ['localhost', 'extra.test'], cacheDir: dir });
    expect(more.cert).not.toBe(fewer.cert);
    expect(certificateFacts(new X509Certificate(more.cert)).names).toEqual(['localhost', 'extra.test']);
    expect(fs.readFileSync(`${dir}/localhost.crt.pem`, 'latin1')).toBe(more.cert);
  });

  test('a cached self-signed certificate is not handed out when a CA is asked for (and the reverse)', async () => {
    const dir = tmp.file('cache2');
    const ca = await createDevCA('Cache CA');
    const selfSigned = await createDevCertificate({ names: ['svc.test'], cacheDir: dir });
    const signed = await createDevCertificate({ names: ['svc.test'], cacheDir: dir, ca });
    expect(signed.cert).not.toBe(selfSigned.cert);
    expect(new X509Certificate(signed.cert).checkIssued(new X509Certificate(ca.cert))).toBe(true);
    expect((await createDevCertificate({ names: ['svc.test'], cacheDir: dir, ca })).cert).toBe(signed.cert);
    const otherCa = await createDevCA('Other Cache CA');
    const reSigned = await createDevCertificate({ names: ['svc.test'], cacheDir: dir, ca: otherCa });
    expect(new X509Certificate(reSigned.cert).checkIssued(new X509Certificate(otherCa.cert))).toBe(true);
    const selfAgain = await createDevCertificate({ names: ['svc.test'], cacheDir: dir });
    expect(certificateFacts(new X509Certificate(selfAgain.cert)).selfSigned).toBe(true);
  });

  test('a cached certificate valid for a day or less, or with a key that does not match, is replaced', async () => {
    const dir = tmp.file('cache3');
    const short = await createDevCertificate({ names: ['short.test'], days: 1, cacheDir: dir });
    expect(new Date(new X509Certificate(short.cert).validTo).getTime() - Date.now()).toBeLessThanOrEqual(DAY_MS);
    const renewed = await createDevCertificate({ names: ['short.test'], cacheDir: dir });
    expect(renewed.cert).not.toBe(short.cert);

    const other = await createDevCertificate({ names: ['other.test'] });
    fs.writeFileSync(`${dir}/short.test.key.pem`, other.key);
    const fixed = await createDevCertificate({ names: ['short.test'], cacheDir: dir });
    expect(fixed.cert).not.toBe(renewed.cert);
    expect(new X509Certificate(fixed.cert).checkPrivateKey(require('node:crypto').createPrivateKey(fixed.key))).toBe(true);
  });
});

describe('option checks', () => {
  test.each([
    ['an empty list', []],
    ['not an array', 'localhost'],
    ['an empty name', ['localhost', '']],
    ['a number', [42]],
    ['a name with a space', ['bad name']],
    ['a name with a comma', ['a,b']],
    ['a name with a slash', ['a/b']],
  ])('bad names (%s) are a TypeError', async (_what, names) => {
    await expect(createDevCertificate({ names: names as string[] })).rejects.toThrow(TypeError);
    await expect(createDevCertificate({ names: names as string[] })).rejects.toThrow(/option names must be a non-empty array/);
  });

  test('wildcards, IPv6 and trailing dots are fine', async () => {
    const dev = await createDevCertificate({ names: ['*.example.test', '2001:db8::5', 'fqdn.test.'] });
    expect(certificateFacts(new X509Certificate(dev.cert)).names).toEqual(['*.example.test', '2001:db8::5', 'fqdn.test.']);
  });

  test('days must be an integer >= 1; notBefore a valid Date', async () => {
    await expect(createDevCertificate({ names: ['localhost'], days: 0 })).rejects.toThrow(RangeError);
    await expect(createDevCertificate({ names: ['localhost'], days: 1.5 })).rejects.toThrow(RangeError);
    await expect(createDevCertificate({ names: ['localhost'], notBefore: new Date('nope') })).rejects.toThrow(TypeError);
    await expect(createDevCA('x', 0)).rejects.toThrow(RangeError);
    await expect(createDevCA('')).rejects.toThrow(TypeError);
  });
});
