/**
 * certAutoOrder: IcsHosts that get their certificates from an ACME CA (Pebble, validation on) and
 * renew them while clients are connected and handshaking. tls-alpn-01 is answered on the host's
 * own TLS listener, before host selection; http-01 on the host's httpPort. The other hosts serve
 * while the orders run.
 */
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import { createDevCA, createDevCertificate } from '@ics-ts/ssl-context';
import { TWSocketServer } from '@ics-ts/wsocket-server';
import type { IssuedCertificate } from '@ics-ts/acme';
import { describeWithPrograms } from '../../../test-support/outside-program';
import { Pebble, TestDns, freePorts, startPebble, startTestDns, tempDir } from '../../acme/test/pebble';
import { EchoClient } from './helpers';
import { TlsPeer } from './tls-peer';

const ALPN = ['shop.acme.test', 'www.shop.acme.test'];
const HTTP = ['mail.acme.test'];
const OTHER = 'other.acme.test';

describe('certAutoOrder options', () => {
  const base = { hostNames: ['a.example.com'], bindSslPort: 8443, hostTag: 'a' };
  const acme = { directory: 'https://acme.example/dir', workDir: '/tmp/unused-acme' };
  test.each([
    [{ certAutoOrder: { ...acme, renewDays: 0 } }, RangeError, /icsHosts\[0\] \(a\): certAutoOrder: option renewDays must be an integer from 1 to 365, got 0/],
    [{ certAutoOrder: { ...acme, keyType: 'dsa' } }, TypeError, /icsHosts\[0\] \(a\): certAutoOrder: option keyType must be one of/],
    [{ certAutoOrder: { ...acme, directory: 'http://acme.example/dir' } }, TypeError, /certAutoOrder: option directory must be an https URL/],
    [{ certAutoOrder: 'yes' }, TypeError, /icsHosts\[0\] \(a\): certAutoOrder must be an object, got "yes"/],
    [{ certAutoOrder: { ...acme, names: ['x.example.com'] } }, TypeError, /certAutoOrder.names: the certificate is for the host's hostNames/],
    [{ hostNames: ['*.example.com'], certAutoOrder: acme }, TypeError, /certAutoOrder: option names\[0\] "\*\.example\.com" is a wildcard, which only dns-01/],
    [{ certAutoOrder: acme, sslCert: 'a.pem' }, TypeError, /give sslCert or certAutoOrder, not both/],
    [{ bindSslPort: 0, bindNonPort: 2323, certAutoOrder: acme }, TypeError, /challenge tls-alpn-01 needs bindSslPort/],
    [{ certAutoOrder: { ...acme, challenge: 'http-01', httpPort: 70000 } }, RangeError, /certAutoOrder.httpPort must be an integer in 0..65535/],
  ])('%j is refused with the host and the key named', (extra, type, message) => {
    const make = () => new TWSocketServer({ icsHosts: [{ ...base, ...extra } as never] });
    expect(make).toThrow(type);
    expect(make).toThrow(message);
  });

  test('before listen, validateHosts says the certificate comes at listen', () => {
    const server = new TWSocketServer({ icsHosts: [{ ...base, certAutoOrder: { ...acme, workDir: path.join(tempDir(), 'w') } }] });
    const [report] = server.validateHosts().hosts;
    expect(report).toMatchObject({ certificateSource: 'none', nextOrder: 'at listen' });
    expect(report.certificate).toBeUndefined();
  });
});

describeWithPrograms({ pebble: 'pebble' }, 'certAutoOrder against Pebble', (programs) => {
  jest.setTimeout(90_000);
  let dir: string;
  let dns: TestDns;
  let pebble: Pebble;
  let root: string;
  let server: TWSocketServer<EchoClient>;
  let sslPort: number;
  let mailPort: number;
  let otherCa: string;
  const peers: TlsPeer[] = [];

  beforeAll(async () => {
    dir = tempDir();
    dns = await startTestDns([...ALPN, ...HTTP]);
    let httpPort: number;
    [sslPort, mailPort, httpPort] = await freePorts(3);
    pebble = await startPebble(programs.pebble, dir, { tlsPort: sslPort, httpPort, dnsPort: dns.port });
    root = await pebble.root();
    const ca = await createDevCA('other host CA');
    otherCa = ca.cert;
    const other = await createDevCertificate({ names: [OTHER], ca });
    const acme = { directory: pebble.directory, caBundle: pebble.caBundle, retryMinMs: 3_600_000 };
    // Not track()ed: the server lives across this describe's tests (afterAll shuts it down).
    server = new TWSocketServer<EchoClient>({
        clientClass: EchoClient,
        icsHosts: [
          // The default host of the shared port serves a file certificate while the other host orders.
          { hostTag: 'other', hostNames: [OTHER], bindIpAddr: '127.0.0.1', bindSslPort: sslPort, sslCert: other.cert + other.key },
          { hostTag: 'shop', hostNames: ALPN, bindIpAddr: '127.0.0.1', bindSslPort: sslPort, certAutoOrder: { ...acme, workDir: path.join(dir, 'shop') } },
          {
            hostTag: 'mail',
            hostNames: HTTP,
            bindIpAddr: '127.0.0.1',
            bindSslPort: mailPort,
            certAutoOrder: { ...acme, challenge: 'http-01', httpPort, workDir: path.join(dir, 'mail'), keyType: 'rsa-2048' },
          },
        ],
    });
  });

  afterAll(async () => {
    await Promise.all(peers.map((peer) => peer.destroy()));
    await server?.shutdown(1000);
    await pebble?.stop();
    await dns?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function issued(hostTag: string): Promise<IssuedCertificate> {
    return new Promise((resolve, reject) => {
      const onIssued = (tag: string, certificate: IssuedCertificate): void => {
        if (tag !== hostTag) return;
        server.off('certificateIssued', onIssued);
        resolve(certificate);
      };
      server.on('certificateIssued', onIssued);
      server.once('certificateOrderFailed', (tag, error) => reject(new Error(`${tag}: ${error.message}\n${pebble.output().slice(-2000)}`)));
    });
  }

  async function verified(port: number, servername: string, ca = root): Promise<TlsPeer> {
    const peer = await TlsPeer.connect(port, { servername, ca, rejectUnauthorized: true });
    peers.push(peer);
    return peer;
  }

  test('orders at listen while the other host serves; tls-alpn-01 on the host port, http-01 on httpPort', async () => {
    const shop = issued('shop');
    const mail = issued('mail');
    await server.listen();
    // At once: the other host answers with its own certificate, the ordering hosts with their stand-ins.
    const other = await verified(sslPort, OTHER, otherCa);
    expect(await other.ask('hi')).toBe('echo hi');
    const [shopCert, mailCert] = await Promise.all([shop, mail]);
    expect(new X509Certificate(shopCert.certPem).issuer).toMatch(/Pebble Intermediate/);
    expect(server.acmeChallengesAnswered).toBeGreaterThanOrEqual(ALPN.length);
    for (const name of ALPN) {
      const peer = await verified(sslPort, name);
      expect(peer.fingerprint).toBe(shopCert.fingerprint256);
      expect(await peer.ask(name)).toBe(`echo ${name}`);
    }
    const mailPeer = await verified(mailPort, HTTP[0]);
    expect(mailPeer.fingerprint).toBe(mailCert.fingerprint256);
    expect(mailPeer.certificate.modulus).toBeDefined(); // keyType rsa-2048
    expect(await other.ask('still here')).toBe('echo still here');
    const report = server.validateHosts().hosts;
    expect(report.map((h) => h.certificateSource)).toEqual(['file', 'acme', 'acme']);
    expect(Date.parse(report[1].nextOrder!)).toBe(shopCert.notAfter.getTime() - 30 * 86_400_000);
    expect(server.validateHosts().text).toContain(`certAutoOrder: source acme, next order ${report[1].nextOrder}`);
  });

  test('renewal swaps the certificate in while clients are connected and others handshake', async () => {
    const connected = await Promise.all([verified(sslPort, ALPN[0]), verified(sslPort, ALPN[1]), verified(sslPort, OTHER, otherCa)]);
    const before = connected[0].fingerprint;
    const answeredBefore = server.acmeChallengesAnswered;
    const renewal = server.renewCertificate('shop');
    // Handshakes keep coming during the renewal (its challenges included): every one verifies.
    let handshakes = 0;
    let renewed = false;
    void renewal.then(() => (renewed = true), () => (renewed = true));
    while (!renewed && handshakes < 200) {
      const peer = await verified(sslPort, ALPN[handshakes % 2]);
      expect(await peer.ask(`during ${handshakes}`)).toBe(`echo during ${handshakes}`);
      await peer.destroy();
      handshakes++;
    }
    const certificate = await renewal;
    expect(handshakes).toBeGreaterThan(0);
    expect(certificate.fingerprint256).not.toBe(before);
    expect(server.acmeChallengesAnswered).toBeGreaterThanOrEqual(answeredBefore + ALPN.length);
    // Nobody was dropped: the connected clients talk on with the certificate they got.
    for (const [i, peer] of connected.entries()) expect(await peer.ask(`after ${i}`)).toBe(`echo after ${i}`);
    expect(connected[0].fingerprint).toBe(before);
    // New handshakes get the new certificate.
    const fresh = await verified(sslPort, ALPN[1]);
    expect(fresh.fingerprint).toBe(certificate.fingerprint256);
  });

  test('the CA gone: the failure is an event and a report problem, the certificate keeps serving', async () => {
    const served = (await verified(sslPort, ALPN[0])).fingerprint;
    await pebble.stop();
    const failed = new Promise<[string, Error]>((resolve) => server.once('certificateOrderFailed', (tag, error) => resolve([tag, error])));
    await expect(server.renewCertificate('shop')).rejects.toThrow(/ECONNREFUSED/);
    const [tag, error] = await failed;
    expect(tag).toBe('shop');
    expect(error.name).toBe('AcmeNetworkError');
    const report = server.validateHosts().hosts[1];
    expect(report.lastOrderError).toBe(error.message);
    expect(report.problems).toContain(`certAutoOrder: 1 failed order(s), the last: ${error.message}`);
    expect((await verified(sslPort, ALPN[0])).fingerprint).toBe(served);
  });
});

describeWithPrograms({ pebble: 'pebble' }, 'docs/hosts.md certAutoOrder example', (programs) => {
  test('runs against Pebble: the file host serves, the shop host gets its certificate', async () => {
    const source = /### In the host table: `certAutoOrder`[\s\S]*?```ts\n([\s\S]*?)```/.exec(
      fs.readFileSync(path.resolve(__dirname, '../../../docs/hosts.md'), 'utf8'),
    )?.[1];
    if (!source) throw new Error('docs/hosts.md: the certAutoOrder example is missing');
    const dir = tempDir();
    const dns = await startTestDns(['shop.example.com', 'www.shop.example.com']);
    const [port, httpPort] = await freePorts(2);
    const pebble = await startPebble(programs.pebble, dir, { tlsPort: port, httpPort, dnsPort: dns.port });
    const files = await createDevCertificate({ names: ['files.example.com'] });
    fs.writeFileSync(path.join(dir, 'files.pem'), files.cert + files.key);
    const code = source
      .replace(/bindSslPort: 443/g, `bindSslPort: ${port}, bindIpAddr: '127.0.0.1'`)
      .replace("'/etc/ssl/files.pem'", JSON.stringify(path.join(dir, 'files.pem')))
      .replace("'https://acme-v02.api.letsencrypt.org/directory'", `${JSON.stringify(pebble.directory)}, caBundle: ${JSON.stringify(pebble.caBundle)}`)
      .replace("'/var/lib/ics-ts/acme/shop'", JSON.stringify(path.join(dir, 'shop')))
      .replace('const server =', 'scope.server =')
      .replace(/\bserver\./g, 'scope.server.');
    const js = ts.transpileModule(`scope.done = (async () => {\n${code}\n})();`, {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    const logged: string[] = [];
    const scope = { server: undefined as TWSocketServer | undefined, done: undefined as Promise<void> | undefined, TWSocketServer, EchoClient };
    const log = (line: string) => logged.push(line);
    try {
      new Function('scope', 'console', `with (scope) { ${js} }`)(scope, { log, error: log });
      await scope.done;
      const issued = new Promise<void>((resolve) => scope.server!.once('certificateIssued', () => resolve()));
      const filesPeer = await TlsPeer.connect(port, { servername: 'files.example.com', rejectUnauthorized: false });
      expect(filesPeer.fingerprint).toBe(new X509Certificate(files.cert).fingerprint256);
      expect(await filesPeer.ask('x')).toBe('echo x');
      await filesPeer.destroy();
      await issued;
      expect(logged).toEqual([expect.stringMatching(/^shop: new certificate until \d{4}-/)]);
      const shopPeer = await TlsPeer.connect(port, { servername: 'www.shop.example.com', ca: await pebble.root(), rejectUnauthorized: true });
      expect(await shopPeer.ask('y')).toBe('echo y');
      await shopPeer.destroy();
    } finally {
      await scope.server?.shutdown(1000);
      await pebble.stop();
      await dns.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
