/**
 * server.stats() with real traffic: every counter made to move by what a
 * peer does (admitted, refused for each reason, handshakes done and failed
 * by reason, peaks, bytes in, out and queued, aborts, exceptions), read back
 * for the server and per listener; hosts with their certificate and last
 * recheck; the admin option wired to the server's own stats and actions.
 */
import { once } from 'node:events';
import * as net from 'node:net';
import { createDevCertificate } from '@ics-ts/ssl-context';
import { TWSocketClient, TWSocketServer, REFUSAL_REASONS, HANDSHAKE_FAILURE_REASONS } from '@ics-ts/wsocket-server';
import type { ServerStats } from '@ics-ts/wsocket-server';
import { EchoClient, Peer, connectClient, disconnects, startServer, track } from './helpers';
import { TlsPeer, connectTls } from './tls-peer';
import { freePorts } from './fixtures/ics-hosts-support';

/** An echo client that throws on the line `boom` (client code failing: bgException, aborted). */
class FragileClient extends EchoClient {
  protected override onLine(line: string): void {
    if (line === 'boom') throw new Error('boom');
    super.onLine(line);
  }
}

/** Line mode with a short idleTimeout: a silent peer meets it. */
class IdleBoundClient extends TWSocketClient {
  constructor() {
    super({ lineMode: true, idleTimeout: 300 });
  }
}

/** Line mode with a short lineTimeout (and no idle one): a peer that never ends its line meets it. */
class LineBoundClient extends TWSocketClient {
  constructor() {
    super({ lineMode: true, idleTimeout: 0, lineTimeout: 300 });
  }
}

/** A raw connection from a chosen loopback source address; resolves when the server closed it. */
async function connectFrom(localAddress: string, port: number): Promise<string> {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  let got = '';
  socket.on('data', (d: Buffer) => (got += d.toString()));
  socket.on('error', () => undefined);
  await once(socket, 'close');
  return got;
}

function sum(record: Record<string, number>): number {
  return Object.values(record).reduce((a, b) => a + b, 0);
}

describe('server.stats() with real traffic', () => {
  test('plain listeners: admitted, every refusal reason, peaks, bytes, queued, aborts, exceptions', async () => {
    const server = await startServer<TWSocketClient>({
      banner: 'hi',
      clientClass: FragileClient,
      maxClients: 4,
      deny: ['127.0.0.2'],
      acceptFilter: (peer) => (peer.peerAddr === '127.0.0.3' ? 'no peers from .3' : true),
      multiListenSockets: [{ addr: '127.0.0.1', port: 0, maxClientsPerIp: 1 }],
    });
    const exceptions: unknown[] = [];
    server.on('bgException', (error) => exceptions.push(error));
    const mainPort = server.bindPort;
    const otherPort = server.listenSockets[1].bindPort;

    // maxClientsPerIp counts an address's clients on the whole server: this listener's peer comes first.
    const b = await connectClient(server, '127.0.0.1', {}, otherPort);
    await b.peer.nextLine();
    // A second peer from the same address on the listener with maxClientsPerIp 1.
    const perIp = await Peer.connect(otherPort);
    expect(await perIp.nextLine()).toBe('Sorry, too many clients');
    await perIp.closed;
    const a = await connectClient(server);
    expect(await a.peer.nextLine()).toBe('hi');
    expect(await a.peer.ask('hello there')).toBe('echo hello there');
    expect(await connectFrom('127.0.0.2', mainPort)).toBe(''); // deny: closed, no byte sent
    expect(await connectFrom('127.0.0.3', mainPort)).toBe(''); // filter
    const c = await connectClient(server);
    const d = await connectClient(server);
    const full = await Peer.connect(mainPort); // the fifth: maxClients 4
    expect(await full.nextLine()).toBe('Sorry, too many clients');
    await full.closed;

    // A peer that does not read while its client sends: bytes queue up.
    d.peer.socket.pause();
    d.client.send(Buffer.alloc(8 * 1024 * 1024, 0x61));
    const queuedNow = d.client.bufferedBytes;
    expect(queuedNow).toBeGreaterThan(0);

    const peak = server.stats();
    expect(peak.state).toBe('listening');
    expect(peak.totals.clientsNow).toBe(4);
    expect(peak.totals.clientsPeak).toBe(4);
    expect(peak.totals.bytesQueued).toBe(server.clients.reduce((n, cl) => n + cl.bufferedBytes, 0));
    expect(peak.totals.bytesQueued).toBeGreaterThan(0);
    expect(peak.clients.find((row) => row.cliId === d.client.cliId)!.queued).toBe(d.client.bufferedBytes);

    // Take two away: one by disconnect(), one by its own exception.
    const gone = disconnects(server, 2);
    await server.disconnect(c.client);
    a.peer.socket.write('boom\r\n');
    await gone;
    expect(exceptions).toHaveLength(1);

    const stats = server.stats();
    const t = stats.totals;
    expect(Object.keys(t.refused).sort()).toEqual([...REFUSAL_REASONS].sort()); // every reason, moved or not
    expect(t.refused).toMatchObject({ deny: 1, filter: 1, perIp: 1, maxClients: 1, maxConnections: 0, notAllowed: 0 });
    expect(t.admitted).toBe(4);
    expect(t.accepted).toBe(t.admitted + sum(t.refused));
    expect(t.accepted).toBe(8);
    expect(t.clientsNow).toBe(2);
    expect(t.clientsPeak).toBe(4);
    expect(t.aborts).toBe(2);
    expect(t.bgExceptions).toBe(1);
    expect(t.handshakesDone).toBe(0);
    expect(sum(t.handshakesFailed)).toBe(0);
    // Bytes: what the peers sent and received, the closed clients' included.
    const sentByPeers = 'hello there\r\n'.length + 'boom\r\n'.length;
    expect(t.bytesIn).toBe(sentByPeers);
    expect(t.bytesOut).toBeGreaterThanOrEqual(4 * 'hi\r\n'.length + 'echo hello there\r\n'.length);
    expect(t.bytesOut).toBe(stats.listeners[0].bytesOut + stats.listeners[1].bytesOut);

    const [main, other] = stats.listeners;
    expect([main.index, other.index]).toEqual([-1, 0]);
    expect(main).toMatchObject({ accepted: 6, admitted: 3, clientsNow: 1, clientsPeak: 3, aborts: 2, bgExceptions: 1, state: 'listening', tls: false });
    expect(main.refused).toMatchObject({ deny: 1, filter: 1, maxClients: 1, perIp: 0 });
    expect(other).toMatchObject({ accepted: 2, admitted: 1, clientsNow: 1, clientsPeak: 1, aborts: 0 });
    expect(other.refused.perIp).toBe(1);
    expect(main.url).toBe(`tcp://127.0.0.1:${mainPort}`);
    expect(stats.clients.map((row) => row.cliId)).toEqual(server.clients.map((cl) => cl.cliId));
    expect(stats.clients.map((row) => [row.listener, row.peerPort])).toEqual([
      [0, b.peer.localPort],
      [-1, d.peer.localPort],
    ]);
    expect(stats.clients.map((row) => row.peerAddr)).toEqual(['127.0.0.1', '127.0.0.1']);
    expect(stats.hosts).toEqual([]);
    expect(JSON.parse(JSON.stringify(stats))).toEqual(stats); // plain JSON data
  });

  test('TLS: handshakes done and failed by reason, per listener; hosts with certificate and last recheck', async () => {
    const [tlsPort, plainPort] = await freePorts('127.0.0.1', 2);
    const www = await createDevCertificate({ names: ['localhost'], days: 40 });
    const server = track(
      new TWSocketServer<TWSocketClient>({
        sniUnknown: 'refuse',
        sslHandshakeTimeout: 300,
        clientClass: EchoClient,
        icsHosts: [{ hostTag: 'www', hostNames: ['localhost'], bindIpAddr: '127.0.0.1', bindSslPort: tlsPort, bindNonPort: plainPort, sslCert: www.cert, sslKey: www.key }],
      }),
    );
    await server.listen();
    const failures: string[] = [];
    server.on('sslHandshakeError', (f) => failures.push(f.reason));

    const ok = await connectTls(server, tlsPort, { servername: 'localhost' });
    expect(await ok.peer.ask('secure')).toBe('echo secure');
    await connectClient(server, '127.0.0.1', {}, plainPort);
    const unknown = await TlsPeer.attempt(tlsPort, { servername: 'other.example' });
    expect(unknown.secure).toBe(false);
    const garbage = await Peer.connect(tlsPort);
    garbage.send('GET / HTTP/1.0\r\n\r\n');
    await garbage.closed;
    const silent = await Peer.connect(tlsPort); // says nothing: the handshake deadline ends it
    await silent.closed;
    expect(failures.sort()).toEqual(['protocol', 'sni', 'timeout']);

    server.recheckSslCerts();
    const stats: ServerStats = server.stats();
    expect(stats.totals.handshakesDone).toBe(1);
    expect(Object.keys(stats.totals.handshakesFailed).sort()).toEqual([...HANDSHAKE_FAILURE_REASONS].sort());
    expect(stats.totals.handshakesFailed).toMatchObject({ sni: 1, protocol: 1, timeout: 1, closed: 0 });
    expect(stats.totals.accepted).toBe(5);
    expect(stats.totals.admitted).toBe(2);
    const tls = stats.listeners.find((l) => l.tls)!;
    const plain = stats.listeners.find((l) => !l.tls)!;
    expect(tls).toMatchObject({ url: `tls://127.0.0.1:${tlsPort}`, accepted: 4, admitted: 1, handshakesDone: 1, clientsNow: 1 });
    expect(tls.handshakesFailed).toMatchObject({ sni: 1, protocol: 1, timeout: 1 });
    expect(plain).toMatchObject({ accepted: 1, admitted: 1, handshakesDone: 0 });
    expect(sum(plain.handshakesFailed)).toBe(0);
    // Application bytes: the line and its echo, not the TLS records that carried them.
    expect([tls.bytesIn, tls.bytesOut]).toEqual(['secure\r\n'.length, 'echo secure\r\n'.length]);
    expect([plain.bytesIn, plain.bytesOut]).toEqual([0, 0]);

    expect(stats.hosts).toHaveLength(1);
    const host = stats.hosts[0];
    expect(host).toMatchObject({ hostTag: 'www', hostNames: ['localhost'], connections: 2, certSubject: 'localhost' });
    expect(host.certDaysLeft).toBeGreaterThanOrEqual(39);
    expect(host.certDaysLeft).toBeLessThanOrEqual(40);
    expect(Date.parse(host.certNotAfter!)).toBe(new Date(server.icsHosts[0].sslContext!.facts.notAfter).getTime());
    expect(host.lastRecheck).toMatchObject({ ok: true });
    expect(stats.clients.every((row) => row.hostTag === 'www')).toBe(true);
  });

  test('idle and line timeouts, counted by the code the client was closed with', async () => {
    const server = await startServer<TWSocketClient>({
      clientClass: IdleBoundClient,
      multiListenSockets: [{ addr: '127.0.0.1', port: 0, clientClass: LineBoundClient }],
    });
    const bothGone = disconnects(server, 2);
    const silent = await connectClient(server);
    const dripping = await connectClient(server, '127.0.0.1', {}, server.listenSockets[1].bindPort);
    dripping.peer.send('a line that never ends');
    await Promise.all([silent.peer.closed, dripping.peer.closed, bothGone]);
    expect((silent.client.lastError as NodeJS.ErrnoException).code).toBe('ICS_ERR_IDLE_TIMEOUT');
    expect((dripping.client.lastError as NodeJS.ErrnoException).code).toBe('ICS_ERR_LINE_TIMEOUT');
    const stats = server.stats();
    expect(stats.totals).toMatchObject({ idleTimeouts: 1, lineTimeouts: 1, clientsNow: 0, admitted: 2, aborts: 0 });
    expect(stats.listeners.map((l) => [l.idleTimeouts, l.lineTimeouts])).toEqual([
      [1, 0],
      [0, 1],
    ]);
    expect(stats.totals.bytesIn).toBe('a line that never ends'.length); // the closed client's bytes stay counted
  });

  test('a peer that does not read: bytes queue up, then the send limit aborts it (counted as an abort)', async () => {
    const server = await startServer({ clientClass: EchoClient });
    const gone = disconnects(server, 1);
    const { peer, client } = await connectClient(server);
    peer.socket.pause();
    client.send(Buffer.alloc(4 * 1024 * 1024, 0x62)); // one send past sendLimit (1 MiB) is taken...
    expect(server.stats().totals.bytesQueued).toBe(client.bufferedBytes);
    expect(client.bufferedBytes).toBeGreaterThan(1024 * 1024);
    client.send('more'); // ...the next one aborts
    await gone;
    expect((client.lastError as NodeJS.ErrnoException).code).toBe('ICS_ERR_SEND_LIMIT');
    const stats = server.stats();
    expect(stats.totals).toMatchObject({ aborts: 1, clientsNow: 0, bytesQueued: 0, idleTimeouts: 0 });
  });

  test('idle and connected times; maxClients bounds the rows; bad requests named', async () => {
    const server = await startServer({ clientClass: EchoClient });
    const { peer, client } = await connectClient(server);
    const first = server.stats().clients[0];
    // Nothing moved yet: idle since the connect.
    expect(first.idleMs).toBe(first.connectedMs);
    expect(await peer.ask('x')).toBe('echo x');
    const after = server.stats().clients[0];
    expect(after.cliId).toBe(client.cliId);
    expect(after.idleMs).toBe(0); // bytes moved since the last snapshot: active as of this one
    expect(after.connectedMs).toBeGreaterThanOrEqual(first.connectedMs);
    await connectClient(server);
    const bounded = server.stats({ maxClients: 1 });
    expect(bounded.clients).toHaveLength(1);
    expect(bounded.clientsOmitted).toBe(1);
    expect(bounded.totals.clientsNow).toBe(2);
    expect(server.stats({ maxClients: 0 }).clients).toEqual([]);
    expect(() => server.stats({ maxClients: -1 })).toThrow(new RangeError('TWSocketServer: stats() maxClients must be an integer >= 0, got -1'));
    expect(() => server.stats(null as never)).toThrow(TypeError);
  });
});

describe('the admin option', () => {
  const TOKEN = 'server-token-0123456789';

  test('opened by listen, serves this server, outlives close() (reopen from it), closed by shutdown', async () => {
    const server = await startServer({ clientClass: EchoClient, admin: { port: 0, token: TOKEN } });
    expect(server.adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const url = server.adminUrl;
    const { peer } = await connectClient(server);
    await peer.ask('x');
    const stats = (await (await fetch(`${url}/stats`)).json()) as ServerStats;
    expect(stats.totals.clientsNow).toBe(1);
    expect(stats.totals.bytesIn).toBe(server.stats().totals.bytesIn);
    expect(await (await fetch(`${url}/metrics`)).text()).toContain('ics_ts_clients 1\n');

    await server.close();
    expect(server.state).toBe('closed');
    const reopen = await fetch(`${url}/listeners/-1/open`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(reopen.status).toBe(200);
    expect(server.state).toBe('listening');

    const gone = disconnects(server, 1);
    const cut = await fetch(`${url}/clients/${server.clients[0].cliId}/disconnect`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(cut.status).toBe(200);
    await gone;
    expect(server.stats().totals.aborts).toBe(1);

    await server.shutdown(1000);
    expect(server.adminUrl).toBe('');
    await expect(fetch(`${url}/stats`)).rejects.toThrow();
  });

  test('bad admin options are named like the server options; a taken port fails listen()', async () => {
    expect(() => new TWSocketServer({ admin: { port: -1 } })).toThrow(new RangeError('TWSocketServer: option admin.port must be an integer from 0 to 65535, got -1'));
    expect(() => new TWSocketServer({ admin: { port: 0, addr: '0.0.0.0' } })).toThrow(/TWSocketServer: option admin: addr "0.0.0.0" is not a loopback address/);
    const squatter = net.createServer();
    squatter.listen(0, '127.0.0.1');
    await once(squatter, 'listening');
    const port = (squatter.address() as net.AddressInfo).port;
    try {
      const server = track(new TWSocketServer({ addr: '127.0.0.1', port: 0, admin: { port } }));
      await expect(server.listen()).rejects.toMatchObject({ code: 'EADDRINUSE', message: expect.stringMatching(/^TWSocketServer: admin listener 127\.0\.0\.1:\d+: /) });
      expect(server.state).toBe('closed');
    } finally {
      squatter.close();
    }
  });
});
