import * as fs from 'node:fs';
import * as path from 'node:path';
import { ACME_DEFAULTS, AcmeCertManager, AcmeCertOptions, resolveAcmeCertOptions } from '../src';
import { tempDir } from './pebble';

const base: AcmeCertOptions = { directory: 'https://acme.example/dir', names: ['example.com'], workDir: '/tmp/x' };

function withOption(extra: Record<string, unknown>): AcmeCertOptions {
  return { ...base, ...extra } as AcmeCertOptions;
}

describe('AcmeCertManager options', () => {
  test('defaults: ECDSA P-256, tls-alpn-01, renew 30 days before expiry', () => {
    const o = resolveAcmeCertOptions(base);
    expect(o).toMatchObject({
      keyType: 'ecdsa-p256',
      challenge: 'tls-alpn-01',
      renewDays: 30,
      contact: [],
      caBundle: undefined,
      retryMinMs: ACME_DEFAULTS.retryMinMs,
      retryMaxMs: ACME_DEFAULTS.retryMaxMs,
    });
  });

  test('names are lower-cased, a trailing dot dropped; a bare e-mail address gets mailto:', () => {
    const o = resolveAcmeCertOptions(withOption({ names: ['WWW.Example.COM.', 'example.com'], contact: 'ops@example.com' }));
    expect(o.names).toEqual(['www.example.com', 'example.com']);
    expect(o.contact).toEqual(['mailto:ops@example.com']);
  });

  test.each([
    [{ directory: 'http://acme.example/dir' }, TypeError, /option directory must be an https URL .*"http:\/\/acme.example\/dir"/],
    [{ directory: 'not a url' }, TypeError, /option directory must be an https URL, got "not a url"/],
    [{ names: [] }, TypeError, /option names must be a non-empty array/],
    [{ names: ['*.example.com'] }, TypeError, /names\[0\] "\*\.example\.com" is a wildcard, which only dns-01/],
    [{ names: ['localhost'] }, TypeError, /names\[0\] must be a DNS name with at least two labels.*"localhost"/],
    [{ names: ['192.168.1.1'] }, TypeError, /names\[0\] must be a DNS name/],
    [{ names: ['a..example.com'] }, TypeError, /names\[0\] must be a DNS name/],
    [{ names: ['-a.example.com'] }, TypeError, /names\[0\] must be a DNS name/],
    [{ names: ['ok.example.com', 'evil.example.com\r\nX: y'] }, TypeError, /names\[1\] must be a DNS name/],
    [{ names: ['a.example.com', 'A.example.com'] }, TypeError, /names lists "a.example.com" twice/],
    [{ names: Array.from({ length: 101 }, (_, i) => `n${i}.example.com`) }, RangeError, /names holds 101 names, at most 100/],
    [{ keyType: 'rsa-1024' }, TypeError, /option keyType must be one of ecdsa-p256, rsa-2048, rsa-3072, got "rsa-1024"/],
    [{ challenge: 'dns-01' }, TypeError, /option challenge must be one of tls-alpn-01, http-01, got "dns-01"/],
    [{ renewDays: 0 }, RangeError, /option renewDays must be an integer from 1 to 365, got 0/],
    [{ renewDays: 1.5 }, RangeError, /option renewDays must be an integer from 1 to 365, got 1.5/],
    [{ renewDays: '30' }, TypeError, /option renewDays must be a number, got "30"/],
    [{ retryMinMs: 1000, retryMaxMs: 10 }, RangeError, /option retryMaxMs \(10\) must be at least retryMinMs \(1000\)/],
    [{ requestTimeoutMs: 0 }, RangeError, /option requestTimeoutMs must be an integer from 1/],
    [{ contact: 'not an address' }, TypeError, /option contact must be an e-mail address or a mailto: URL, got "not an address"/],
    [{ contact: ['a@example.com', 42] }, TypeError, /option contact\[1\] must be an e-mail address/],
    [{ workDir: '' }, TypeError, /option workDir must be a directory name, got ""/],
    [{ caBundle: 'no-such-file.pem' }, TypeError, /option caBundle: cannot read "no-such-file.pem" \(ENOENT\)/],
    [{ caBundle: '-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n' }, TypeError, /option caBundle .* holds no PEM certificate/],
    [{ certAutoOrder: true }, TypeError, /unknown option "certAutoOrder"/],
  ])('%j is refused', (extra, type, message) => {
    expect(() => resolveAcmeCertOptions(withOption(extra))).toThrow(type);
    expect(() => new AcmeCertManager(withOption(extra))).toThrow(message);
  });

  test('caBundle is read from its file once, at construction', () => {
    const dir = tempDir();
    try {
      const file = path.join(dir, 'ca.pem');
      fs.writeFileSync(file, '-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n');
      expect(resolveAcmeCertOptions(withOption({ caBundle: file })).caBundle).toContain('BEGIN CERTIFICATE');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
