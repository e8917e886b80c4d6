import { once } from 'node:events';
import { TWSocket } from '../src';
import { Loopback, Received, Recorder, portOf } from './helpers';

const loop = new Loopback();
afterEach(() => loop.dispose());

const BIG = 16 * 1024 * 1024;

/** Each 4-byte word holds its own index, so a lost, repeated or swapped block would show. */
function pattern(length: number): Buffer {
  const words = new Uint32Array(length / 4);
  for (let i = 0; i < words.length; i++) words[i] = i;
  return Buffer.from(words.buffer);
}

describe('send', () => {
  test('send, sendStr and sendLine reach the peer in order', async () => {
    const { wsocket, peer } = await loop.pair(new TWSocket());
    const received = new Received(peer);
    expect(wsocket.send(Buffer.from('a'))).toBe(true);
    expect(wsocket.send(new Uint8Array([0x62]))).toBe(true);
    expect(wsocket.sendStr('c')).toBe(true);
    expect(wsocket.sendLine('d')).toBe(true);
    await received.untilText('d\r\n');
    expect(received.text).toBe('abcd\r\n');
  });

  test('on a TWSocket never opened, sending returns false and does not throw', () => {
    const wsocket = new TWSocket();
    expect(wsocket.send('x')).toBe(false);
    expect(wsocket.sendLine('x')).toBe(false);
  });

  test('on a closed connection, sending returns false and does not throw', async () => {
    const { wsocket, peer } = await loop.pair(new TWSocket());
    peer.end();
    await once(wsocket, 'sessionClosed');
    expect(wsocket.send('x')).toBe(false);
    expect(wsocket.sendStr('x')).toBe(false);
    expect(wsocket.sendLine('x')).toBe(false);
  });

  test('after close() and after abort(), sending returns false', async () => {
    const closing = await loop.pair(new TWSocket());
    closing.wsocket.close();
    expect(closing.wsocket.send('x')).toBe(false);
    const aborted = await loop.pair(new TWSocket());
    aborted.wsocket.abort();
    expect(aborted.wsocket.sendLine('x')).toBe(false);
  });
});

describe('drained and dataSent', () => {
  test('a big send returns false; drained() resolves once it was handed over; dataSent fires', async () => {
    const wsocket = new TWSocket();
    const sent = new Recorder<string>(wsocket, 'dataSent', () => 'dataSent');
    const { peer } = await loop.pair(wsocket);
    const received = new Received(peer);
    const data = pattern(BIG);
    expect(wsocket.send(data)).toBe(false);
    expect(wsocket.bufferedBytes).toBeGreaterThan(0);
    await wsocket.drained();
    expect(wsocket.bufferedBytes).toBe(0);
    expect(await sent.count(1)).toEqual(['dataSent']);
    await received.untilBytes(BIG);
    expect(received.bytes.equals(data)).toBe(true);
  });

  test('drained() resolves at once when nothing is pending', async () => {
    const { wsocket } = await loop.pair(new TWSocket());
    await wsocket.drained();
    await new TWSocket().drained();
  });

  test('drained() also resolves for a small send that never filled the buffer (no drain event)', async () => {
    const server = await loop.listen((socket) => socket.resume());
    const client = loop.own(new TWSocket());
    const connecting = client.connect('127.0.0.1', portOf(server));
    // Queued while connecting: buffered, yet under the high-water mark.
    expect(client.send(Buffer.alloc(1000))).toBe(true);
    expect(client.bufferedBytes).toBe(1000);
    const drained = client.drained();
    await connecting;
    await drained;
    expect(client.bufferedBytes).toBe(0);
  });

  test('drained() resolves when the connection closes with data still pending', async () => {
    const { wsocket, peer } = await loop.pair(new TWSocket());
    peer.pause();
    wsocket.send(Buffer.alloc(BIG));
    const drained = wsocket.drained();
    wsocket.abort();
    await drained;
  });
});

describe('closing with data pending', () => {
  test('close() right after a big send: the peer receives every byte, then the end', async () => {
    const { wsocket, peer } = await loop.pair(new TWSocket());
    const received = new Received(peer);
    const data = pattern(BIG);
    wsocket.send(data);
    wsocket.close();
    const all = await received.untilEnd();
    expect(all.length).toBe(BIG);
    expect(all.equals(data)).toBe(true);
    peer.end();
    await once(wsocket, 'sessionClosed');
  });

  test('abort() drops what is pending: the peer gets less than was sent', async () => {
    const { wsocket, peer } = await loop.pair(new TWSocket());
    const received = new Received(peer);
    // Far more than loopback socket buffers hold, so most of it is still ours when we abort.
    const huge = 4 * BIG;
    wsocket.send(Buffer.alloc(huge));
    wsocket.abort();
    await received.untilEnd();
    expect(received.byteCount).toBeLessThan(huge);
  });
});
