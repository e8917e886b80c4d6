import { createDevCertificate } from '@ics-ts/ssl-context';
import { IcsHost, IcsHostOptions } from '../src/hosts/ics-host';
import { SniSelector, buildBindings } from '../src/hosts/host-table';
import { TWSocketClient } from '../src';

const noClass = () => TWSocketClient;
let cert: { cert: string; key: string };

beforeAll(async () => {
  cert = await createDevCertificate({ names: ['localhost'] });
});

function host(index: number, options: Partial<IcsHostOptions>): IcsHost {
  return new IcsHost({ hostNames: ['localhost'], ...options } as IcsHostOptions, index, noClass);
}

describe('IcsHost', () => {
  test('defaults: enabled, 0.0.0.0, tag host<index>, names lower-cased without a trailing dot', () => {
    const h = host(3, { hostNames: ['Mail.Example.COM.', '*.Example.com'], bindNonPort: 25 });
    expect(h).toMatchObject({ hostEnabled: true, bindIpAddr: '0.0.0.0', bindIpAddr2: '', hostTag: 'host3' });
    expect(h.hostNames).toEqual(['mail.example.com', '*.example.com']);
    expect(h.sslContext).toBeUndefined();
    expect(h.displayName).toBe('host3 - 0.0.0.0:25');
  });

  test('a TLS host builds its TSslContext with its own security level', () => {
    const h = host(0, { bindSslPort: 8443, sslCert: cert.cert, sslKey: cert.key, sslSrvSecurity: 'tls13Only', hostTag: 'web' });
    expect(h.sslContext?.profile.level).toBe('tls13Only');
    expect(h.displayName).toBe('web - 0.0.0.0:8443 (TLS)');
  });

  test.each([
    [{ hostNames: [] }, /icsHosts\[2\] \(host2\): hostNames must be a non-empty array/],
    [{ hostNames: ['a b'] , bindNonPort: 1 }, /hostNames has "a b"/],
    [{ hostNames: ['*.*.x'], bindNonPort: 1 }, /one-label wildcard/],
    [{ bindIpAddr: 'example.com', bindNonPort: 1 }, /bindIpAddr must be an IP address literal/],
    [{ bindNonPort: 70000 }, /bindNonPort must be an integer in 0\.\.65535/],
    [{}, /neither bindNonPort nor bindSslPort/],
    [{ bindNonPort: 80, bindSslPort: 80 }, /one port cannot be plain and TLS/],
    [{ bindSslPort: 443 }, /bindSslPort 443 needs sslCert/],
    [{ bindNonPort: 80, color: 'red' }, /unknown key "color"/],
    [{ bindNonPort: 80, hostTag: '' }, /hostTag must be a non-empty string/],
  ])('bad host %j is refused with its index and tag', (options, message) => {
    expect(() => host(2, options as Partial<IcsHostOptions>)).toThrow(message);
  });

  test('a broken identity names the host', () => {
    expect(() => host(1, { hostTag: 'mail', bindSslPort: 993, sslCert: '/nonexistent/x.pem', sslKey: cert.key })).toThrow(
      /icsHosts\[1\] \(mail\): sslCert file \/nonexistent\/x.pem: not found/,
    );
  });

  test('a disabled host needs no ports and loads no certificate', () => {
    const h = host(0, { hostEnabled: false, sslCert: '/nonexistent/x.pem' });
    expect(h.sslContext).toBeUndefined();
  });
});

describe('buildBindings', () => {
  test('hosts on the same address and port share one binding; bindIpAddr2 binds the same ports again', () => {
    const a = host(0, { hostNames: ['a.test'], bindNonPort: 8080, bindSslPort: 8443, sslCert: cert.cert, sslKey: cert.key, bindIpAddr2: '::1' });
    const b = host(1, { hostNames: ['b.test'], bindSslPort: 8443, sslCert: cert.cert, sslKey: cert.key });
    const off = host(2, { hostNames: ['c.test'], bindNonPort: 9999, hostEnabled: false });
    const bindings = buildBindings([a, b, off]);
    expect(bindings.map((x) => [x.addr, x.port, x.tls, x.hosts.map((h) => h.hostTag)])).toEqual([
      ['0.0.0.0', 8080, false, ['host0']],
      ['0.0.0.0', 8443, true, ['host0', 'host1']],
      ['::1', 8080, false, ['host0']],
      ['::1', 8443, true, ['host0']],
    ]);
  });

  test('one address and port both plain and TLS is an error naming both hosts', () => {
    const a = host(0, { hostTag: 'web', bindNonPort: 8080 });
    const b = host(1, { hostTag: 'secure', bindSslPort: 8080, sslCert: cert.cert, sslKey: cert.key });
    expect(() => buildBindings([a, b])).toThrow(/icsHosts\[1\] \(secure\) binds tls:\/\/0\.0\.0\.0:8080 but icsHosts\[0\] \(web\)/);
  });
});

describe('SniSelector', () => {
  const tls = { bindSslPort: 443, sslCert: '', sslKey: '' };
  function tlsHost(index: number, names: string[]): IcsHost {
    return host(index, { ...tls, sslCert: cert.cert, sslKey: cert.key, hostNames: names });
  }

  test('exact first, then one-label wildcard, then the default host', () => {
    const def = tlsHost(0, ['localhost']);
    const wild = tlsHost(1, ['*.example.com']);
    const exact = tlsHost(2, ['www.example.com']);
    const sni = new SniSelector([def, wild, exact]);
    expect(sni.select('www.example.com')).toEqual({ host: exact, matchedName: 'www.example.com' });
    expect(sni.select('WWW.Example.com.')).toEqual({ host: exact, matchedName: 'www.example.com' });
    expect(sni.select('mail.example.com')).toEqual({ host: wild, matchedName: '*.example.com' });
    expect(sni.select('a.b.example.com')).toEqual({ host: def, matchedName: '' });
    expect(sni.select('example.com')).toEqual({ host: def, matchedName: '' });
    expect(sni.select(undefined)).toEqual({ host: def, matchedName: '' });
  });

  test('refuse policies for unknown and missing names', () => {
    const def = tlsHost(0, ['localhost']);
    expect(new SniSelector([def], 'refuse', 'default').select('nope.test')).toBeUndefined();
    expect(new SniSelector([def], 'refuse', 'default').select('')).toEqual({ host: def, matchedName: '' });
    expect(new SniSelector([def], 'default', 'refuse').select(undefined)).toBeUndefined();
    expect(new SniSelector([def], 'default', 'refuse').select('localhost')).toEqual({ host: def, matchedName: 'localhost' });
  });

  test('a name claimed twice stays with the first host and is reported', () => {
    const a = tlsHost(0, ['x.test']);
    const b = tlsHost(1, ['x.test', 'y.test']);
    const sni = new SniSelector([a, b]);
    expect(sni.select('x.test')?.host).toBe(a);
    expect(sni.select('y.test')?.host).toBe(b);
    expect(sni.duplicates).toEqual(['x.test']);
  });

  test('200 hosts: every name finds its own host (map lookups)', () => {
    const hosts = Array.from({ length: 200 }, (_, i) => tlsHost(i, [`h${i}.test`, `*.w${i}.test`]));
    const sni = new SniSelector(hosts);
    for (let i = 0; i < 200; i++) {
      expect(sni.select(`h${i}.test`)?.host).toBe(hosts[i]);
      expect(sni.select(`any.w${i}.test`)?.host).toBe(hosts[i]);
    }
  });
});
