/**
 * ICS TSslSrvSecurity levels, checked for real: a loopback server built from
 * the TSslContext, probed by `openssl s_client` (forced versions and cipher
 * lists) and by Node clients. One server per level; its probes run together.
 */
import * as fs from 'node:fs';
import {
  DEFAULT_SSL_SRV_SECURITY,
  DevIdentity,
  IdentityError,
  MOZILLA_BACK,
  MOZILLA_TLS12,
  SSL_SRV_SECURITY_LEVELS,
  SslSrvSecurity,
  TLS13_SUITES,
  TSslContext,
  createDevCertificate,
  isSslSrvSecurity,
  securityProfile,
} from '@ics-ts/ssl-context';
import { SClientResult, TempDir, TestServer, closeSocket, opensslSelfSigned, sClient, startServer, tempDir, tryConnect } from './helpers';

/** openssl s_client arguments of each probe. */
const PROBES = {
  /** TLS 1.1; the client must drop to OpenSSL level 0 even to offer it. */
  tls11: ['-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0'],
  /** TLS 1.2, a forward-secret AEAD cipher every TLS 1.2 level has. */
  tls12: ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES256-GCM-SHA384'],
  /** TLS 1.2, AES-128 GCM (128-bit: not at OpenSSL level 4). */
  tls12aes128: ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256'],
  /** TLS 1.2, CBC with SHA1 MAC: legacy ('back' and 'none' only). */
  cbc: ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-SHA'],
  /** TLS 1.2, anonymous ECDH (no server authentication): refused at every level (ICS 'none' allows it; we do not). */
  anon: ['-tls1_2', '-cipher', 'AECDH-AES128-SHA@SECLEVEL=0'],
  /** TLS 1.3 with the strongest suite. */
  tls13: ['-tls1_3', '-ciphersuites', 'TLS_AES_256_GCM_SHA384'],
  /** TLS 1.3 AES-128 (128-bit: not at OpenSSL level 4). */
  tls13aes128: ['-tls1_3', '-ciphersuites', 'TLS_AES_128_GCM_SHA256'],
  /** TLS 1.2, the client preferring AES-128 over AES-256: who picks? */
  order: ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384'],
} as const;
type Probe = keyof typeof PROBES;

type Row = Record<Exclude<Probe, 'order'>, boolean> & { serverOrder: boolean };

/** What each level must accept (true) and refuse (false), with a P-256 certificate (high192: P-384). */
const EXPECTED: Record<SslSrvSecurity, Row> = {
  none: { tls11: false, tls12: true, tls12aes128: true, cbc: true, anon: false, tls13: true, tls13aes128: true, serverOrder: true },
  ssl3: { tls11: false, tls12: true, tls12aes128: true, cbc: false, anon: false, tls13: true, tls13aes128: true, serverOrder: false },
  back: { tls11: false, tls12: true, tls12aes128: true, cbc: true, anon: false, tls13: true, tls13aes128: true, serverOrder: true },
  inter: { tls11: false, tls12: true, tls12aes128: true, cbc: false, anon: false, tls13: true, tls13aes128: true, serverOrder: false },
  interFS: { tls11: false, tls12: true, tls12aes128: true, cbc: false, anon: false, tls13: true, tls13aes128: true, serverOrder: false },
  high: { tls11: false, tls12: true, tls12aes128: true, cbc: false, anon: false, tls13: true, tls13aes128: true, serverOrder: false },
  high128: { tls11: false, tls12: true, tls12aes128: true, cbc: false, anon: false, tls13: true, tls13aes128: true, serverOrder: false },
  high192: { tls11: false, tls12: true, tls12aes128: false, cbc: false, anon: false, tls13: true, tls13aes128: false, serverOrder: false },
  tls12Less: { tls11: false, tls12: true, tls12aes128: true, cbc: false, anon: false, tls13: false, tls13aes128: false, serverOrder: false },
  tls13Only: { tls11: false, tls12: false, tls12aes128: false, cbc: false, anon: false, tls13: true, tls13aes128: true, serverOrder: false },
};

let tmp: TempDir;
let dev: DevIdentity;
let p384: { cert: string; key: string };

beforeAll(async () => {
  tmp = tempDir();
  dev = await createDevCertificate({ names: ['localhost', '127.0.0.1'] });
  p384 = opensslSelfSigned(tmp, 'p384', 'P-384');
});
afterAll(() => tmp.remove());

function contextFor(level: SslSrvSecurity, extra: Partial<ConstructorParameters<typeof TSslContext>[0]> = {}): TSslContext {
  return level === 'high192'
    ? new TSslContext({ sslCert: p384.cert, sslKey: p384.key, sslSrvSecurity: level, ...extra })
    : new TSslContext({ sslCert: dev.cert, sslKey: dev.key, sslSrvSecurity: level, ...extra });
}

async function withServer<T>(ctx: TSslContext, body: (server: TestServer) => Promise<T>): Promise<T> {
  const server = await startServer(ctx);
  try {
    return await body(server);
  } finally {
    await server.close();
  }
}

describe.each(SSL_SRV_SECURITY_LEVELS.map((level) => [level]))('level %s', (level) => {
  test('accepts and refuses what it must (openssl s_client)', async () => {
    const expected = EXPECTED[level];
    await withServer(contextFor(level), async (server) => {
      const names = Object.keys(PROBES) as Probe[];
      const results = await Promise.all(names.map((name) => sClient(server.port, ['-brief', ...PROBES[name]])));
      const got = Object.fromEntries(names.map((name, i) => [name, results[i]])) as Record<Probe, SClientResult>;
      const seen: Row = {
        tls11: got.tls11.ok,
        tls12: got.tls12.ok,
        tls12aes128: got.tls12aes128.ok,
        cbc: got.cbc.ok,
        anon: got.anon.ok,
        tls13: got.tls13.ok,
        tls13aes128: got.tls13aes128.ok,
        // with both offered, the server's order picks AES-256 (OpenSSL sorts it first), the client's AES-128
        serverOrder: got.order.cipher === 'ECDHE-ECDSA-AES256-GCM-SHA384',
      };
      // nothing to tell: tls13Only has no TLS 1.2, high192 no AES-128
      if (level === 'tls13Only' || level === 'high192') seen.serverOrder = false;
      expect(seen).toEqual(expected);
      // what was negotiated is what was asked for
      if (expected.tls12) expect([got.tls12.protocol, got.tls12.cipher]).toEqual(['TLSv1.2', 'ECDHE-ECDSA-AES256-GCM-SHA384']);
      if (expected.tls13) expect([got.tls13.protocol, got.tls13.cipher]).toEqual(['TLSv1.3', 'TLS_AES_256_GCM_SHA384']);
      if (expected.cbc) expect(got.cbc.cipher).toBe('ECDHE-ECDSA-AES128-SHA');
      expect(got.tls11.code).not.toBe(0);
    });
  });

  test('Node clients: TLS 1.1 refused; the TLS 1.2 / 1.3 window', async () => {
    const expected = EXPECTED[level];
    await withServer(contextFor(level), async (server) => {
      const [v11, v12, v13] = await Promise.all([
        // Node's own client will not offer TLS 1.1 at its default level either
        tryConnect(server.port, { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }),
        tryConnect(server.port, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' }),
        tryConnect(server.port, { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' }),
      ]);
      expect(v11.ok).toBe(false);
      expect(v12.ok).toBe(expected.tls12);
      expect(v13.ok).toBe(expected.tls13);
      for (const result of [v12, v13]) {
        if (result.ok) {
          expect(result.protocol).toBe(result === v12 ? 'TLSv1.2' : 'TLSv1.3');
          await closeSocket(result.socket);
        }
      }
    });
  });
});

describe('CBC over TLS 1.2 (Node client)', () => {
  test.each([
    ['high', false],
    ['back', true],
    ['none', true],
    ['inter', false],
  ] as const)('%s: ECDHE-ECDSA-AES128-SHA accepted = %s', async (level, accepted) => {
    await withServer(contextFor(level), async (server) => {
      const result = await tryConnect(server.port, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA' });
      expect(result.ok).toBe(accepted);
      if (result.ok) {
        expect([result.protocol, result.cipher]).toEqual(['TLSv1.2', 'ECDHE-ECDSA-AES128-SHA']);
        await closeSocket(result.socket);
      } else {
        expect(result.error.message).toMatch(/handshake failure/);
      }
    });
  });
});

describe('high192 and key sizes', () => {
  test('a P-256 certificate is refused at construction, with a clear IdentityError', () => {
    let caught: unknown;
    try {
      new TSslContext({ sslCert: dev.cert, sslKey: dev.key, sslSrvSecurity: 'high192' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(IdentityError);
    const message = (caught as Error).message;
    expect(message).toContain('sslCert (inline PEM)');
    expect(message).toContain('ec P-256, 128-bit security');
    expect(message).toContain('too small for sslSrvSecurity high192');
    expect(message).toContain('EC >= P-384');
  });

  test('the error names the file when the certificate is a file', () => {
    const cert = tmp.write('p256.pem', dev.cert);
    const key = tmp.write('p256.key', dev.key);
    expect(() => new TSslContext({ sslCert: cert, sslKey: key, sslSrvSecurity: 'high192' })).toThrow(
      `sslCert file ${cert}: the certificate key (ec P-256, 128-bit security) is too small for sslSrvSecurity high192`,
    );
  });

  test('a PFX with a P-256 key is refused the same way', () => {
    const pfx = tmp.file('p256.pfx');
    require('node:child_process').execFileSync('openssl', [
      'pkcs12', '-export', '-in', tmp.write('p256b.pem', dev.cert), '-inkey', tmp.write('p256b.key', dev.key), '-out', pfx,
      '-passout', 'pass:pw',
    ]);
    expect(() => new TSslContext({ sslCert: pfx, sslPassword: 'pw', sslSrvSecurity: 'high192' })).toThrow(/too small for sslSrvSecurity high192/);
    expect(() => new TSslContext({ sslCert: pfx, sslPassword: 'pw', sslSrvSecurity: 'high128' })).not.toThrow();
  });

  test('high128 takes P-256 (128-bit); a P-384 certificate works at every level', async () => {
    expect(() => contextFor('high128')).not.toThrow();
    for (const level of SSL_SRV_SECURITY_LEVELS) {
      expect(new TSslContext({ sslCert: p384.cert, sslKey: p384.key, sslSrvSecurity: level }).facts.keyType).toBe('ec');
    }
    expect(fs.existsSync(p384.cert)).toBe(true);
  });
});

describe('cipher list overrides (ICS SslCipherList12 / SslCipherList13)', () => {
  test('sslCipherList12 replaces the TLS 1.2 list, keeping the level', async () => {
    const ctx = contextFor('high', { sslCipherList12: 'ECDHE-ECDSA-AES128-SHA' });
    expect(ctx.profile.ciphers).toBe('ECDHE-ECDSA-AES128-SHA:@SECLEVEL=2');
    await withServer(ctx, async (server) => {
      const [cbc, gcm] = await Promise.all([
        sClient(server.port, ['-brief', ...PROBES.cbc]),
        sClient(server.port, ['-brief', ...PROBES.tls12]),
      ]);
      expect(cbc.ok).toBe(true);
      expect(gcm.ok).toBe(false);
    });
  });

  test('sslCipherList13 replaces the TLS 1.3 suites', async () => {
    const ctx = contextFor('high', { sslCipherList13: 'TLS_AES_128_GCM_SHA256' });
    await withServer(ctx, async (server) => {
      const [aes256, aes128] = await Promise.all([
        sClient(server.port, ['-brief', ...PROBES.tls13]),
        sClient(server.port, ['-brief', ...PROBES.tls13aes128]),
      ]);
      expect(aes256.ok).toBe(false);
      expect(aes128.ok).toBe(true);
    });
  });

  test('a list that names no cipher is a TypeError naming the options', () => {
    expect(() => contextFor('high', { sslCipherList12: 'NO-SUCH-CIPHER' })).toThrow(TypeError);
    expect(() => contextFor('high', { sslCipherList12: 'NO-SUCH-CIPHER' })).toThrow(/sslCipherList12.*"NO-SUCH-CIPHER"/);
  });
});

describe('securityProfile', () => {
  test('every level: TLS 1.2 floor (1.3 for tls13Only), ceiling 1.3 (1.2 for tls12Less), OpenSSL level in the list', () => {
    expect(DEFAULT_SSL_SRV_SECURITY).toBe('high');
    expect(SSL_SRV_SECURITY_LEVELS).toHaveLength(10);
    const levels: Record<string, number> = {};
    for (const level of SSL_SRV_SECURITY_LEVELS) {
      const p = securityProfile(level);
      expect(p.level).toBe(level);
      expect(p.minVersion).toBe(level === 'tls13Only' ? 'TLSv1.3' : 'TLSv1.2');
      expect(p.maxVersion).toBe(level === 'tls12Less' ? 'TLSv1.2' : 'TLSv1.3');
      expect(p.ciphers.endsWith(`:@SECLEVEL=${p.secLevel}`)).toBe(true);
      expect(p.cipherSuites).toBe(TLS13_SUITES);
      expect(p.summary).not.toBe('');
      levels[level] = p.secLevel;
    }
    expect(levels).toEqual({ none: 0, ssl3: 1, back: 1, inter: 2, interFS: 2, high: 2, high128: 3, high192: 4, tls12Less: 2, tls13Only: 2 });
    expect(securityProfile('none').ciphers).toBe('ALL:!aNULL:!eNULL:@SECLEVEL=0');
    expect(securityProfile('back').ciphers).toBe(`${MOZILLA_BACK}:@SECLEVEL=1`);
    expect(securityProfile('high').ciphers).toBe(`${MOZILLA_TLS12}:@SECLEVEL=2`);
    expect(securityProfile('high', 'AES128-SHA', 'TLS_AES_128_GCM_SHA256')).toMatchObject({
      ciphers: 'AES128-SHA:@SECLEVEL=2',
      cipherSuites: 'TLS_AES_128_GCM_SHA256',
    });
    expect(new TSslContext({ sslCert: dev.cert, sslKey: dev.key }).profile.level).toBe('high');
  });

  test('isSslSrvSecurity', () => {
    for (const level of SSL_SRV_SECURITY_LEVELS) expect(isSslSrvSecurity(level)).toBe(true);
    for (const bad of ['ultra', 'HIGH', 'sslSrvSecHigh', '', 5, null, undefined, 'toString', '__proto__']) {
      expect(isSslSrvSecurity(bad)).toBe(false);
    }
  });
});
