import { once } from 'node:events';
import * as tls from 'node:tls';
import { DevIdentity, TSslContext, createDevCertificate } from '@ics-ts/ssl-context';
import { MultiListenItem, TWSocketServer } from '@ics-ts/wsocket-server';
import { EchoClient, track } from './helpers';
import { connectTo } from './fixtures/multi-listen-support';

/** A server whose multiListenSockets are a good item, then `bad` at index 1. */
function withSecondItem(bad: unknown): () => TWSocketServer {
  return () =>
    new TWSocketServer({
      addr: '127.0.0.1',
      multiListenSockets: [{ addr: '127.0.0.2', port: 0 }, bad as MultiListenItem],
    });
}

describe('multiListenSockets items are validated at construction, the message naming the entry', () => {
  test.each<[string, unknown, ErrorConstructor, RegExp]>([
    ['port 70000', { addr: '127.0.0.3', port: 70000 }, RangeError, /option multiListenSockets\[1\]\.port must be an integer in 0\.\.65535, got 70000/],
    ['port -1', { addr: '127.0.0.3', port: -1 }, RangeError, /multiListenSockets\[1\]\.port must be an integer in 0\.\.65535, got -1/],
    ['port 1.5', { addr: '127.0.0.3', port: 1.5 }, RangeError, /multiListenSockets\[1\]\.port/],
    ['port "70000"', { addr: '127.0.0.3', port: '70000' }, RangeError, /multiListenSockets\[1\]\.port must be an integer in 0\.\.65535/],
    ['no port', { addr: '127.0.0.3' }, TypeError, /multiListenSockets\[1\]\.port must be a port number or a service name, got undefined/],
    ['unknown service', { addr: '127.0.0.3', port: 'no-such-service' }, TypeError, /multiListenSockets\[1\]\.port: unknown service name "no-such-service"/],
    ['addr 1.2.3', { addr: '1.2.3', port: 0 }, TypeError, /option multiListenSockets\[1\]\.addr must be an IPv4 or IPv6 address literal, got "1\.2\.3"/],
    ['addr a host name', { addr: 'localhost', port: 0 }, TypeError, /multiListenSockets\[1\]\.addr must be an IPv4 or IPv6 address literal/],
    ['no addr', { port: 0 }, TypeError, /multiListenSockets\[1\]\.addr must be an IPv4 or IPv6 address literal, got undefined/],
    ['negative backlog', { addr: '127.0.0.3', port: 0, listenBacklog: -1 }, RangeError, /option multiListenSockets\[1\]\.listenBacklog must be an integer >= 0, got -1/],
    ['fractional backlog', { addr: '127.0.0.3', port: 0, listenBacklog: 2.5 }, RangeError, /multiListenSockets\[1\]\.listenBacklog/],
    ['unknown key', { addr: '127.0.0.3', port: 0, adress: '127.0.0.4' }, TypeError, /unknown option multiListenSockets\[1\]\.adress/],
    ['sslEnable without sslContext', { addr: '127.0.0.3', port: 0, sslEnable: true }, TypeError, /option multiListenSockets\[1\]\.sslEnable needs an sslContext \(on the item or on the server\)/],
    ['sslEnable not a boolean', { addr: '127.0.0.3', port: 0, sslEnable: 'yes' }, TypeError, /multiListenSockets\[1\]\.sslEnable must be a boolean, got "yes"/],
    ['ipv6Only not a boolean', { addr: '::', port: 0, ipv6Only: 1 }, TypeError, /multiListenSockets\[1\]\.ipv6Only must be a boolean, got 1/],
    ['socketFamily against addr', { addr: '127.0.0.3', port: 0, socketFamily: 'ipv6' }, TypeError, /multiListenSockets\[1\]\.socketFamily is "ipv6" but addr "127\.0\.0\.3" is ipv4/],
    ['socketFamily unknown', { addr: '127.0.0.3', port: 0, socketFamily: 'inet' }, TypeError, /multiListenSockets\[1\]\.socketFamily must be 'any', 'ipv4' or 'ipv6', got "inet"/],
    ['sslContext not a context', { addr: '127.0.0.3', port: 0, sslContext: 'cert.pem' }, TypeError, /multiListenSockets\[1\]\.sslContext must be a TSslContext or its options/],
    ['clientClass not a class', { addr: '127.0.0.3', port: 0, clientClass: 42 }, TypeError, /multiListenSockets\[1\]\.clientClass must be a TWSocketClient subclass or a registered name/],
    ['clientClass not a client', { addr: '127.0.0.3', port: 0, clientClass: class NotAClient {} }, TypeError, /multiListenSockets\[1\]\.clientClass: NotAClient does not extend TWSocketClient/],
    ['not an object', '127.0.0.3:23', TypeError, /option multiListenSockets\[1\] must be an object, got "127\.0\.0\.3:23"/],
    ['null', null, TypeError, /option multiListenSockets\[1\] must be an object, got null/],
  ])('%s', (_name, item, kind, message) => {
    const make = withSecondItem(item);
    expect(make).toThrow(kind);
    expect(make).toThrow(message);
  });

  test('multiListenSockets itself must be an array', () => {
    expect(
      () => new TWSocketServer({ multiListenSockets: { addr: '127.0.0.2', port: 0 } as unknown as MultiListenItem[] }),
    ).toThrow(/option multiListenSockets must be an array/);
  });

  test('good items: defaults from the server, nothing opened by construction', () => {
    const server = track(
      new TWSocketServer({
        addr: '127.0.0.1',
        listenBacklog: 7,
        multiListenSockets: [
          { addr: '::', port: 0, ipv6Only: true, socketFamily: 'any' },
          { addr: '127.0.0.2', port: 0, listenBacklog: 0 },
        ],
      }),
    );
    const [, v6, v4] = server.listenSockets;
    expect(v6.spec).toMatchObject({ index: 0, socketFamily: 'ipv6', ipv6Only: true, listenBacklog: 7, sslEnable: false });
    expect(v4.spec).toMatchObject({ index: 1, socketFamily: 'ipv4', ipv6Only: false, listenBacklog: 0 });
    expect(server.listenStates.map((s) => s.state)).toEqual(['closed', 'closed', 'closed']);
    expect(server.state).toBe('closed');
  });
});

describe('ports given as service names', () => {
  test("'telnet' is port 23 in listenStates without listening; numeric strings are numbers", () => {
    const server = track(
      new TWSocketServer({
        addr: '127.0.0.1',
        port: 'smtp',
        multiListenSockets: [
          { addr: '127.0.0.2', port: 'telnet' },
          { addr: '127.0.0.3', port: ' 2323 ' },
          { addr: '::1', port: 'TELNET' },
        ],
      }),
    );
    expect(server.port).toBe(25);
    expect(server.listenStates).toEqual([
      { index: -1, addr: '127.0.0.1', port: 25, bindPort: 0, tls: false, state: 'closed' },
      { index: 0, addr: '127.0.0.2', port: 23, bindPort: 0, tls: false, state: 'closed' },
      { index: 1, addr: '127.0.0.3', port: 2323, bindPort: 0, tls: false, state: 'closed' },
      { index: 2, addr: '::1', port: 23, bindPort: 0, tls: false, state: 'closed' },
    ]);
    expect(server.listenSockets.map((l) => l.url)).toEqual([
      'tcp://127.0.0.1:25',
      'tcp://127.0.0.2:23',
      'tcp://127.0.0.3:2323',
      'tcp://[::1]:23',
    ]);
    expect(server.listenStatesText()).toContain('#0    tcp 127.0.0.2 port 23: closed');
  });
});

describe('TLS on an item', () => {
  let identity: DevIdentity;
  let context: TSslContext;
  beforeAll(async () => {
    identity = await createDevCertificate({ names: ['localhost', '127.0.0.1', '::1'] });
    context = new TSslContext({ sslCert: identity.cert, sslKey: identity.key });
  });

  const tlsSockets = new Set<tls.TLSSocket>();
  afterEach(async () => {
    await Promise.all([...tlsSockets].map((s) => (s.closed ? undefined : (s.destroy(), once(s, 'close')))));
    tlsSockets.clear();
  });

  /** A TLS connection that trusts the dev certificate; resolves with the first line it receives. */
  async function tlsBanner(host: string, port: number): Promise<string> {
    const socket = tls.connect({ host, port, ca: identity.cert, servername: 'localhost' });
    tlsSockets.add(socket);
    socket.setEncoding('utf8');
    let text = '';
    while (!text.includes('\r\n')) {
      const [chunk] = (await once(socket, 'data')) as [string];
      text += chunk;
    }
    return text.slice(0, text.indexOf('\r\n'));
  }

  test('a plain main listener and TLS items (own context, server default): each client in the one list, TLS where asked', async () => {
    const server = track(
      new TWSocketServer<EchoClient>({
        addr: '127.0.0.1',
        port: 0,
        banner: 'hi',
        clientClass: EchoClient,
        sslContext: { sslCert: identity.cert, sslKey: identity.key },
        multiListenSockets: [
          { addr: '127.0.0.2', port: 0, sslEnable: true, sslContext: context },
          { addr: '::1', port: 0, sslEnable: true },
        ],
      }),
    );
    await server.listen();
    const [main, own, shared] = server.listenStates;
    expect([main.tls, own.tls, shared.tls]).toEqual([false, true, true]);
    const plain = await connectTo(server, '127.0.0.1', main.bindPort);
    expect(await plain.peer.nextLine()).toBe('hi');
    const connected: EchoClient[] = [];
    server.on('clientConnect', (client) => connected.push(client));
    expect(await tlsBanner('127.0.0.2', own.bindPort)).toBe('hi');
    expect(await tlsBanner('::1', shared.bindPort)).toBe('hi');
    expect(server.clients).toEqual([plain.client, ...connected]);
    expect(server.clients.map((c) => [c.multiListenIndex, c.sslEnabled, c.localAddr])).toEqual([
      [-1, false, '127.0.0.1'],
      [0, true, '127.0.0.2'],
      [1, true, '::1'],
    ]);
    expect(connected.map((c) => c.tls?.serverName)).toEqual(['localhost', 'localhost']);
  });

  test("sslEnable with the server's sslContext or the item's own: listenStates says TLS, plain items do not", () => {
    const server = track(
      new TWSocketServer({
        addr: '127.0.0.1',
        sslContext: context,
        multiListenSockets: [
          { addr: '127.0.0.2', port: 0, sslEnable: true },
          { addr: '127.0.0.3', port: 0 },
          { addr: '::1', port: 0, sslEnable: true, sslContext: context },
        ],
      }),
    );
    // The main listener has sslEnable false: the server's context is only the items' default.
    expect(server.listenStates.map((s) => s.tls)).toEqual([false, true, false, true]);
    expect(server.listenSockets.map((l) => l.spec.sslContext)).toEqual([undefined, context, undefined, context]);
    expect(server.listenSockets[1].url).toBe('tls://127.0.0.2:0');
    expect(server.listenStatesText().split('\n')[1]).toBe('#0    tls 127.0.0.2 port 0: closed');
  });
});
