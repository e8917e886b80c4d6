import { once } from 'node:events';
import { TWSocket } from '../src';
import { Loopback, Received, Recorder, serverReceived } from './helpers';

const loop = new Loopback();
afterEach(() => loop.dispose());

describe('close() inside onLine', () => {
  test('the reply is flushed, later lines of the same packet are not delivered', async () => {
    class Quit extends TWSocket {
      protected override onLine(line: string): void {
        super.onLine(line);
        if (line === 'QUIT') {
          this.sendLine('bye');
          this.close();
        }
      }
    }
    const wsocket = new Quit({ lineMode: true });
    const lines = new Recorder<string>(wsocket, 'line');
    const { peer } = await loop.pair(wsocket);
    const received = new Received(peer);
    peer.write('a\r\nQUIT\r\nb\r\npartial');
    expect((await received.untilEnd()).toString()).toBe('bye\r\n');
    peer.end();
    await once(wsocket, 'sessionClosed');
    expect(lines.values).toEqual(['a', 'QUIT']);
  });
});

describe('closeDelayed()', () => {
  test('closes after the current event: the reply goes out, then the end', async () => {
    class Quit extends TWSocket {
      protected override onLine(line: string): void {
        super.onLine(line);
        this.sendLine(`bye ${line}`);
        this.closeDelayed();
        expect(this.state).toBe('connected');
      }
    }
    const wsocket = new Quit({ lineMode: true });
    const states = new Recorder<string>(wsocket, 'changeState');
    const { peer } = await loop.pair(wsocket);
    const received = new Received(peer);
    peer.write('QUIT\r\n');
    expect((await received.untilEnd()).toString()).toBe('bye QUIT\r\n');
    peer.end();
    await once(wsocket, 'sessionClosed');
    expect(states.values).toEqual(['connected', 'closing', 'closed']);
  });

  test('on a connection already closed, it does nothing', async () => {
    const wsocket = new TWSocket();
    const states = new Recorder<string>(wsocket, 'changeState');
    const { peer } = await loop.pair(wsocket);
    peer.end();
    await once(wsocket, 'sessionClosed');
    wsocket.closeDelayed();
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(states.values).toEqual(['connected', 'closed']);
  });
});

describe('abort()', () => {
  test('drops the unfinished line: no final line is delivered', async () => {
    const wsocket = new TWSocket({ lineMode: true });
    const lines = new Recorder<string>(wsocket, 'line');
    const { peer } = await loop.pair(wsocket);
    peer.write('done\r\nunfinished');
    await serverReceived(wsocket, 16);
    wsocket.abort();
    expect(wsocket.state).toBe('closing');
    const [error] = await once(wsocket, 'sessionClosed');
    expect(error).toBeUndefined();
    expect(wsocket.state).toBe('closed');
    expect(lines.values).toEqual(['done']);
  });

  test('the peer sees the connection go', async () => {
    const { wsocket, peer } = await loop.pair(new TWSocket());
    const received = new Received(peer);
    const closed = once(wsocket, 'sessionClosed');
    wsocket.abort();
    await received.untilEnd();
    await closed;
  });

  test('ignores data that arrives afterwards', async () => {
    const wsocket = new TWSocket({ lineMode: true });
    const lines = new Recorder<string>(wsocket, 'line');
    const { peer } = await loop.pair(wsocket);
    wsocket.abort();
    peer.write('late\r\n');
    await once(wsocket, 'sessionClosed');
    expect(lines.values).toEqual([]);
  });
});
