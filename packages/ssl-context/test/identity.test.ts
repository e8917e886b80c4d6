/**
 * Identity sources (ICS LoadOneCert): PEM files, inline PEM, bundles, PFX,
 * encrypted keys, DER, intermediates, CA files, and the errors for each way
 * they go wrong. Fixtures are made with the openssl CLI in a temp dir.
 */
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import { IdentityError, TSslContext, isInlinePem, loadIdentity } from '@ics-ts/ssl-context';
import {
  Pki,
  TempDir,
  TestServer,
  closeSocket,
  ecKey,
  echo,
  makePki,
  openssl,
  sClient,
  startServer,
  tempDir,
  tryConnect,
} from './helpers';

let tmp: TempDir;
let pki: Pki;
let leafFingerprint: string;
const PASSWORD = 's3cret pass';

beforeAll(() => {
  tmp = tempDir();
  pki = makePki(tmp);
  leafFingerprint = new X509Certificate(fs.readFileSync(pki.leafCert)).fingerprint256;
  const text = (file: string): string => fs.readFileSync(file, 'latin1');
  tmp.write('bundle.pem', text(pki.leafKey) + text(pki.leafCert) + text(pki.interCert));
  openssl(tmp.dir, [
    'pkcs8', '-topk8', '-in', pki.leafKey, '-out', 'leaf-enc.key', '-passout', `pass:${PASSWORD}`, '-v2', 'aes-256-cbc',
  ]);
  openssl(tmp.dir, [
    'pkcs12', '-export', '-in', pki.leafCert, '-inkey', pki.leafKey, '-certfile', pki.interCert, '-out', 'id.pfx',
    '-passout', `pass:${PASSWORD}`,
  ]);
  openssl(tmp.dir, ['pkcs12', '-export', '-in', pki.leafCert, '-inkey', pki.leafKey, '-out', 'id-nopass.p12', '-passout', 'pass:']);
  openssl(tmp.dir, ['x509', '-in', pki.leafCert, '-outform', 'DER', '-out', 'leaf.der']);
  fs.copyFileSync(tmp.file('leaf.der'), tmp.file('leaf.cer'));
  ecKey(tmp, 'other.key');
  tmp.write('leaf.txt', text(pki.leafCert));
  tmp.write('key-only.pem', text(pki.leafKey));
  tmp.write('garbage.der', Buffer.from('this is not a certificate at all'));
});

afterAll(() => tmp.remove());

/** Constructing with these options throws an IdentityError; returns its message. */
function identityError(options: ConstructorParameters<typeof TSslContext>[0]): string {
  let caught: unknown;
  try {
    new TSslContext(options);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(IdentityError);
  return (caught as Error).message;
}

/** Serves `ctx`, connects once with `clientOptions`, and returns what the client saw. */
async function serveOnce(ctx: TSslContext, clientOptions: Parameters<typeof tryConnect>[1] = {}) {
  const server: TestServer = await startServer(ctx);
  try {
    const result = await tryConnect(server.port, clientOptions);
    if (result.ok) {
      expect(await echo(result.socket, 'ping')).toBe('ping');
      await closeSocket(result.socket);
    }
    return result;
  } finally {
    await server.close();
  }
}

/** How many certificates the server sends (openssl s_client -showcerts). */
async function servedChainLength(ctx: TSslContext): Promise<number> {
  const server = await startServer(ctx);
  try {
    const out = await sClient(server.port, ['-showcerts']);
    expect(out.code).toBe(0);
    return out.stdout.match(/-----BEGIN CERTIFICATE-----/g)?.length ?? 0;
  } finally {
    await server.close();
  }
}

describe('PEM files and inline PEM', () => {
  test('a certificate file and a key file load and serve the certificate', async () => {
    const ctx = new TSslContext({ sslCert: pki.leafCert, sslKey: pki.leafKey });
    expect(ctx.facts.commonName).toBe('localhost');
    expect(ctx.facts.fingerprint256).toBe(leafFingerprint);
    expect(ctx.warnings).toEqual([]);
    const result = await serveOnce(ctx);
    expect(result.ok && result.fingerprint256).toBe(leafFingerprint);
  });

  test('inline PEM text for certificate and key', async () => {
    const cert = fs.readFileSync(pki.leafCert, 'latin1');
    const key = fs.readFileSync(pki.leafKey, 'latin1');
    expect(isInlinePem(cert)).toBe(true);
    expect(isInlinePem(pki.leafCert)).toBe(false);
    const ctx = new TSslContext({ sslCert: cert, sslKey: key });
    expect(ctx.facts.fingerprint256).toBe(leafFingerprint);
    const identity = loadIdentity({ sslCert: cert, sslKey: key });
    expect(identity.files.size).toBe(0); // nothing to watch for reload
    const result = await serveOnce(ctx);
    expect(result.ok && result.fingerprint256).toBe(leafFingerprint);
  });

  test('a PEM bundle (key + certificate + intermediate) needs no sslKey and serves the chain', async () => {
    const ctx = new TSslContext({ sslCert: tmp.file('bundle.pem') });
    expect(ctx.facts.fingerprint256).toBe(leafFingerprint);
    expect(await servedChainLength(ctx)).toBe(2);
    // A client that trusts only the root verifies the served chain.
    const result = await serveOnce(ctx, { ca: fs.readFileSync(pki.rootCert), rejectUnauthorized: true, servername: 'localhost' });
    expect(result.ok).toBe(true);
  });

  test('the key of a bundle wins over sslKey (ICS: the bundle key first)', () => {
    const identity = loadIdentity({ sslCert: tmp.file('bundle.pem'), sslKey: tmp.file('other.key') });
    expect(identity.keyPem).toContain('PRIVATE KEY');
    expect(identity.files.has(tmp.file('other.key'))).toBe(false);
  });

  test('separate intermediates through sslInter are served after the leaf', async () => {
    const withInter = new TSslContext({ sslCert: pki.leafCert, sslKey: pki.leafKey, sslInter: pki.interCert });
    expect(await servedChainLength(withInter)).toBe(2);
    const ok = await serveOnce(withInter, { ca: fs.readFileSync(pki.rootCert), rejectUnauthorized: true, servername: 'localhost' });
    expect(ok.ok).toBe(true);

    const withoutInter = new TSslContext({ sslCert: pki.leafCert, sslKey: pki.leafKey });
    expect(await servedChainLength(withoutInter)).toBe(1);
    const refused = await serveOnce(withoutInter, { ca: fs.readFileSync(pki.rootCert), rejectUnauthorized: true, servername: 'localhost' });
    expect(refused.ok).toBe(false);
    expect(!refused.ok && (refused.error as NodeJS.ErrnoException).code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  test('sslInter as inline PEM', async () => {
    const ctx = new TSslContext({ sslCert: pki.leafCert, sslKey: pki.leafKey, sslInter: fs.readFileSync(pki.interCert, 'latin1') });
    expect(await servedChainLength(ctx)).toBe(2);
  });

  test('an sslInter file with no certificate is an error naming it', () => {
    const message = identityError({ sslCert: pki.leafCert, sslKey: pki.leafKey, sslInter: tmp.file('key-only.pem') });
    expect(message).toContain(`sslInter file ${tmp.file('key-only.pem')}`);
    expect(message).toContain('holds no certificate');
  });

  test('a missing sslInter file is an error (ICS: a missing file is an error)', () => {
    const message = identityError({ sslCert: pki.leafCert, sslKey: pki.leafKey, sslInter: tmp.file('no-inter.pem') });
    expect(message).toContain(tmp.file('no-inter.pem'));
    expect(message).toContain('not found');
  });
});

describe('DER certificates', () => {
  test.each(['leaf.der', 'leaf.cer'])('%s loads with a PEM key', async (name) => {
    const ctx = new TSslContext({ sslCert: tmp.file(name), sslKey: pki.leafKey });
    expect(ctx.facts.fingerprint256).toBe(leafFingerprint);
    const result = await serveOnce(ctx);
    expect(result.ok && result.fingerprint256).toBe(leafFingerprint);
  });

  test('a .der file that is neither PEM nor DER says so', () => {
    const message = identityError({ sslCert: tmp.file('garbage.der'), sslKey: pki.leafKey });
    expect(message).toContain(`sslCert file ${tmp.file('garbage.der')}`);
    expect(message).toContain('neither PEM nor a DER certificate');
  });
});

describe('PFX / PKCS#12', () => {
  test('the right sslPassword loads the PFX, which serves its chain', async () => {
    const ctx = new TSslContext({ sslCert: tmp.file('id.pfx'), sslPassword: PASSWORD });
    expect(ctx.facts.fingerprint256).toBe(leafFingerprint);
    expect(ctx.facts.commonName).toBe('localhost');
    expect(await servedChainLength(ctx)).toBe(2);
    const result = await serveOnce(ctx, { ca: fs.readFileSync(pki.rootCert), rejectUnauthorized: true, servername: 'localhost' });
    expect(result.ok && result.fingerprint256).toBe(leafFingerprint);
  });

  test('the wrong sslPassword: IdentityError naming the file', () => {
    const message = identityError({ sslCert: tmp.file('id.pfx'), sslPassword: 'wrong' });
    expect(message).toContain(`sslCert file ${tmp.file('id.pfx')}`);
    expect(message).toContain('wrong sslPassword');
  });

  test('no sslPassword for a protected PFX: IdentityError saying one is needed', () => {
    const message = identityError({ sslCert: tmp.file('id.pfx') });
    expect(message).toContain(tmp.file('id.pfx'));
    expect(message).toContain('sslPassword is needed');
  });

  test('a .p12 made with an empty password loads without sslPassword', async () => {
    const ctx = new TSslContext({ sslCert: tmp.file('id-nopass.p12') });
    expect(ctx.facts.fingerprint256).toBe(leafFingerprint);
    const result = await serveOnce(ctx);
    expect(result.ok && result.fingerprint256).toBe(leafFingerprint);
  });

  test('a legacy-encrypted PFX (RC2/3DES, which OpenSSL 3 does not read) says how to convert it', () => {
    openssl(tmp.dir, ['pkcs12', '-export', '-legacy', '-in', pki.leafCert, '-inkey', pki.leafKey, '-out', 'legacy.pfx', '-passout', 'pass:x']);
    const message = identityError({ sslCert: tmp.file('legacy.pfx'), sslPassword: 'x' });
    expect(message).toContain(tmp.file('legacy.pfx'));
    expect(message).toContain('legacy encryption');
  });

  test('a .pfx that is not PKCS#12 says so', () => {
    const notPfx = tmp.write('not.pfx', fs.readFileSync(pki.leafCert));
    const message = identityError({ sslCert: notPfx, sslPassword: 'x' });
    expect(message).toContain(notPfx);
    expect(message).toContain('not a usable PKCS#12 file');
  });
});

describe('encrypted PKCS#8 keys', () => {
  test('the right sslPassword decrypts the key', async () => {
    expect(tmp.read('leaf-enc.key')).toContain('BEGIN ENCRYPTED PRIVATE KEY');
    const ctx = new TSslContext({ sslCert: pki.leafCert, sslKey: tmp.file('leaf-enc.key'), sslPassword: PASSWORD });
    const result = await serveOnce(ctx);
    expect(result.ok && result.fingerprint256).toBe(leafFingerprint);
  });

  test('the wrong sslPassword: IdentityError naming the key file', () => {
    const message = identityError({ sslCert: pki.leafCert, sslKey: tmp.file('leaf-enc.key'), sslPassword: 'nope' });
    expect(message).toContain(`sslKey file ${tmp.file('leaf-enc.key')}`);
    expect(message).toContain('wrong sslPassword');
  });

  test('no sslPassword: IdentityError saying the key is encrypted', () => {
    const message = identityError({ sslCert: pki.leafCert, sslKey: tmp.file('leaf-enc.key') });
    expect(message).toContain(`sslKey file ${tmp.file('leaf-enc.key')}`);
    expect(message).toContain('encrypted: sslPassword is needed');
  });
});

describe('errors that name the source', () => {
  test('a key that does not match the certificate: the message names both', () => {
    const message = identityError({ sslCert: pki.leafCert, sslKey: tmp.file('other.key') });
    expect(message).toContain(`sslKey file ${tmp.file('other.key')}`);
    expect(message).toContain(`sslCert file ${pki.leafCert}`);
    expect(message).toContain('does not match');
  });

  test('a missing certificate file: named, "not found"', () => {
    const missing = tmp.file('missing.pem');
    const message = identityError({ sslCert: missing, sslKey: pki.leafKey });
    expect(message).toBe(`sslCert file ${missing}: not found`);
  });

  test('a missing key file: named, "not found"', () => {
    const message = identityError({ sslCert: pki.leafCert, sslKey: tmp.file('missing.key') });
    expect(message).toBe(`sslKey file ${tmp.file('missing.key')}: not found`);
  });

  test('an unknown extension (.txt) is named', () => {
    const message = identityError({ sslCert: tmp.file('leaf.txt'), sslKey: pki.leafKey });
    expect(message).toContain(tmp.file('leaf.txt'));
    expect(message).toContain('unknown certificate file extension ".txt"');
  });

  test('a file with no certificate', () => {
    const message = identityError({ sslCert: tmp.file('key-only.pem'), sslKey: pki.leafKey });
    expect(message).toContain(`sslCert file ${tmp.file('key-only.pem')}`);
    expect(message).toContain('holds no certificate');
  });

  test('no key anywhere: sslKey is asked for', () => {
    const message = identityError({ sslCert: pki.leafCert });
    expect(message).toContain('sslKey');
    expect(message).toContain('a private key is needed');
  });

  test('an sslKey file with no key in it', () => {
    const message = identityError({ sslCert: pki.leafCert, sslKey: pki.interCert });
    expect(message).toBe(`sslKey file ${pki.interCert}: holds no private key`);
  });

  test('inline PEM sources are described as inline, not as a file', () => {
    const message = identityError({ sslCert: fs.readFileSync(pki.leafCert, 'latin1'), sslKey: fs.readFileSync(tmp.file('other.key'), 'latin1') });
    expect(message).toContain('sslKey (inline PEM)');
    expect(message).toContain('sslCert (inline PEM)');
  });
});

describe('sslCA', () => {
  test('an sslCA file is loaded and watched', () => {
    const identity = loadIdentity({ sslCert: pki.leafCert, sslKey: pki.leafKey, sslCA: pki.rootCert });
    expect(identity.caPem).toContain('BEGIN CERTIFICATE');
    expect(new X509Certificate(identity.caPem!).subject).toBe('CN=Test Root CA');
    expect([...identity.files.keys()].sort()).toEqual([pki.leafCert, pki.leafKey, pki.rootCert].sort());
    expect(() => new TSslContext({ sslCert: pki.leafCert, sslKey: pki.leafKey, sslCA: pki.rootCert, sslVerifyPeer: 'request' })).not.toThrow();
  });

  test('a missing sslCA file is named', () => {
    const message = identityError({ sslCert: pki.leafCert, sslKey: pki.leafKey, sslCA: tmp.file('ca-missing.pem') });
    expect(message).toBe(`sslCA file ${tmp.file('ca-missing.pem')}: not found`);
  });

  test('an sslCA file with no certificate is named', () => {
    const message = identityError({ sslCert: pki.leafCert, sslKey: pki.leafKey, sslCA: tmp.file('key-only.pem') });
    expect(message).toContain(`sslCA file ${tmp.file('key-only.pem')}`);
    expect(message).toContain('holds no certificate');
  });
});
