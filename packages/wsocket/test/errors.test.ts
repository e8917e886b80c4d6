import { once } from 'node:events';
import { TWSocket } from '../src';
import { Loopback, Received, Recorder, closedPort, portOf, serverReceived } from './helpers';

const loop = new Loopback();
afterEach(() => loop.dispose());

describe('an exception inside a handler', () => {
  test('thrown by onLine: goes to bgException, the connection is aborted, later lines are not delivered', async () => {
    const failure = new Error('onLine failed');
    class Fragile extends TWSocket {
      protected override onLine(line: string): void {
        super.onLine(line);
        if (line === 'boom') throw failure;
      }
    }
    const wsocket = new Fragile({ lineMode: true });
    const errors = new Recorder<unknown>(wsocket, 'bgException');
    const lines = new Recorder<string>(wsocket, 'line');
    const { peer } = await loop.pair(wsocket);
    const received = new Received(peer);
    const closed = once(wsocket, 'sessionClosed');
    peer.write('one\r\nboom\r\nthree\r\npartial');
    await closed;
    await received.untilEnd();
    expect(errors.values).toEqual([failure]);
    expect(lines.values).toEqual(['one', 'boom']);
    expect(wsocket.state).toBe('closed');
  });

  test('thrown by onData: the same', async () => {
    class Fragile extends TWSocket {
      protected override onData(): void {
        throw new Error('onData failed');
      }
    }
    const wsocket = new Fragile();
    const errors = new Recorder<Error>(wsocket, 'bgException');
    const { peer } = await loop.pair(wsocket);
    const closed = once(wsocket, 'sessionClosed');
    peer.write('x');
    await closed;
    expect(errors.values.map((e) => e.message)).toEqual(['onData failed']);
  });

  test('thrown by the final line handler: reported, and sessionClosed still follows', async () => {
    class Fragile extends TWSocket {
      protected override onLine(): void {
        throw new Error('final line failed');
      }
    }
    const wsocket = new Fragile({ lineMode: true });
    const errors = new Recorder<Error>(wsocket, 'bgException');
    const { peer } = await loop.pair(wsocket);
    const closed = once(wsocket, 'sessionClosed');
    peer.end('no line end');
    await closed;
    expect(errors.values.map((e) => e.message)).toEqual(['final line failed']);
  });

  test('thrown by onSessionConnected: reported and aborted', async () => {
    class Fragile extends TWSocket {
      protected override onSessionConnected(): void {
        throw new Error('greeting failed');
      }
    }
    const wsocket = new Fragile();
    const errors = new Recorder<Error>(wsocket, 'bgException');
    const closed = once(wsocket, 'sessionClosed');
    await loop.pair(wsocket);
    await closed;
    expect(errors.values.map((e) => e.message)).toEqual(['greeting failed']);
  });

  test('thrown by onSessionClosed: reported once', async () => {
    class Fragile extends TWSocket {
      protected override onSessionClosed(): void {
        throw new Error('goodbye failed');
      }
    }
    const wsocket = new Fragile();
    const errors = new Recorder<Error>(wsocket, 'bgException');
    const { peer } = await loop.pair(wsocket);
    peer.end();
    expect((await errors.count(1)).map((e) => e.message)).toEqual(['goodbye failed']);
    expect(wsocket.state).toBe('closed');
  });

  test('thrown by a changeState listener on a socket event: reported, not uncaught', async () => {
    const wsocket = new TWSocket();
    wsocket.on('changeState', (state) => {
      if (state === 'closed') throw new Error('listener failed');
    });
    const errors = new Recorder<Error>(wsocket, 'bgException');
    const closed = once(wsocket, 'sessionClosed');
    const { peer } = await loop.pair(wsocket);
    peer.end();
    await closed;
    expect(errors.values.map((e) => e.message)).toEqual(['listener failed']);
  });

  test('thrown by a changeState listener at attach: reported, aborted, and no sessionConnected', async () => {
    const wsocket = new TWSocket();
    wsocket.on('changeState', (state) => {
      if (state === 'connected') throw new Error('listener failed');
    });
    const errors = new Recorder<Error>(wsocket, 'bgException');
    const connected = new Recorder<string>(wsocket, 'sessionConnected', () => 'connected');
    const closed = once(wsocket, 'sessionClosed');
    await loop.pair(wsocket);
    await closed;
    expect(errors.values.map((e) => e.message)).toEqual(['listener failed']);
    expect(connected.values).toEqual([]);
  });
});

describe('connect() failures', () => {
  test('to a closed port: rejects with ECONNREFUSED; sessionClosed carries the error', async () => {
    const port = await closedPort();
    const client = loop.own(new TWSocket());
    const states = new Recorder<string>(client, 'changeState');
    const closed = once(client, 'sessionClosed');
    await expect(client.connect('127.0.0.1', port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    const [error] = await closed;
    expect(error).toMatchObject({ code: 'ECONNREFUSED' });
    expect(client.lastError).toBe(error);
    expect(client.state).toBe('closed');
    expect(states.values).toEqual(['connecting', 'closed']);
  });

  test('abort() while connecting: connect() rejects instead of hanging', async () => {
    const server = await loop.listen();
    const client = loop.own(new TWSocket());
    const connecting = client.connect('127.0.0.1', portOf(server));
    client.abort();
    await expect(connecting).rejects.toThrow(/closed before connecting/);
    expect(client.state).toBe('closed');
  });

  test('close() while connecting: the same', async () => {
    const server = await loop.listen();
    const client = loop.own(new TWSocket());
    const connecting = client.connect('127.0.0.1', portOf(server));
    client.close();
    await expect(connecting).rejects.toThrow(/closed before connecting/);
  });
});

describe('a connection reset by the peer', () => {
  test('sessionClosed carries ECONNRESET; the unfinished line is still delivered before it', async () => {
    const wsocket = new TWSocket({ lineMode: true });
    const events: string[] = [];
    wsocket.on('line', (line) => events.push(`line ${line}`));
    const { peer } = await loop.pair(wsocket);
    const closed = once(wsocket, 'sessionClosed');
    wsocket.on('sessionClosed', () => events.push('closed'));
    peer.write('unfinished');
    await serverReceived(wsocket, 10);
    peer.resetAndDestroy();
    const [error] = await closed;
    expect(error).toMatchObject({ code: 'ECONNRESET' });
    expect(wsocket.lastError).toBe(error);
    expect(events).toEqual(['line unfinished', 'closed']);
  });
});
