import { once } from 'node:events';
import { SocketState, TWSocket } from '../src';
import { Loopback, Received, Recorder, portOf } from './helpers';

const loop = new Loopback();
afterEach(() => loop.dispose());

function transitions(wsocket: TWSocket): Recorder<string> {
  return new Recorder<string>(wsocket, 'changeState', (state: SocketState, previous: SocketState) => `${previous}->${state}`);
}

describe('TWSocket states, client side', () => {
  test('connecting -> connected -> closing -> closed when we close', async () => {
    const server = await loop.listen((socket) => socket.resume().on('end', () => socket.end()));
    const client = loop.own(new TWSocket());
    const states = transitions(client);
    const events = new Recorder<string>(client, 'sessionConnected', () => 'sessionConnected');
    expect(client.state).toBe('closed');
    const connecting = client.connect('127.0.0.1', portOf(server));
    expect(client.state).toBe('connecting');
    await connecting;
    expect(client.state).toBe('connected');
    expect(events.values).toEqual(['sessionConnected']);
    client.close();
    expect(client.state).toBe('closing');
    const [error] = await once(client, 'sessionClosed');
    expect(error).toBeUndefined();
    expect(client.state).toBe('closed');
    expect(states.values).toEqual(['closed->connecting', 'connecting->connected', 'connected->closing', 'closing->closed']);
  });

  test('connected -> closed when the server closes first', async () => {
    const server = await loop.listen((socket) => socket.end('bye\r\n'));
    const client = loop.own(new TWSocket({ lineMode: true }));
    const states = transitions(client);
    const lines = new Recorder<string>(client, 'line');
    await client.connect('127.0.0.1', portOf(server));
    await once(client, 'sessionClosed');
    expect(lines.values).toEqual(['bye']);
    expect(states.values).toEqual(['closed->connecting', 'connecting->connected', 'connected->closed']);
  });
});

describe('TWSocket states, server side', () => {
  test('attach makes it connected and calls onSessionConnected', async () => {
    const wsocket = new TWSocket();
    const states = transitions(wsocket);
    const connected = new Recorder<string>(wsocket, 'sessionConnected', () => 'yes');
    await loop.pair(wsocket);
    expect(wsocket.state).toBe('connected');
    expect(states.values).toEqual(['closed->connected']);
    expect(connected.values).toEqual(['yes']);
  });

  test('connected -> closed when the peer closes', async () => {
    const wsocket = new TWSocket();
    const states = transitions(wsocket);
    const { peer } = await loop.pair(wsocket);
    peer.end();
    const [error] = await once(wsocket, 'sessionClosed');
    expect(error).toBeUndefined();
    expect(states.values).toEqual(['closed->connected', 'connected->closed']);
  });

  test('connected -> closing -> closed when we close; the peer sees the end', async () => {
    const wsocket = new TWSocket();
    const states = transitions(wsocket);
    const { peer } = await loop.pair(wsocket);
    const received = new Received(peer);
    wsocket.close();
    await received.untilEnd();
    peer.end();
    await once(wsocket, 'sessionClosed');
    expect(states.values).toEqual(['closed->connected', 'connected->closing', 'closing->closed']);
  });

  test('closing twice, or after close, changes nothing', async () => {
    const wsocket = new TWSocket();
    const states = transitions(wsocket);
    const { peer } = await loop.pair(wsocket);
    wsocket.close();
    wsocket.close();
    peer.end();
    await once(wsocket, 'sessionClosed');
    wsocket.close();
    wsocket.abort();
    expect(states.values).toEqual(['closed->connected', 'connected->closing', 'closing->closed']);
  });

  test('attaching a second socket is refused', async () => {
    const { wsocket, peer } = await loop.pair(new TWSocket());
    expect(() => wsocket.attach(peer)).toThrow(/already has a socket/);
    await expect(wsocket.connect('127.0.0.1', 1)).rejects.toThrow(/already has a socket/);
  });
});

describe('TWSocket facts', () => {
  test('peer and local address and port, still readable after close', async () => {
    const { wsocket, peer, server } = await loop.pair(new TWSocket());
    const expected = { peerAddr: '127.0.0.1', peerPort: peer.localPort, localAddr: '127.0.0.1', localPort: portOf(server) };
    const facts = () => ({ peerAddr: wsocket.peerAddr, peerPort: wsocket.peerPort, localAddr: wsocket.localAddr, localPort: wsocket.localPort });
    expect(facts()).toEqual(expected);
    peer.end();
    await once(wsocket, 'sessionClosed');
    expect(facts()).toEqual(expected);
  });

  test('client side: peer is the server, local is our end', async () => {
    const server = await loop.listen((socket) => socket.resume());
    const client = loop.own(new TWSocket());
    await client.connect('127.0.0.1', portOf(server));
    expect(client.peerAddr).toBe('127.0.0.1');
    expect(client.peerPort).toBe(portOf(server));
    expect(client.localPort).toBe(client.rawSocket!.localPort);
  });

  test('a peer on an IPv4-mapped listener reads as plain IPv4; peerAddrRaw keeps the mapped form', async () => {
    const { wsocket } = await loop.pair(new TWSocket(), '::ffff:127.0.0.1');
    expect(wsocket.peerAddrRaw).toBe('::ffff:127.0.0.1');
    expect(wsocket.peerAddr).toBe('127.0.0.1');
    expect(wsocket.localAddr).toBe('127.0.0.1');
  });

  test('bytesReceived and bytesSent count what crossed the wire, and stay after close', async () => {
    const wsocket = new TWSocket({ lineMode: true });
    const lines = new Recorder<string>(wsocket, 'line');
    const { peer } = await loop.pair(wsocket);
    const received = new Received(peer);
    expect([wsocket.bytesReceived, wsocket.bytesSent]).toEqual([0, 0]);
    peer.write('12345\r\n');
    await lines.count(1);
    wsocket.sendLine('abc');
    await received.untilBytes(5);
    expect([wsocket.bytesReceived, wsocket.bytesSent]).toEqual([7, 5]);
    peer.end('xyz');
    await once(wsocket, 'sessionClosed');
    expect([wsocket.bytesReceived, wsocket.bytesSent]).toEqual([10, 5]);
  });

  test('a TWSocket never opened reads as closed, with empty facts', () => {
    const wsocket = new TWSocket();
    expect(wsocket.state).toBe('closed');
    expect([wsocket.peerAddr, wsocket.peerPort, wsocket.localAddr, wsocket.localPort]).toEqual(['', 0, '', 0]);
    expect([wsocket.bytesReceived, wsocket.bytesSent, wsocket.bufferedBytes]).toEqual([0, 0, 0]);
    expect(wsocket.rawSocket).toBeUndefined();
    expect(wsocket.lastError).toBeUndefined();
  });
});
