/**
 * Orders, renews and loses certificates against Let's Encrypt's test CA, Pebble, with validation
 * on: Pebble resolves the names through our DNS server to 127.0.0.1 and connects back to our
 * tls-alpn-01 and http-01 responders, as a public CA would.
 */
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { X509Certificate } from 'node:crypto';
import { TSslContext } from '@ics-ts/ssl-context';
import { describeWithPrograms } from '../../../test-support/outside-program';
import { AcmeCertManager, Http01Responder, IssuedCertificate, TlsAlpnResponder } from '../src';
import { Pebble, TestDns, serveContext, startPebble, startTestDns, tempDir, verifiedPeer } from './pebble';

const run = promisify(execFile);

const ALPN_NAMES = ['alpn.acme.test', 'www.alpn.acme.test'];
const HTTP_NAMES = ['http.acme.test', 'www.http.acme.test'];

describeWithPrograms({ pebble: 'pebble', openssl: 'openssl' }, 'AcmeCertManager against Pebble', (programs) => {
  jest.setTimeout(90_000);
  let dir: string;
  let dns: TestDns;
  let pebble: Pebble;
  let root: string;
  const managers: AcmeCertManager[] = [];
  // One responder of each kind serves every manager, as one port serves every host.
  const tlsAlpn = new TlsAlpnResponder((name) => managers.map((m) => m.challengeContextFor(name)).find(Boolean));
  const http01 = new Http01Responder((p) => managers.map((m) => m.http01Response(p)).find((body) => body !== undefined));

  let ports: { tlsPort: number; httpPort: number; dnsPort: number };

  beforeAll(async () => {
    dir = tempDir();
    dns = await startTestDns([...ALPN_NAMES, ...HTTP_NAMES]);
    ports = { tlsPort: await tlsAlpn.listen(0), httpPort: await http01.listen(0), dnsPort: dns.port };
  });

  // A Pebble per test: each test ends by stopping it.
  beforeEach(async () => {
    pebble = await startPebble(programs.pebble, dir, ports);
    root = await pebble.root();
  });

  afterEach(async () => {
    await Promise.all(managers.splice(0).map((m) => m.stop()));
    await pebble?.stop();
  });

  afterAll(async () => {
    await Promise.all([tlsAlpn.close(), http01.close(), dns?.close()]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** The next certificate, or the order's failure as the test's. */
  function nextCertificate(m: AcmeCertManager): Promise<IssuedCertificate> {
    return new Promise((resolve, reject) => {
      const onFailed = (error: Error): void => {
        m.off('certificate', onCertificate);
        reject(new Error(`the order failed: ${error.message}\n${pebble.output().slice(-3000)}`));
      };
      const onCertificate = (issued: IssuedCertificate): void => {
        m.off('orderFailed', onFailed);
        resolve(issued);
      };
      m.once('certificate', onCertificate);
      m.once('orderFailed', onFailed);
    });
  }

  function manager(challenge: 'tls-alpn-01' | 'http-01', names: string[], extra: Partial<ConstructorParameters<typeof AcmeCertManager>[0]> = {}): AcmeCertManager {
    const m = new AcmeCertManager({
      directory: pebble.directory,
      caBundle: pebble.caBundle,
      contact: 'mailto:admin@acme.test',
      names,
      challenge,
      workDir: path.join(dir, challenge),
      retryMinMs: 3_600_000, // no retry runs inside a test unless it asks for one
      ...extra,
    });
    managers.push(m);
    return m;
  }

  /** Serves the manager's bundle through a TSslContext, and checks both names verify against Pebble's root. */
  async function checkServed(context: TSslContext, names: string[], issued: IssuedCertificate): Promise<void> {
    const server = await serveContext(context);
    try {
      for (const name of names) {
        const peer = await verifiedPeer(server.port, name, root);
        expect(peer.fingerprint256).toBe(issued.fingerprint256);
      }
      // openssl checks the chain and the name on its own, against the root only (the intermediate comes from us).
      const rootFile = path.join(dir, 'pebble-root.pem');
      fs.writeFileSync(rootFile, root);
      const client = run(programs.openssl, [
        's_client', '-connect', `127.0.0.1:${server.port}`, '-servername', names[1], '-CAfile', rootFile,
        '-verify_return_error', '-verify_hostname', names[1],
      ], { timeout: 20_000 });
      client.child.stdin!.end(); // s_client quits at the end of its input
      const { stdout } = await client.catch((err: { stdout?: string; stderr?: string }) => {
        throw new Error(`openssl s_client failed: ${err.stderr ?? ''}${err.stdout ?? ''}`);
      });
      expect(stdout).toContain('Verify return code: 0 (ok)');
    } finally {
      await server.close();
    }
  }

  test.each([
    ['tls-alpn-01', ALPN_NAMES],
    ['http-01', HTTP_NAMES],
  ] as const)('%s: orders one certificate for two names, renews it, keeps it when the CA is gone', async (challenge, names) => {
    const m = manager(challenge, names);
    const first = nextCertificate(m);
    const started = await m.start();
    // Until the CA answers, a self-signed stand-in lets the host serve at once.
    expect(started.source).toBe('stand-in');
    const context = new TSslContext({ sslCert: m.bundleFile });
    const issued = await first;
    expect(context.reload().changed).toBe(true);
    expect(m.status).toMatchObject({ source: 'acme', state: 'waiting', failures: 0 });
    expect(issued.names.sort()).toEqual([...names].sort());
    expect(issued.standIn).toBe(false);
    expect(new X509Certificate(issued.certPem).issuer).toMatch(/Pebble Intermediate/);
    await checkServed(context, names, issued);
    // Pebble connected back to our responder for every name.
    const answered = challenge === 'http-01' ? http01.counters.answered : tlsAlpn.counters.answered;
    expect(answered).toBeGreaterThanOrEqual(names.length);
    expect(dns.queries).toEqual(expect.arrayContaining(names.map((name) => `${name}/1`)));

    // A forced renewal: a new certificate and a new key, swapped in through the TSslContext reload.
    const before = answered;
    const renewed = await m.renewNow();
    expect(renewed.fingerprint256).not.toBe(issued.fingerprint256);
    expect(renewed.keyPem).not.toBe(issued.keyPem);
    expect(challenge === 'http-01' ? http01.counters.answered : tlsAlpn.counters.answered).toBeGreaterThanOrEqual(before + names.length);
    expect(context.reload().changed).toBe(true);
    await checkServed(context, names, renewed);

    // The CA goes away: the order fails, is reported, and the last good certificate stays.
    const bundleBefore = fs.readFileSync(m.bundleFile, 'latin1');
    await pebble.stop();
    const failed = once(m, 'orderFailed') as Promise<[Error, { failures: number; retryAt: Date }]>;
    await expect(m.renewNow()).rejects.toThrow();
    const [error, retry] = await failed;
    expect(error.name).toBe('AcmeNetworkError');
    expect(error.message).toMatch(/ECONNREFUSED/);
    expect(retry.failures).toBe(1);
    expect(retry.retryAt.getTime()).toBeGreaterThan(Date.now() + 3_000_000);
    expect(m.status).toMatchObject({ source: 'acme', failures: 1, lastError: error.message, state: 'waiting' });
    expect(m.status.nextOrderAt).toEqual(retry.retryAt);
    expect(m.certificate?.fingerprint256).toBe(renewed.fingerprint256);
    expect(fs.readFileSync(m.bundleFile, 'latin1')).toBe(bundleBefore);
    expect(context.reload().changed).toBe(false);
    const saved = JSON.parse(fs.readFileSync(path.join(dir, challenge, 'state.json'), 'latin1'));
    expect(saved).toMatchObject({ failures: 1, lastError: error.message, nextOrderAt: retry.retryAt.toISOString() });
  });

  test('a saved account the CA does not know (a CA reset) is registered again; no contact is fine', async () => {
    const m = manager('http-01', HTTP_NAMES, { contact: undefined, workDir: path.join(dir, 'forgotten') });
    const first = nextCertificate(m);
    await m.start();
    const issued = await first;
    const accountFile = path.join(dir, 'forgotten', 'account.json');
    const saved = JSON.parse(fs.readFileSync(accountFile, 'latin1'));
    expect(saved.directory).toBe(pebble.directory);
    // The saved URL now points at an account this CA never had; the key is the one it knows.
    fs.writeFileSync(accountFile, JSON.stringify({ directory: pebble.directory, url: `${saved.url}0` }));
    const renewed = await m.renewNow();
    expect(renewed.fingerprint256).not.toBe(issued.fingerprint256);
    expect(JSON.parse(fs.readFileSync(accountFile, 'latin1')).url).toBe(saved.url);
  });
});
