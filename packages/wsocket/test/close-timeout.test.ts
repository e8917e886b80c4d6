import { once } from 'node:events';
import { TWSocket } from '../src';
import { Loopback } from './helpers';

const loop = new Loopback();
afterEach(() => loop.dispose());

describe('closeTimeout', () => {
  test('a peer that never closes its side is dropped after the timeout, with ETIMEDOUT', async () => {
    const { wsocket, peer } = await loop.pair(new TWSocket({ closeTimeout: 100 }));
    peer.resume(); // reads our FIN but never ends its own side (allowHalfOpen)
    const closed = once(wsocket, 'sessionClosed');
    wsocket.close();
    expect(wsocket.state).toBe('closing');
    const [error] = (await closed) as [NodeJS.ErrnoException | undefined];
    expect(wsocket.state).toBe('closed');
    expect(wsocket.lastError?.message).toMatch(/close timed out after 100 ms/);
    expect((wsocket.lastError as NodeJS.ErrnoException).code).toBe('ETIMEDOUT');
    expect(error).toBe(wsocket.lastError);
  });

  test('a peer that closes in time ends cleanly (no error)', async () => {
    const { wsocket, peer } = await loop.pair(new TWSocket({ closeTimeout: 60_000 }));
    peer.on('end', () => peer.end());
    peer.resume();
    const closed = once(wsocket, 'sessionClosed');
    wsocket.close();
    const [error] = await closed;
    expect(error).toBeUndefined();
    expect(wsocket.lastError).toBeUndefined();
  });

  test('0 waits for ever: the connection stays closing until the peer closes', async () => {
    const { wsocket, peer } = await loop.pair(new TWSocket({ closeTimeout: 0 }));
    const peerSawEnd = once(peer, 'end');
    peer.resume();
    wsocket.close();
    await peerSawEnd;
    expect(wsocket.state).toBe('closing');
    const closed = once(wsocket, 'sessionClosed');
    peer.end();
    await closed;
    expect(wsocket.state).toBe('closed');
  });

  test('bad values are RangeErrors naming closeTimeout', () => {
    expect(() => new TWSocket({ closeTimeout: -1 })).toThrow(/closeTimeout/);
    expect(() => new TWSocket({ closeTimeout: 1.5 })).toThrow(RangeError);
    const w = new TWSocket();
    expect(() => (w.closeTimeout = -5)).toThrow(/closeTimeout/);
  });
});

describe('noDelay', () => {
  test('is applied to the socket at attach and when changed', async () => {
    const wsocket = new TWSocket({ noDelay: true });
    const calls: boolean[] = [];
    const { peer } = await loop.pair(wsocket);
    const socket = wsocket.rawSocket!;
    const original = socket.setNoDelay.bind(socket);
    socket.setNoDelay = (on?: boolean) => {
      calls.push(on ?? true);
      return original(on);
    };
    wsocket.noDelay = false;
    expect(calls).toEqual([false]);
    expect(wsocket.noDelay).toBe(false);
    peer.end();
  });

  test('noDelay must be a boolean', () => {
    expect(() => new TWSocket({ noDelay: 'yes' as unknown as boolean })).toThrow(/noDelay/);
  });
});
