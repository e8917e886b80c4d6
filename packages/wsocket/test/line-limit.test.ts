import { once } from 'node:events';
import { LineLimitAction, TWSocket } from '../src';
import { Loopback, Received, Recorder, serverReceived, writeNow } from './helpers';

const loop = new Loopback();
afterEach(() => loop.dispose());

describe('lineLimit over a real connection', () => {
  test('default: lineLimitExceeded is emitted, the long line dropped whole, the connection goes on', async () => {
    class Answer extends TWSocket {
      protected override onLine(line: string): void {
        super.onLine(line);
        this.sendLine(`ok ${line}`);
      }
    }
    const wsocket = new Answer({ lineMode: true, lineLimit: 10 });
    const exceeded = new Recorder<number>(wsocket, 'lineLimitExceeded');
    const lines = new Recorder<string>(wsocket, 'line');
    const { peer } = await loop.pair(wsocket);
    const received = new Received(peer);
    await writeNow(peer, 'short\r\n' + 'x'.repeat(8));
    await writeNow(peer, 'x'.repeat(8));
    await writeNow(peer, 'x'.repeat(100) + '\r\nafter\r\n');
    await received.untilText('ok after\r\n');
    expect(lines.values).toEqual(['short', 'after']);
    expect(exceeded.values).toHaveLength(1);
    expect(exceeded.values[0]).toBeGreaterThan(10);
    expect(wsocket.state).toBe('connected');
    expect(received.text).toBe('ok short\r\nok after\r\n');
  });

  test('an over-long line arriving in one packet is dropped the same way', async () => {
    const wsocket = new TWSocket({ lineMode: true, lineLimit: 10 });
    const exceeded = new Recorder<number>(wsocket, 'lineLimitExceeded');
    const lines = new Recorder<string>(wsocket, 'line');
    const { peer } = await loop.pair(wsocket);
    peer.write('y'.repeat(11) + '\r\n' + 'z'.repeat(10) + '\r\n');
    expect(await lines.count(1)).toEqual(['z'.repeat(10)]);
    expect(exceeded.values).toEqual([11]);
  });

  test('a subclass returning "close" closes the connection; later lines are not delivered', async () => {
    class Strict extends TWSocket {
      protected override onLineLimitExceeded(length: number): LineLimitAction {
        this.sendLine(`-ERR line of ${length} bytes`);
        return 'close';
      }
    }
    const wsocket = new Strict({ lineMode: true, lineLimit: 5 });
    const lines = new Recorder<string>(wsocket, 'line');
    const states = new Recorder<string>(wsocket, 'changeState');
    const { peer } = await loop.pair(wsocket);
    const received = new Received(peer);
    peer.write('hi\r\n123456\r\nlater\r\n');
    expect((await received.untilEnd()).toString()).toBe('-ERR line of 6 bytes\r\n');
    peer.end();
    await once(wsocket, 'sessionClosed');
    expect(lines.values).toEqual(['hi']);
    expect(states.values).toEqual(['connected', 'closing', 'closed']);
  });

  test('"close" also applies to a line still growing over many packets', async () => {
    class Strict extends TWSocket {
      protected override onLineLimitExceeded(): LineLimitAction {
        return 'close';
      }
    }
    const wsocket = new Strict({ lineMode: true, lineLimit: 5 });
    const lines = new Recorder<string>(wsocket, 'line');
    const { peer } = await loop.pair(wsocket);
    const received = new Received(peer);
    await writeNow(peer, 'abc');
    await serverReceived(wsocket, 3);
    await writeNow(peer, 'defgh');
    await received.untilEnd();
    peer.end();
    await once(wsocket, 'sessionClosed');
    expect(lines.values).toEqual([]);
  });

  test('a subclass returning "keep" gets the whole long line', async () => {
    class Lenient extends TWSocket {
      protected override onLineLimitExceeded(length: number): LineLimitAction {
        super.onLineLimitExceeded(length);
        return 'keep';
      }
    }
    const wsocket = new Lenient({ lineMode: true, lineLimit: 5 });
    const exceeded = new Recorder<number>(wsocket, 'lineLimitExceeded');
    const lines = new Recorder<string>(wsocket, 'line');
    const { peer } = await loop.pair(wsocket);
    await writeNow(peer, 'x'.repeat(20));
    await serverReceived(wsocket, 20);
    peer.write('x'.repeat(20) + '\r\n');
    expect(await lines.count(1)).toEqual(['x'.repeat(40)]);
    expect(exceeded.values).toHaveLength(1);
  });

  test('lineLimit 0: a line of a megabyte is delivered', async () => {
    const wsocket = new TWSocket({ lineMode: true, lineLimit: 0 });
    const lines = new Recorder<string>(wsocket, 'line');
    const { peer } = await loop.pair(wsocket);
    peer.write('m'.repeat(1 << 20) + '\r\n');
    const [line] = await lines.count(1);
    expect(line).toHaveLength(1 << 20);
  });

  test('an exception thrown by onLineLimitExceeded goes to bgException and aborts', async () => {
    class Broken extends TWSocket {
      protected override onLineLimitExceeded(): LineLimitAction {
        throw new Error('limit handler failed');
      }
    }
    const wsocket = new Broken({ lineMode: true, lineLimit: 5 });
    const errors = new Recorder<Error>(wsocket, 'bgException');
    const lines = new Recorder<string>(wsocket, 'line');
    const { peer } = await loop.pair(wsocket);
    peer.write('123456\r\nnext\r\n');
    await once(wsocket, 'sessionClosed');
    expect(errors.values.map((e) => e.message)).toEqual(['limit handler failed']);
    expect(lines.values).toEqual([]);
  });
});
