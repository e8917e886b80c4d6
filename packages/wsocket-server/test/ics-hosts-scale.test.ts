/**
 * IcsHosts at scale: 200 hosts, each with its own ECDSA P-256 certificate, on
 * one TLS port (and one plain port). SNI picks each host's certificate and
 * class; no timing assertion.
 */
import { IcsHostOptions, TWSocketClient, TWSocketServer } from '@ics-ts/wsocket-server';
import { Peer, track } from './helpers';
import { ClassA, ClassB, connectHost, freePorts, greetingOf, inlineIdentity, sClient } from './fixtures/ics-hosts-support';

const COUNT = 200;
let ids: { cert: string; key: string; fingerprint: string }[];

beforeAll(async () => {
  ids = await Promise.all(Array.from({ length: COUNT }, (_, i) => inlineIdentity([`h${i}.test`])));
}, 30_000);

test(`${COUNT} hosts on one TLS port: each name gets its own certificate and host`, async () => {
  const [tlsPort, plainPort] = await freePorts('127.0.0.1', 2);
  const table: IcsHostOptions<TWSocketClient>[] = ids.map((id, i) => ({
    hostTag: `t${i}`,
    hostNames: [`h${i}.test`],
    bindIpAddr: '127.0.0.1',
    bindSslPort: tlsPort,
    bindNonPort: plainPort,
    sslCert: id.cert,
    sslKey: id.key,
    clientClass: i % 2 === 0 ? ClassA : ClassB,
  }));
  const server = track(new TWSocketServer<TWSocketClient>({ icsHosts: table }));
  await server.listen();
  expect(server.listenSockets).toHaveLength(2);
  expect(server.icsHosts).toHaveLength(COUNT);

  for (const i of [0, 57, 199]) {
    const { peer, client, greeting } = await connectHost(server, tlsPort, `h${i}.test`);
    expect(peer.fingerprint).toBe(ids[i].fingerprint);
    expect(peer.certificate.subject.CN).toBe(`h${i}.test`);
    expect(client).toMatchObject({ icsHostIdx: i, hostTag: `t${i}`, matchedName: `h${i}.test` });
    expect(greeting).toBe(greetingOf(i % 2 === 0 ? 'A' : 'B', `t${i}`, i, `h${i}.test`));
  }
  const probe = await sClient(tlsPort, 'h123.test');
  expect(probe.fingerprint).toBe(ids[123].fingerprint);
  expect(probe.greeting).toBe(greetingOf('B', 't123', 123, 'h123.test'));
  // Unknown name and the plain port: the first host.
  expect((await sClient(tlsPort, 'h200.test')).fingerprint).toBe(ids[0].fingerprint);
  const plain = await Peer.connect(plainPort);
  expect(await plain.nextLine()).toBe(greetingOf('A', 't0', 0, ''));

  const report = server.validateHosts();
  expect(report.hosts).toHaveLength(COUNT);
  expect(report.hosts.flatMap((h) => h.problems)).toEqual([]);
  expect(report.hosts[199].bindings).toEqual([`tcp://127.0.0.1:${plainPort}`, `tls://127.0.0.1:${tlsPort}`]);

  // One host of 200 disabled at run time: its name now gets the default host; the others keep theirs.
  await server.setIcsHostEnabled('t57', false);
  expect((await sClient(tlsPort, 'h57.test')).fingerprint).toBe(ids[0].fingerprint);
  expect((await sClient(tlsPort, 'h58.test')).fingerprint).toBe(ids[58].fingerprint);
});
