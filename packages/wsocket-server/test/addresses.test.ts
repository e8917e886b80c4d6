/**
 * A connection's addresses: read once at accept (the local one taken from the
 * listener when it is bound to one address), identical to what the system
 * reports to the peer, the same in ConnectionInfo and on the client, and still
 * readable after the connection is gone, also after the peer reset it.
 *
 * Loopback only (127.0.0.0/8, ::1), port 0.
 */
import { once } from 'node:events';
import type * as net from 'node:net';
import { injectable } from 'tsyringe';
import { DevIdentity, createDevCertificate } from '@ics-ts/ssl-context';
import { ConnectionInfo, TWSocketClient, TWSocketServer } from '@ics-ts/wsocket-server';
import { connectClient, disconnects, startServer } from './helpers';
import { connectTls } from './tls-peer';

@injectable()
class InfoClient extends TWSocketClient {
  constructor(readonly info: ConnectionInfo) {
    super({ lineMode: true });
  }
}

type Facts = [peerAddrRaw: string, peerPort: number, localAddrRaw: string, localPort: number];

function clientFacts(client: InfoClient): Facts {
  return [client.peerAddrRaw, client.peerPort, client.localAddrRaw, client.localPort];
}

function infoFacts(info: ConnectionInfo): Facts {
  return [info.peerAddrRaw, info.peerPort, info.localAddrRaw, info.localPort];
}

/** What the peer's own socket says, seen from the server side (peer's local = server's remote). */
function seenByPeer(socket: net.Socket, mapped: boolean): Facts {
  const map = (address: string) => (mapped ? `::ffff:${address}` : address);
  return [map(socket.localAddress!), socket.localPort!, map(socket.remoteAddress!), socket.remotePort!];
}

describe('connection addresses', () => {
  const cases: { listen: string; connect: string; mapped: boolean }[] = [
    { listen: '127.0.0.2', connect: '127.0.0.2', mapped: false },
    { listen: '::1', connect: '::1', mapped: false },
    { listen: '0.0.0.0', connect: '127.0.0.3', mapped: false },
    { listen: '::', connect: '::1', mapped: false },
    { listen: '::', connect: '127.0.0.2', mapped: true },
  ];

  test.each(cases)('listening on $listen, connecting to $connect: as the system reports them', async ({ listen, connect, mapped }) => {
    const server = await startServer({ addr: listen, clientClass: InfoClient });
    const { peer, client } = await connectClient(server, connect);
    const expected = seenByPeer(peer.socket, mapped);
    expect(clientFacts(client)).toEqual(expected);
    expect(infoFacts(client.info)).toEqual(expected);
    expect(client.peerAddr).toBe(peer.socket.localAddress);
    expect(client.localAddr).toBe(connect);
    expect(client.info.localAddr).toBe(connect);
  });

  test('kept after the peer reset the connection (read in clientDisconnect and after)', async () => {
    const server = await startServer({ addr: '0.0.0.0', clientClass: InfoClient });
    const { peer, client } = await connectClient(server, '127.0.0.3');
    const expected = seenByPeer(peer.socket, false);
    const inDisconnect: { facts: Facts; error: Error | undefined }[] = [];
    server.on('clientDisconnect', (gone, error) => inDisconnect.push({ facts: clientFacts(gone), error }));
    const gone = disconnects(server, 1);
    peer.socket.resetAndDestroy();
    await gone;
    expect(inDisconnect).toEqual([{ facts: expected, error: expect.objectContaining({ code: 'ECONNRESET' }) }]);
    expect(clientFacts(client)).toEqual(expected);
    expect(client.localAddr).toBe('127.0.0.3');
  });

  test('over TLS on a wildcard listener: the same facts, the peer address read once at the handshake', async () => {
    const dev: DevIdentity = await createDevCertificate({ names: ['localhost'] });
    const server = await startServer({
      addr: '0.0.0.0',
      clientClass: InfoClient,
      sslEnable: true,
      sslContext: { sslCert: dev.cert, sslKey: dev.key },
    });
    const { peer, client } = await connectTls(server, server.bindPort, { host: '127.0.0.2' });
    const expected = seenByPeer(peer.socket, false);
    expect(clientFacts(client)).toEqual(expected);
    expect(client.localAddr).toBe('127.0.0.2');
    peer.socket.destroy();
    await once(client, 'sessionClosed');
    expect(clientFacts(client)).toEqual(expected); // Node's own socket forgets its local address at close

  });

  test('a standalone client-side TWSocket reads its addresses when connected', async () => {
    const server: TWSocketServer = await startServer({ addr: '127.0.0.2' });
    const connected = once(server, 'clientConnect') as Promise<[TWSocketClient]>;
    const wsocket = new TWSocketClient();
    await wsocket.connect('127.0.0.2', server.bindPort);
    const [serverSide] = await connected;
    expect([wsocket.localAddrRaw, wsocket.localPort]).toEqual([serverSide.peerAddrRaw, serverSide.peerPort]);
    expect([wsocket.peerAddrRaw, wsocket.peerPort]).toEqual(['127.0.0.2', server.bindPort]);
    wsocket.abort();
  });
});

