import { once } from 'node:events';
import { TWSocket, WSocketError, WSocketErrorCode } from '../src';
import { Loopback, Received, writeNow } from './helpers';

const loop = new Loopback();
afterEach(() => loop.dispose());

const REPLY = 16 * 1024;

/** Answers every line `reqN` with REPLY bytes that begin `repN:`; records the largest queue it saw. */
class BigReplies extends TWSocket {
  readonly lines: string[] = [];
  maxQueued = 0;

  protected override onLine(line: string): void {
    this.lines.push(line);
    const reply = Buffer.alloc(REPLY, 0x2e);
    reply.write(`rep${line.slice(3)}:`, 'latin1');
    reply[REPLY - 2] = 0x0d;
    reply[REPLY - 1] = 0x0a;
    this.send(reply);
    this.maxQueued = Math.max(this.maxQueued, this.bufferedBytes);
  }
}

function requests(count: number): string {
  let text = '';
  for (let i = 0; i < count; i++) text += `req${i}\r\n`;
  return text;
}

describe('backpressure: a peer that sends requests and never reads', () => {
  test('reading pauses with the queue under sendHighWater + one reply; every reply arrives, once, in order, when the peer reads', async () => {
    // 2,000 replies of 16 KiB (32 MiB): far more than the kernel's socket buffers on loopback hold.
    const count = 2000;
    const { wsocket, peer } = await loop.pair(new BigReplies({ lineMode: true }));
    peer.pause(); // the peer does not read
    const paused = once(wsocket.rawSocket!, 'pause');
    await writeNow(peer, requests(count));
    await paused;
    expect(wsocket.readingPaused).toBe(true);
    const delivered = wsocket.lines.length;
    expect(delivered).toBeLessThan(count);
    // The bound: reading stops at the reply that crosses sendHighWater.
    expect(wsocket.maxQueued).toBeLessThanOrEqual(wsocket.sendHighWater + REPLY);
    expect(wsocket.bufferedBytes).toBeGreaterThanOrEqual(wsocket.sendHighWater);

    const received = new Received(peer);
    peer.resume();
    await received.untilBytes(count * REPLY);
    const text = received.text;
    let at = 0;
    for (let i = 0; i < count; i++) {
      expect(text.startsWith(`rep${i}:`, at)).toBe(true);
      at += REPLY;
    }
    expect(received.byteCount).toBe(count * REPLY);
    expect(wsocket.lines).toEqual(Array.from({ length: count }, (_, i) => `req${i}`));
    expect(wsocket.maxQueued).toBeLessThanOrEqual(wsocket.sendHighWater + REPLY);
    expect(wsocket.readingPaused).toBe(false);
    expect(wsocket.state).toBe('connected');
  });

  test('raw mode (onData) pauses too, and resumes with nothing lost', async () => {
    class RawEcho extends TWSocket {
      received = 0;
      protected override onData(data: Buffer): void {
        this.received += data.length;
        this.send(data);
      }
    }
    const total = 24 * 1024 * 1024;
    const { wsocket, peer } = await loop.pair(new RawEcho({ sendHighWater: 32 * 1024 }));
    const received = new Received(peer);
    peer.pause();
    const paused = once(wsocket.rawSocket!, 'pause');
    const block = Buffer.alloc(64 * 1024, 0x61);
    let sent = 0;
    const pump = async () => {
      while (sent < total) {
        sent += block.length;
        if (!peer.write(block)) await once(peer, 'drain');
      }
    };
    const pumping = pump();
    await paused;
    expect(wsocket.readingPaused).toBe(true);
    peer.resume();
    await pumping;
    await received.untilBytes(total);
    expect(wsocket.received).toBe(total);
    expect(received.byteCount).toBe(total);
  });

  test('the hard limit aborts with ICS_ERR_SEND_LIMIT; the queue stays under sendLimit + one send', async () => {
    const sendLimit = 256 * 1024;
    const { wsocket, peer } = await loop.pair(new TWSocket({ sendLimit }));
    peer.pause();
    const closed = once(wsocket, 'sessionClosed');
    const block = Buffer.alloc(REPLY, 0x62);
    let maxQueued = 0;
    // Sends not driven by reading (a broadcast, say): only the limit stops them. Bounded loop.
    for (let i = 0; i < 100_000 && wsocket.state === 'connected'; i++) {
      wsocket.send(block);
      maxQueued = Math.max(maxQueued, wsocket.bufferedBytes);
    }
    const [error] = (await closed) as [WSocketError];
    expect(error).toBeInstanceOf(WSocketError);
    expect(error.code).toBe(WSocketErrorCode.SEND_LIMIT);
    expect(error.code).toBe('ICS_ERR_SEND_LIMIT');
    expect(error.message).toMatch(/sendLimit \(262144 bytes\)/);
    expect(wsocket.lastError).toBe(error);
    expect(maxQueued).toBeGreaterThan(sendLimit);
    expect(maxQueued).toBeLessThanOrEqual(sendLimit + REPLY);
  });

  test('one send larger than sendLimit into a queue under it is accepted; the next send while over the limit aborts', async () => {
    const sendLimit = 64 * 1024;
    const { wsocket, peer } = await loop.pair(new TWSocket({ sendLimit }));
    peer.pause();
    const big = Buffer.alloc(16 * 1024 * 1024, 0x63); // more than the kernel takes at once
    wsocket.send(big);
    expect(wsocket.state).toBe('connected');
    expect(wsocket.bufferedBytes).toBeGreaterThan(sendLimit);
    const closed = once(wsocket, 'sessionClosed');
    expect(wsocket.sendLine('one more')).toBe(false);
    const [error] = (await closed) as [WSocketError];
    expect(error.code).toBe('ICS_ERR_SEND_LIMIT');
  });

  test('sendLimit 0 is no limit', async () => {
    const { wsocket, peer } = await loop.pair(new TWSocket({ sendLimit: 0 }));
    const received = new Received(peer);
    peer.pause();
    const block = Buffer.alloc(1024 * 1024, 0x64);
    for (let i = 0; i < 16; i++) wsocket.send(block);
    expect(wsocket.state).toBe('connected');
    peer.resume();
    await received.untilBytes(16 * block.length);
  });
});

describe('pausing in line mode holds the rest of the chunk', () => {
  class Pausing extends TWSocket {
    readonly lines: string[] = [];
    pauseAt = '';
    protected override onLine(line: string): void {
      this.lines.push(line);
      if (line === this.pauseAt) this.pauseReading();
      super.onLine(line);
    }
  }

  test.each([
    ['text path (ASCII)', 'a', 'b', 'c', 'd'],
    ['byte path (multi-byte UTF-8)', 'é', 'ü', 'ç', 'ñ'],
  ])('%s: lines after the pause are held, then delivered in order', async (_path, a, b, c, d) => {
    const wsocket = new Pausing({ lineMode: true });
    wsocket.pauseAt = b;
    const { peer } = await loop.pair(wsocket);
    const paused = once(wsocket.rawSocket!, 'pause');
    await writeNow(peer, `${a}\r\n${b}\r\n${c}\r\n${d}\r\ne`);
    await paused;
    expect(wsocket.lines).toEqual([a, b]);
    expect(wsocket.readingPaused).toBe(true);
    expect(wsocket.heldBytes).toBe(Buffer.byteLength(`${c}\r\n${d}\r\ne`));
    // More arrives while paused: it waits behind the held bytes.
    await writeNow(peer, 'f\r\n');
    expect(wsocket.lines).toEqual([a, b]);
    const last = new Promise<void>((resolve) => wsocket.on('line', (line) => line === 'ef' && resolve()));
    wsocket.resumeReading();
    expect(wsocket.lines).toEqual([a, b, c, d]); // the held lines at once
    expect(wsocket.heldBytes).toBe(0);
    await last;
    expect(wsocket.lines).toEqual([a, b, c, d, 'ef']);
  });

  test('switching line mode off while lines are held hands them to onData in order', async () => {
    class Switching extends TWSocket {
      readonly got: string[] = [];
      protected override onLine(line: string): void {
        this.got.push(`line:${line}`);
        if (line === '1') this.pauseReading();
      }
      protected override onData(data: Buffer): void {
        this.got.push(`data:${data.toString('latin1')}`);
      }
    }
    const wsocket = new Switching({ lineMode: true });
    const { peer } = await loop.pair(wsocket);
    const paused = once(wsocket.rawSocket!, 'pause');
    await writeNow(peer, '1\r\n2\r\n3');
    await paused;
    wsocket.lineMode = false;
    expect(wsocket.got).toEqual(['line:1', 'data:2\r\n3']);
    wsocket.resumeReading();
  });
});
