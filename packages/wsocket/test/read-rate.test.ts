import { once } from 'node:events';
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { TWSocket, WSocketError } from '../src';
import { Loopback } from './helpers';

const loop = new Loopback();
afterEach(() => loop.dispose());

/** The attacker: writes as fast as the connection takes it until stopped (or the connection ends). */
function flood(peer: net.Socket, block: Buffer): () => void {
  let stopped = false;
  const pump = () => {
    while (!stopped && peer.writable && peer.write(block));
  };
  peer.on('drain', pump);
  peer.on('end', () => {
    stopped = true;
    peer.end();
  });
  pump();
  return () => {
    stopped = true;
  };
}

/** Counts what the application is given, with the time of the first and last delivery. */
class Counting extends TWSocket {
  bytes = 0;
  lines = 0;
  first = 0;
  protected override onData(data: Buffer): void {
    if (this.first === 0) this.first = performance.now();
    this.bytes += data.length;
  }
  protected override onLine(): void {
    if (this.first === 0) this.first = performance.now();
    this.lines++;
  }
}

describe('read rate', () => {
  test('a byte flooder is throttled: bytes delivered stay within burst + rate x time (+ one read)', async () => {
    const rate = 64 * 1024;
    const wsocket = new Counting({ readBytesPerSecond: rate, readRateCloseAfter: 1500 });
    const { peer } = await loop.pair(wsocket);
    peer.resume();
    const stop = flood(peer, Buffer.alloc(64 * 1024, 0x66));
    // Told after 1.5 s over the rate ('throttle': it stays open).
    const [overMs] = await once(wsocket, 'readRateExceeded');
    const elapsed = performance.now() - wsocket.first;
    stop();
    expect(overMs).toBeGreaterThanOrEqual(1500);
    expect(wsocket.state).toBe('connected');
    // One read of the socket is at most 64 KiB; the bucket holds one second's worth.
    const bound = rate + (rate * elapsed) / 1000 + 64 * 1024;
    expect(wsocket.bytes).toBeLessThanOrEqual(bound);
    // It was reading all along, at the rate (not starved): more than half of it.
    expect(wsocket.bytes).toBeGreaterThan((rate * elapsed) / 1000 / 2);
    expect(peer.bytesWritten).toBeGreaterThan(wsocket.bytes);
  });

  test("a line flooder over readLinesPerSecond is closed with ICS_ERR_READ_RATE when the action is 'close'", async () => {
    const rate = 50;
    const wsocket = new Counting({ lineMode: true, readLinesPerSecond: rate, readRateAction: 'close', readRateCloseAfter: 1000 });
    const { peer } = await loop.pair(wsocket);
    peer.resume();
    const closed = once(wsocket, 'sessionClosed');
    flood(peer, Buffer.from('flood\r\n'.repeat(1000), 'latin1'));
    const [error] = (await closed) as [WSocketError];
    const elapsed = performance.now() - wsocket.first;
    expect(error.code).toBe('ICS_ERR_READ_RATE');
    expect(error.message).toMatch(/50 lines\/s/);
    expect(wsocket.lines).toBeLessThanOrEqual(rate + (rate * elapsed) / 1000);
    expect(wsocket.lines).toBeGreaterThan(rate);
  });

  test("'abort' ends the flooder at once", async () => {
    const wsocket = new Counting({ readBytesPerSecond: 10_000, readBytesBurst: 20_000, readRateAction: 'abort', readRateCloseAfter: 300 });
    const { peer } = await loop.pair(wsocket);
    peer.resume();
    const closed = once(wsocket, 'sessionClosed');
    flood(peer, Buffer.alloc(16 * 1024, 0x61));
    const [error] = (await closed) as [WSocketError];
    expect(error.code).toBe('ICS_ERR_READ_RATE');
    expect(wsocket.bytes).toBeLessThanOrEqual(20_000 + 10_000 * ((performance.now() - wsocket.first) / 1000) + 64 * 1024);
  });

  test('a peer under the rate is never throttled', async () => {
    const wsocket = new Counting({ lineMode: true, readLinesPerSecond: 1000 });
    const events: number[] = [];
    wsocket.on('readRateExceeded', (ms) => events.push(ms));
    const { peer } = await loop.pair(wsocket);
    for (let i = 0; i < 20; i++) {
      peer.write(`line ${i}\r\n`);
      await once(wsocket.rawSocket!, 'data');
      expect(wsocket.readingPaused).toBe(false);
    }
    expect(wsocket.lines).toBe(20);
    expect(events).toEqual([]);
  });

  test('the rate can be set and removed at run time; removing it resumes reading', async () => {
    const wsocket = new Counting({ lineMode: true });
    const { peer } = await loop.pair(wsocket);
    wsocket.readLinesPerSecond = 2;
    wsocket.readLinesBurst = 2;
    const paused = once(wsocket.rawSocket!, 'pause');
    peer.write('1\r\n2\r\n3\r\n4\r\n');
    await paused;
    expect(wsocket.lines).toBe(2);
    expect(wsocket.heldBytes).toBe(6);
    wsocket.readLinesPerSecond = 0;
    expect(wsocket.lines).toBe(4);
    expect(wsocket.readingPaused).toBe(false);
  });

  test('bad values name the option and the value', () => {
    expect(() => new TWSocket({ readBytesPerSecond: -1 })).toThrow(/readBytesPerSecond.*-1/);
    expect(() => new TWSocket({ readLinesBurst: 0.5 })).toThrow(RangeError);
    expect(() => new TWSocket({ readRateAction: 'kill' as never })).toThrow(TypeError);
    expect(() => new TWSocket({ readRateAction: 'kill' as never })).toThrow(/readRateAction.*"kill"/);
    expect(() => new TWSocket({ sendHighWater: 0 })).toThrow(/sendHighWater.*0/);
    expect(() => new TWSocket({ sendLimit: -5 })).toThrow(/sendLimit.*-5/);
  });
});
