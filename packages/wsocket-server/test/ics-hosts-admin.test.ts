/**
 * IcsHosts over real sockets, administration: validateHosts() (text and
 * objects), recheckSslCerts() with a renewed certificate and with a corrupt
 * file, the sslCertRecheckInterval timer, run-time table changes (add,
 * disable, remove, a bad table) and construction errors.
 *
 * Loopback only; real free ports; everything waits on events or process output.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CertRecheck, HandshakeFailure, TWSocketServer } from '@ics-ts/wsocket-server';
import { Peer, track } from './helpers';
import {
  ClassA,
  ClassB,
  ClassC,
  IdentityFiles,
  connectHost,
  freePorts,
  greetingOf,
  identityFiles,
  once,
  sClient,
  tempDir,
  threeHostServer,
} from './fixtures/ics-hosts-support';

let dir: string;
let chat: IdentityFiles;
let echo: IdentityFiles;
let wild: IdentityFiles;
let extra: IdentityFiles;

beforeAll(async () => {
  dir = tempDir();
  [extra, wild] = await Promise.all([identityFiles(dir, 'new', ['new.localhost']), identityFiles(dir, 'wild', ['*.wild.test'])]);
});

// Each test gets fresh files for the hosts it may rewrite.
beforeEach(async () => {
  [chat, echo] = await Promise.all([identityFiles(dir, 'localhost', ['localhost']), identityFiles(dir, 'echo', ['echo.localhost'])]);
});

/** localhost (A), echo.localhost (B), *.wild.test (C) on one TLS port; the first two on one plain port. */
const { hostTable, startHosts } = threeHostServer(() => ({ chat, echo, wild }));

function refused(port: number): Promise<NodeJS.ErrnoException> {
  return Peer.connect(port).then(
    async (peer) => {
      await peer.destroy();
      throw new Error(`port ${port} accepted a connection`);
    },
    (error: NodeJS.ErrnoException) => error,
  );
}

describe('validateHosts()', () => {
  test('report objects and text: names, bindings, certificate names and days left, no problems', async () => {
    const { server, tlsPort, plainPort } = await startHosts();
    const { hosts, text } = server.validateHosts();
    expect(hosts.map((h) => h.hostTag)).toEqual(['chat', 'echo', 'wild']);
    const [c, e, w] = hosts;
    expect(c).toMatchObject({ index: 0, hostNames: ['localhost'], enabled: true, problems: [] });
    expect([...c.bindings].sort()).toEqual([`tcp://127.0.0.1:${plainPort}`, `tls://127.0.0.1:${tlsPort}`]);
    expect(e.bindings).toContain(`tls://127.0.0.1:${tlsPort}`);
    expect(w.bindings).toEqual([`tls://127.0.0.1:${tlsPort}`]);
    expect(c.certificate?.names).toEqual(['localhost']);
    expect(e.certificate?.names).toEqual(['echo.localhost']);
    expect(w.certificate?.names).toEqual(['*.wild.test']);
    expect(w.problems).toEqual([]);
    for (const h of hosts) {
      expect(h.certificate?.securityLevel).toBe('high');
      expect(h.certificate?.daysLeft).toBeGreaterThanOrEqual(89);
      expect(h.certificate?.daysLeft).toBeLessThanOrEqual(90);
      expect(Date.parse(h.certificate!.notAfter)).toBeGreaterThan(Date.now());
    }
    expect(text).toContain('#0 chat - 127.0.0.1:');
    expect(text).toContain(`  bindings: tcp://127.0.0.1:${plainPort}, tls://127.0.0.1:${tlsPort}`);
    expect(text).toMatch(/ {2}certificate: echo\.localhost, expires \d{4}-\d\d-\d\d \((89|90) days\), security high/);
    expect(text).toContain('#2 wild - 127.0.0.1:');
    expect(text).not.toContain('problem');
  });

  test('problems: a name the certificate does not cover, a name claimed by two hosts on one listener, a disabled host', async () => {
    const { server, tlsPort } = await startHosts({}, (t, p) => [
      ...hostTable(t, p).slice(0, 2).map((h, i) => (i === 1 ? { ...h, hostNames: ['echo.localhost', 'mail.localhost'] } : h)),
      { hostTag: 'dup', hostNames: ['localhost', 'x.wild.test'], bindIpAddr: '127.0.0.1', bindSslPort: t, sslCert: wild.cert, sslKey: wild.key },
      { hostTag: 'off', hostNames: ['off.localhost'], hostEnabled: false, bindIpAddr: '127.0.0.1', bindSslPort: t, sslCert: '/nonexistent.pem' },
    ]);
    const { hosts, text } = server.validateHosts();
    const [, e, dup, off] = hosts;
    expect(e.problems).toEqual(['the certificate does not cover mail.localhost']);
    expect(dup.problems).toEqual([
      `localhost on tls://127.0.0.1:${tlsPort} is already served by chat`,
      'the certificate does not cover localhost',
    ]);
    expect(off).toMatchObject({ enabled: false, bindings: [], problems: [] });
    expect(off.certificate).toBeUndefined();
    expect(text).toContain('  problem: the certificate does not cover mail.localhost');
    expect(text).toContain(`  problem: localhost on tls://127.0.0.1:${tlsPort} is already served by chat`);
    expect(text).toContain('#3 off - 127.0.0.1:');
    expect(text).toContain('(disabled): off.localhost');
    // The first host keeps the name it shares.
    const probe = await sClient(tlsPort, 'localhost');
    expect(probe.fingerprint).toBe(chat.fingerprint);
    expect(probe.greeting).toBe(greetingOf('A', 'chat', 0, 'localhost'));
  });
});

describe('recheckSslCerts()', () => {
  test('a renewed certificate: reloaded, new connections get it, an open connection keeps working, other hosts unchanged', async () => {
    const { server, tlsPort } = await startHosts();
    const before = await connectHost(server, tlsPort, 'echo.localhost');
    expect(before.peer.fingerprint).toBe(echo.fingerprint);
    const old = echo.fingerprint;
    expect(server.recheckSslCerts()).toEqual({ reloaded: [], failed: [] });

    const renewed = await echo.rewrite();
    expect(renewed).not.toBe(old);
    const events: CertRecheck[] = [];
    server.on('sslCertRecheck', (r) => events.push(r));
    const result = server.recheckSslCerts();
    expect(result).toEqual({ reloaded: ['echo'], failed: [] });
    expect(events).toEqual([result]);

    const after = await connectHost(server, tlsPort, 'echo.localhost');
    expect(after.peer.fingerprint).toBe(renewed);
    expect(after.greeting).toBe(greetingOf('B', 'echo', 1, 'echo.localhost'));
    expect((await sClient(tlsPort, 'echo.localhost')).fingerprint).toBe(renewed);
    // The connection opened before still works, on its old certificate.
    expect(await before.peer.ask('still here')).toBe('B still here');
    expect(before.peer.fingerprint).toBe(old);
    // Other hosts unchanged.
    expect((await sClient(tlsPort, 'localhost')).fingerprint).toBe(chat.fingerprint);
    expect((await sClient(tlsPort, 'a.wild.test')).fingerprint).toBe(wild.fingerprint);
    expect(server.validateHosts().hosts[1].certificate?.names).toEqual(['echo.localhost']);
    // Nothing changed since: nothing to report.
    expect(server.recheckSslCerts()).toEqual({ reloaded: [], failed: [] });
  });

  test('the default host renewed: clients without SNI and with unknown names get the new certificate', async () => {
    const { server, tlsPort } = await startHosts();
    const renewed = await chat.rewrite();
    expect(server.recheckSslCerts().reloaded).toEqual(['chat']);
    expect((await sClient(tlsPort, undefined)).fingerprint).toBe(renewed);
    expect((await sClient(tlsPort, 'unknown.example')).fingerprint).toBe(renewed);
    expect((await sClient(tlsPort, 'localhost')).fingerprint).toBe(renewed);
  });

  test('a corrupt file: reported in failed with the host tag, the old certificate is still served', async () => {
    const { server, tlsPort } = await startHosts();
    const open = await connectHost(server, tlsPort, 'localhost');
    fs.writeFileSync(chat.cert, 'this is not a certificate\n');
    const result = server.recheckSslCerts();
    expect(result.reloaded).toEqual([]);
    expect(result.failed).toHaveLength(1);
    expect(result.failed[0].hostTag).toBe('chat');
    expect(result.failed[0].error.message).toContain(chat.cert);
    const probe = await sClient(tlsPort, 'localhost', [], 'ok');
    expect(probe.fingerprint).toBe(chat.fingerprint);
    expect(probe.reply).toBe('A ok');
    expect((await sClient(tlsPort, undefined)).fingerprint).toBe(chat.fingerprint);
    expect(await open.peer.ask('alive')).toBe('A alive');
    // Fixed: the next recheck loads it.
    const renewed = await chat.rewrite();
    expect(server.recheckSslCerts()).toEqual({ reloaded: ['chat'], failed: [] });
    expect((await sClient(tlsPort, 'localhost')).fingerprint).toBe(renewed);
  });

  test('sslCertRecheckInterval: the sslCertRecheck event fires by itself after a file is rewritten', async () => {
    const { server, tlsPort } = await startHosts({ sslCertRecheckInterval: 50 });
    const event = once(server, 'sslCertRecheck') as Promise<[CertRecheck]>;
    const renewed = await echo.rewrite();
    const [result] = await event;
    expect(result).toEqual({ reloaded: ['echo'], failed: [] });
    expect((await sClient(tlsPort, 'echo.localhost')).fingerprint).toBe(renewed);
  });

  test('a widened handshake context (tls13Only default host next to a TLS 1.2 host) follows the default host on reload', async () => {
    const [tlsPort] = await freePorts('127.0.0.1', 1);
    const server = track(
      new TWSocketServer({
        icsHosts: [
          { hostTag: 'chat', hostNames: ['localhost'], bindIpAddr: '127.0.0.1', bindSslPort: tlsPort, sslCert: chat.cert, sslKey: chat.key, sslSrvSecurity: 'tls13Only', clientClass: ClassA },
          { hostTag: 'echo', hostNames: ['echo.localhost'], bindIpAddr: '127.0.0.1', bindSslPort: tlsPort, sslCert: echo.cert, sslKey: echo.key, clientClass: ClassB },
        ],
      }),
    );
    await server.listen();
    const renewed = await chat.rewrite();
    expect(server.recheckSslCerts()).toEqual({ reloaded: ['chat'], failed: [] });
    const noName = await sClient(tlsPort, undefined);
    expect(noName.fingerprint).toBe(renewed);
    expect(noName.protocol).toBe('TLSv1.3');
    const echo12 = await sClient(tlsPort, 'echo.localhost', ['-tls1_2']);
    expect(echo12.protocol).toBe('TLSv1.2');
    expect(echo12.greeting).toBe(greetingOf('B', 'echo', 1, 'echo.localhost'));
  });
});

describe('run-time changes', () => {
  test('addIcsHost on a new port opens it and serves; removeIcsHost closes it for good', async () => {
    const { server } = await startHosts();
    const [newPort] = await freePorts('127.0.0.1', 1);
    await server.addIcsHost({
      hostTag: 'new', hostNames: ['new.localhost'], bindIpAddr: '127.0.0.1', bindSslPort: newPort, sslCert: extra.cert, sslKey: extra.key, clientClass: ClassC,
    });
    expect(server.icsHosts.map((h) => h.hostTag)).toEqual(['chat', 'echo', 'wild', 'new']);
    const listener = server.listenSockets.find((l) => l.url === `tls://127.0.0.1:${newPort}`);
    expect(listener?.state).toBe('listening');
    expect(server.listenAllOk).toBe(true);
    const probe = await sClient(newPort, 'new.localhost', [], 'hi');
    expect(probe.fingerprint).toBe(extra.fingerprint);
    expect(probe.greeting).toBe(greetingOf('C', 'new', 3, 'new.localhost'));
    expect(probe.reply).toBe('C hi');
    const open = await connectHost(server, newPort, 'new.localhost');

    await server.removeIcsHost('new');
    expect(server.icsHosts.map((h) => h.hostTag)).toEqual(['chat', 'echo', 'wild']);
    expect((await refused(newPort)).code).toBe('ECONNREFUSED');
    expect(await open.peer.ask('after removal')).toBe('C after removal');
    expect(server.listenAllOk).toBe(true);
    // A later close and listen does not bring the removed binding back.
    await server.close();
    await server.listen();
    expect((await refused(newPort)).code).toBe('ECONNREFUSED');
    expect(server.listenAllOk).toBe(true);
    expect(await server.multiListenEx()).toEqual([]);
    expect((await refused(newPort)).code).toBe('ECONNREFUSED');
    // Added again: the same listener serves it again.
    const count = server.listenSockets.length;
    await server.addIcsHost({
      hostTag: 'new', hostNames: ['new.localhost'], bindIpAddr: '127.0.0.1', bindSslPort: newPort, sslCert: extra.cert, sslKey: extra.key, clientClass: ClassC,
    });
    expect(server.listenSockets).toHaveLength(count);
    expect((await sClient(newPort, 'new.localhost')).greeting).toBe(greetingOf('C', 'new', 3, 'new.localhost'));
  });

  test('setIcsHostEnabled(tag, false): its name gets the default host, its open connections keep working; enabled again', async () => {
    const { server, tlsPort } = await startHosts();
    const open = await connectHost(server, tlsPort, 'echo.localhost');
    await server.setIcsHostEnabled('echo', false);
    expect(server.icsHosts[1].hostEnabled).toBe(false);
    const probe = await sClient(tlsPort, 'echo.localhost');
    expect(probe.fingerprint).toBe(chat.fingerprint);
    expect(probe.greeting).toBe(greetingOf('A', 'chat', 0, ''));
    expect(await open.peer.ask('still')).toBe('B still');
    expect(open.client.hostTag).toBe('echo');
    // The wildcard host and the others are untouched (indexes stay).
    expect((await sClient(tlsPort, 'z.wild.test')).greeting).toBe(greetingOf('C', 'wild', 2, '*.wild.test'));
    expect(server.validateHosts().hosts[1]).toMatchObject({ enabled: false, bindings: [] });
    await server.setIcsHostEnabled('echo', true);
    expect((await sClient(tlsPort, 'echo.localhost')).greeting).toBe(greetingOf('B', 'echo', 1, 'echo.localhost'));
  });

  test('setIcsHostEnabled(tag, false) under sniUnknown refuse: its name is refused', async () => {
    const { server, tlsPort } = await startHosts({ sniUnknown: 'refuse' });
    const open = await connectHost(server, tlsPort, 'echo.localhost');
    await server.setIcsHostEnabled('echo', false);
    const failed = once(server, 'sslHandshakeError') as Promise<[HandshakeFailure]>;
    const probe = await sClient(tlsPort, 'echo.localhost');
    const [failure] = await failed;
    expect(failure.error.message).toMatch(/unknown server name "echo\.localhost"/);
    expect(probe.greeting).toBeUndefined();
    expect(await open.peer.ask('still')).toBe('B still');
  });

  test('disabling the first host hands the plain port and the TLS default to the next one', async () => {
    const { server, plainPort, tlsPort } = await startHosts();
    await server.setIcsHostEnabled('chat', false);
    const peer = await Peer.connect(plainPort);
    expect(await peer.nextLine()).toBe(greetingOf('B', 'echo', 1, ''));
    const probe = await sClient(tlsPort, undefined);
    expect(probe.fingerprint).toBe(echo.fingerprint);
    expect(probe.greeting).toBe(greetingOf('B', 'echo', 1, ''));
  });

  test('a bad new table throws and changes nothing', async () => {
    const { server, tlsPort } = await startHosts();
    const hostsBefore = server.icsHosts;
    const listenersBefore = server.listenSockets.map((l) => l.status);
    const [otherPort] = await freePorts('127.0.0.1', 1);
    const missing = path.join(dir, 'missing.pem');
    await expect(
      server.addIcsHost({ hostTag: 'broken', hostNames: ['broken.localhost'], bindIpAddr: '127.0.0.1', bindSslPort: otherPort, sslCert: missing, sslKey: chat.key }),
    ).rejects.toThrow(/icsHosts\[3\] \(broken\): sslCert file .*missing\.pem: not found/);
    await expect(server.setIcsHosts([...hostTable(tlsPort, otherPort), { hostTag: 'chat', hostNames: ['x.test'], bindNonPort: otherPort }])).rejects.toThrow(
      /hostTag "chat" is used twice/,
    );
    await expect(server.removeIcsHost('nope')).rejects.toThrow(/no host with hostTag "nope" \(chat, echo, wild\)/);
    await expect(server.setIcsHostEnabled('nope', false)).rejects.toThrow(/no host with hostTag "nope"/);
    expect(server.icsHosts).toBe(hostsBefore);
    expect(server.listenSockets.map((l) => l.status)).toEqual(listenersBefore);
    expect((await refused(otherPort)).code).toBe('ECONNREFUSED');
    expect((await sClient(tlsPort, 'echo.localhost')).greeting).toBe(greetingOf('B', 'echo', 1, 'echo.localhost'));
  });

  test('hosts without a hostTag keep their tags when another host is removed', async () => {
    const [port] = await freePorts('127.0.0.1', 1);
    const server = track(
      new TWSocketServer({
        icsHosts: [
          { hostNames: ['a.test'], bindIpAddr: '127.0.0.1', bindNonPort: port, clientClass: ClassA },
          { hostNames: ['b.test'], bindIpAddr: '127.0.0.1', bindNonPort: port, clientClass: ClassB },
          { hostNames: ['c.test'], bindIpAddr: '127.0.0.1', bindNonPort: port, clientClass: ClassC },
        ],
      }),
    );
    await server.listen();
    expect(server.icsHosts.map((h) => h.hostTag)).toEqual(['host0', 'host1', 'host2']);
    await server.removeIcsHost('host0');
    expect(server.icsHosts.map((h) => h.hostTag)).toEqual(['host1', 'host2']);
    await server.setIcsHostEnabled('host1', false);
    expect(server.icsHosts.map((h) => [h.hostTag, h.hostEnabled])).toEqual([
      ['host1', false],
      ['host2', true],
    ]);
    const peer = await Peer.connect(port);
    expect(await peer.nextLine()).toBe(greetingOf('C', 'host2', 1, ''));
  });
});

describe('construction errors', () => {
  const cert = () => ({ sslCert: chat.cert, sslKey: chat.key });

  test.each([
    ['addr', { addr: '127.0.0.1' }],
    ['port', { port: 8080 }],
    ['sslEnable', { sslEnable: false }],
    ['multiListenSockets', { multiListenSockets: [] }],
  ])('icsHosts with %s also given: TypeError naming the option', (option, extraOptions) => {
    expect(
      () => new TWSocketServer({ icsHosts: [{ hostNames: ['localhost'], bindIpAddr: '127.0.0.1', bindNonPort: 1 }], ...extraOptions }),
    ).toThrow(new TypeError(`TWSocketServer: option ${option} cannot be given with icsHosts: the listeners come from the host table`));
  });

  test('two hosts with the same hostTag', () => {
    expect(
      () =>
        new TWSocketServer({
          icsHosts: [
            { hostTag: 'web', hostNames: ['a.test'], bindIpAddr: '127.0.0.1', bindNonPort: 1 },
            { hostTag: 'web', hostNames: ['b.test'], bindIpAddr: '127.0.0.1', bindNonPort: 2 },
          ],
        }),
    ).toThrow(/TWSocketServer: option icsHosts\[1\]: hostTag "web" is used twice/);
  });

  test('one address and port plain for one host and TLS for another: the error names both', () => {
    expect(
      () =>
        new TWSocketServer({
          icsHosts: [
            { hostTag: 'plain', hostNames: ['a.test'], bindIpAddr: '127.0.0.1', bindNonPort: 4433 },
            { hostTag: 'secure', hostNames: ['b.test'], bindIpAddr: '127.0.0.1', bindSslPort: 4433, ...cert() },
          ],
        }),
    ).toThrow(
      'TWSocketServer: icsHosts[1] (secure) binds tls://127.0.0.1:4433 but icsHosts[0] (plain) binds the same address and port without TLS',
    );
  });

  test("a host's bad certificate file: the error names icsHosts[i], the tag and the file", () => {
    const missing = path.join(dir, 'nope.pem');
    expect(
      () =>
        new TWSocketServer({
          icsHosts: [
            { hostTag: 'chat', hostNames: ['localhost'], bindIpAddr: '127.0.0.1', bindSslPort: 4433, ...cert() },
            { hostTag: 'echo', hostNames: ['echo.localhost'], bindIpAddr: '127.0.0.1', bindSslPort: 4433, sslCert: missing, sslKey: chat.key },
          ],
        }),
    ).toThrow(`TWSocketServer: option icsHosts[1] (echo): sslCert file ${missing}: not found`);
    const garbage = path.join(dir, 'garbage.pem');
    fs.writeFileSync(garbage, 'garbage');
    expect(
      () =>
        new TWSocketServer({
          icsHosts: [{ hostTag: 'g', hostNames: ['localhost'], bindIpAddr: '127.0.0.1', bindSslPort: 4433, sslCert: garbage, sslKey: chat.key }],
        }),
    ).toThrow(/option icsHosts\[0\] \(g\): sslCert file .*garbage\.pem/);
  });

  test('no enabled host binds a port', () => {
    expect(
      () => new TWSocketServer({ icsHosts: [{ hostNames: ['localhost'], hostEnabled: false }] }),
    ).toThrow('TWSocketServer: option icsHosts: no enabled host binds a port');
  });
});
