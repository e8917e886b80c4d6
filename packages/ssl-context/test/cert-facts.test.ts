/**
 * certificateFacts / describeCertificate / keyStrength, and the validity
 * checks TSslContext makes at load time (expired, not yet valid, expiring).
 */
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import {
  DevIdentity,
  IdentityError,
  TSslContext,
  certificateFacts,
  createDevCA,
  createDevCertificate,
  describeCertificate,
  keyStrength,
  normalizeHostName,
  subjectAltNames,
} from '@ics-ts/ssl-context';
import { TempDir, makePki, opensslSelfSigned, openssl, tempDir } from './helpers';

const DAY_MS = 86_400_000;
let tmp: TempDir;

beforeAll(() => {
  tmp = tempDir();
});
afterAll(() => tmp.remove());

function writeIdentity(name: string, identity: DevIdentity): { sslCert: string; sslKey: string } {
  return { sslCert: tmp.write(`${name}.crt.pem`, identity.cert), sslKey: tmp.write(`${name}.key.pem`, identity.key) };
}

describe('certificateFacts', () => {
  test('self-signed dev certificate: subject, DNS and IP names (IPv6 short), issuer, days left, key type', async () => {
    const dev = await createDevCertificate({ names: ['localhost', '127.0.0.1', '::1'] });
    const cert = new X509Certificate(dev.cert);
    const facts = certificateFacts(cert);
    expect(facts.subject).toBe('CN=localhost');
    expect(facts.commonName).toBe('localhost');
    expect(facts.names).toEqual(['localhost', '127.0.0.1', '::1']);
    expect(facts.issuer).toBe('CN=localhost');
    expect(facts.selfSigned).toBe(true);
    expect(facts.keyType).toBe('ec');
    expect(facts.daysLeft).toBe(89); // 90 days from an hour ago, minus the seconds since
    expect(facts.notAfter.getTime()).toBe(new Date(cert.validTo).getTime());
    expect(facts.notBefore.getTime()).toBeLessThan(Date.now());
    expect(facts.fingerprint256).toBe(cert.fingerprint256);
  });

  test('daysLeft counts from the given time', async () => {
    const dev = await createDevCertificate({ names: ['localhost'], days: 10 });
    const facts = certificateFacts(new X509Certificate(dev.cert));
    expect(certificateFacts(new X509Certificate(dev.cert), facts.notAfter.getTime() - 3 * DAY_MS).daysLeft).toBe(3);
    expect(certificateFacts(new X509Certificate(dev.cert), facts.notAfter.getTime() + 2.5 * DAY_MS).daysLeft).toBe(-3);
  });

  test('CA-signed: not self-signed, issuer is the CA', async () => {
    const ca = await createDevCA('Facts Test CA');
    const dev = await createDevCertificate({ names: ['svc.test', '10.0.0.1'], ca });
    const facts = certificateFacts(new X509Certificate(dev.cert));
    expect(facts.selfSigned).toBe(false);
    expect(facts.issuer).toBe('CN=Facts Test CA');
    expect(facts.subject).toBe('CN=svc.test');
    expect(facts.names).toEqual(['svc.test', '10.0.0.1']);
    const caFacts = certificateFacts(new X509Certificate(ca.cert));
    expect(caFacts.selfSigned).toBe(true);
    expect(caFacts.names).toEqual(['Facts Test CA']); // no SAN: the common name
  });

  test('an openssl chain: leaf issued by the intermediate, multi-part subjects', () => {
    const pki = makePki(tmp, 'facts-');
    const leaf = certificateFacts(new X509Certificate(fs.readFileSync(pki.leafCert)));
    expect(leaf.names).toEqual(['localhost', '127.0.0.1']);
    expect(leaf.issuer).toBe('CN=Test Intermediate CA');
    expect(leaf.selfSigned).toBe(false);
    const cnf = tmp.file('openssl.cnf');
    openssl(tmp.dir, [
      'req', '-config', cnf, '-x509', '-new', '-key', pki.leafKey, '-subj', '/C=DE/O=Example Org/CN=multi.test', '-days', '5',
      '-out', 'multi.pem',
    ]);
    const multi = certificateFacts(new X509Certificate(fs.readFileSync(tmp.file('multi.pem'))));
    expect(multi.subject).toBe('C=DE, O=Example Org, CN=multi.test');
    expect(multi.commonName).toBe('multi.test');
    expect(multi.names).toEqual(['multi.test']);
    expect(multi.selfSigned).toBe(true);
  });

  test('subjectAltNames: quoted values, IPv6 in short form, other kinds skipped', () => {
    expect(subjectAltNames('DNS:"a,b.test", DNS:c.test, IP Address:0:0:0:0:0:0:0:1, URI:http://x.test/, email:a@b.test')).toEqual([
      'a,b.test',
      'c.test',
      '::1',
    ]);
    expect(subjectAltNames('IP Address:2001:DB8:0:0:0:0:0:1, IP Address:192.0.2.7')).toEqual(['2001:db8::1', '192.0.2.7']);
    expect(subjectAltNames(undefined)).toEqual([]);
    expect(normalizeHostName('0:0:0:0:0:0:0:1')).toBe('::1');
    expect(normalizeHostName('LocalHost')).toBe('localhost');
  });

  test('keyStrength: what OpenSSL security levels count', async () => {
    const dev = await createDevCertificate({ names: ['localhost'] });
    expect(keyStrength(new X509Certificate(dev.cert))).toEqual({ label: 'ec P-256', bits: 128 });
    const p384 = opensslSelfSigned(tmp, 'p384', 'P-384');
    expect(keyStrength(new X509Certificate(fs.readFileSync(p384.cert)))).toEqual({ label: 'ec P-384', bits: 192 });
    openssl(tmp.dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'rsa.key', '-subj', '/CN=rsa', '-days', '2', '-out', 'rsa.pem']);
    expect(keyStrength(new X509Certificate(fs.readFileSync(tmp.file('rsa.pem'))))).toEqual({ label: 'rsa 2048', bits: 112 });
  });
});

describe('describeCertificate', () => {
  test('one line with name, names, key type, self-signed and expiry', async () => {
    const dev = await createDevCertificate({ names: ['localhost', '127.0.0.1', '::1'] });
    const facts = certificateFacts(new X509Certificate(dev.cert));
    const line = describeCertificate(facts);
    expect(line).toBe(
      `CN=localhost [localhost, 127.0.0.1, ::1] ec self-signed, expires ${facts.notAfter.toISOString().slice(0, 10)} (89 days left)`,
    );
    const ctx = new TSslContext({ sslCert: dev.cert, sslKey: dev.key, sslSrvSecurity: 'tls12Less' });
    expect(ctx.describe()).toBe(`${line}, security tls12Less`);
  });

  test('an expired certificate says how long ago', async () => {
    const dev = await createDevCertificate({ names: ['old.test'], notBefore: new Date(Date.now() - 10 * DAY_MS), days: 1 });
    const line = describeCertificate(certificateFacts(new X509Certificate(dev.cert)));
    expect(line).toMatch(/^CN=old\.test \[old\.test\] ec self-signed, expires \d{4}-\d\d-\d\d \(expired [89] days ago\)$/);
  });
});

describe('validity at load time', () => {
  test('an expired certificate loads with a warning naming the file', async () => {
    const dev = await createDevCertificate({ names: ['localhost'], notBefore: new Date(Date.now() - 10 * DAY_MS), days: 1 });
    const files = writeIdentity('expired', dev);
    const ctx = new TSslContext(files);
    expect(ctx.warnings).toHaveLength(1);
    expect(ctx.warnings[0]).toContain(`sslCert file ${files.sslCert}`);
    expect(ctx.warnings[0]).toContain('certificate expired on');
    expect(ctx.facts.daysLeft).toBeLessThan(0);
  });

  test('an expired certificate with refuseExpired: IdentityError naming the file', async () => {
    const dev = await createDevCertificate({ names: ['localhost'], notBefore: new Date(Date.now() - 10 * DAY_MS), days: 1 });
    const files = writeIdentity('expired2', dev);
    expect(() => new TSslContext({ ...files, refuseExpired: true })).toThrow(IdentityError);
    expect(() => new TSslContext({ ...files, refuseExpired: true })).toThrow(`sslCert file ${files.sslCert}: certificate expired on`);
  });

  test('a not yet valid certificate: warning, or IdentityError with refuseExpired', async () => {
    const dev = await createDevCertificate({ names: ['localhost'], notBefore: new Date(Date.now() + 5 * DAY_MS), days: 30 });
    const files = writeIdentity('future', dev);
    const ctx = new TSslContext(files);
    expect(ctx.warnings).toHaveLength(1);
    expect(ctx.warnings[0]).toContain(`sslCert file ${files.sslCert}: certificate not valid before`);
    expect(() => new TSslContext({ ...files, refuseExpired: true })).toThrow(
      new IdentityError(`sslCert file ${files.sslCert}: certificate not valid before ${ctx.facts.notBefore.toISOString()}`),
    );
  });

  test('expireWarnDays: a certificate expiring within the window warns; a shorter window does not', async () => {
    const dev = await createDevCertificate({ names: ['localhost'], days: 10 });
    const files = writeIdentity('soon', dev);
    const byDefault = new TSslContext(files); // default window 30 days (ICS CertExpireDays)
    expect(byDefault.warnings).toEqual([
      `sslCert file ${files.sslCert}: certificate expires in 9 days (${byDefault.facts.notAfter.toISOString()})`,
    ]);
    expect(new TSslContext({ ...files, expireWarnDays: 5 }).warnings).toEqual([]);
    expect(new TSslContext({ ...files, expireWarnDays: 0 }).warnings).toEqual([]);
    expect(new TSslContext({ ...files, expireWarnDays: 10 }).warnings).toHaveLength(1);
    // refuseExpired is about expiry, not the warning window
    expect(new TSslContext({ ...files, refuseExpired: true }).warnings).toHaveLength(1);
  });

  test('an inline PEM warning says inline PEM', async () => {
    const dev = await createDevCertificate({ names: ['localhost'], days: 3 });
    const ctx = new TSslContext({ sslCert: dev.cert, sslKey: dev.key });
    expect(ctx.warnings[0]).toMatch(/^sslCert \(inline PEM\): certificate expires in 2 days/);
  });
});
