import { once } from 'node:events';
import * as net from 'node:net';
import { TWSocket } from '../src';
import { Loopback, Received } from './helpers';

const loop = new Loopback();
afterEach(() => loop.dispose());

/** Echoes every line (with a reply of `replySize` bytes when set), counting the bytes the socket handed it. */
class Echo extends TWSocket {
  readonly lines: string[] = [];
  bytesIn = 0;
  bytesInAtClose = -1;
  replySize = 0;

  override handleSocketData(chunk: Buffer): void {
    if (this.state === 'connected') this.bytesIn += chunk.length;
    super.handleSocketData(chunk);
  }

  protected override onLine(line: string): void {
    this.lines.push(line);
    if (this.replySize === 0) this.sendLine(line);
    else this.sendLine(line.padEnd(this.replySize, '.'));
    super.onLine(line);
  }

  closeNow(): void {
    this.bytesInAtClose = this.bytesIn;
    this.closeGracefully();
  }
}

/** A peer that streams numbered lines until it sees our FIN, then ends its side; it never resets. */
function stream(peer: net.Socket): { errors: Error[]; sent: () => number } {
  const errors: Error[] = [];
  let n = 0;
  let stopped = false;
  const block = () => {
    let text = '';
    for (let i = 0; i < 100; i++) text += `line${n++}\r\n`;
    return text;
  };
  const pump = () => {
    while (!stopped && peer.writable && peer.write(block()));
  };
  peer.on('drain', pump);
  peer.on('error', (error) => errors.push(error));
  peer.on('end', () => {
    stopped = true;
    peer.end();
  });
  pump();
  return { errors, sent: () => n };
}

function numbered(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `line${i}`);
}

describe('closeGracefully', () => {
  test('with a peer that keeps streaming: every line read is answered, our side ends with FIN, no reset', async () => {
    const wsocket = new Echo({ lineMode: true });
    const { peer } = await loop.pair(wsocket);
    const received = new Received(peer);
    const closed = once(wsocket, 'sessionClosed');
    const peerClosed = once(peer, 'close');
    const streaming = stream(peer);
    // Close in the middle of the stream, from inside a line handler (the rest of that chunk is still answered).
    wsocket.on('line', (line) => line === 'line5000' && wsocket.closeNow());
    const [error] = await closed;
    const [hadError] = await peerClosed;
    expect(error).toBeUndefined();
    expect(streaming.errors).toEqual([]); // no ECONNRESET
    expect(hadError).toBe(false);
    expect(received.ended).toBe(true);
    const answered = received.text.split('\r\n').slice(0, -1);
    expect(answered).toEqual(numbered(wsocket.lines.length));
    expect(wsocket.lines.length).toBeGreaterThan(5000);
    // Every complete line of what the socket had handed over at the call was answered.
    const read = numbered(streaming.sent()).join('\r\n') + '\r\n';
    const completeAtClose = read.slice(0, wsocket.bytesInAtClose).split('\r\n').length - 1;
    expect(wsocket.lines.length).toBeGreaterThanOrEqual(completeAtClose);
    // The peer went on sending after our FIN: we read and dropped it.
    expect(streaming.sent()).toBeGreaterThan(wsocket.lines.length);
  });

  test('lines held by backpressure are still delivered and answered, then FIN', async () => {
    const wsocket = new Echo({ lineMode: true, sendHighWater: 16 * 1024 });
    wsocket.replySize = 8 * 1024;
    const { peer } = await loop.pair(wsocket);
    peer.pause(); // not reading yet
    const paused = once(wsocket.rawSocket!, 'pause');
    const count = 3000; // 24 MiB of replies: more than the kernel buffers
    peer.write(numbered(count).join('\r\n') + '\r\n');
    await paused;
    const deliveredBefore = wsocket.lines.length;
    expect(wsocket.heldBytes).toBeGreaterThan(0);
    const closed = once(wsocket, 'sessionClosed');
    wsocket.closeNow();
    expect(wsocket.state).toBe('connected'); // still answering the held lines
    const received = new Received(peer);
    peer.on('end', () => peer.end());
    const errors: Error[] = [];
    peer.on('error', (error) => errors.push(error));
    peer.resume();
    const [error] = await closed;
    await received.untilEnd();
    expect(error).toBeUndefined();
    expect(errors).toEqual([]);
    expect(wsocket.lines.length).toBeGreaterThan(deliveredBefore);
    // Everything the socket handed over at the call: the held lines, answered in order.
    const read = numbered(count).join('\r\n') + '\r\n';
    const complete = read.slice(0, wsocket.bytesInAtClose).split('\r\n').length - 1;
    expect(wsocket.lines).toEqual(numbered(complete));
    expect(received.byteCount).toBe(complete * (8 * 1024 + 2));
  });

  test('closeTimeout bounds it: a peer that never reads is aborted, with ETIMEDOUT', async () => {
    const wsocket = new Echo({ lineMode: true, sendHighWater: 16 * 1024, closeTimeout: 300 });
    wsocket.replySize = 8 * 1024;
    const { peer } = await loop.pair(wsocket);
    peer.pause(); // never reads
    const paused = once(wsocket.rawSocket!, 'pause');
    peer.write(numbered(3000).join('\r\n') + '\r\n');
    await paused;
    const closed = once(wsocket, 'sessionClosed');
    wsocket.closeGracefully();
    const [error] = (await closed) as [NodeJS.ErrnoException];
    expect(error.code).toBe('ETIMEDOUT');
    expect(error.message).toMatch(/close timed out after 300 ms/);
  });

  test('close() with a streaming peer reads and drops what comes, so it is a FIN, never a reset; closeTimeout counts from the call', async () => {
    const wsocket = new TWSocket({ closeTimeout: 60_000 });
    const { peer } = await loop.pair(wsocket);
    const streaming = stream(peer);
    const closed = once(wsocket, 'sessionClosed');
    await once(wsocket.rawSocket!, 'data');
    wsocket.close();
    const [error] = await closed;
    expect(error).toBeUndefined();
    expect(streaming.errors).toEqual([]);
  });

  test('while connecting it aborts; after close it does nothing', async () => {
    const wsocket = loop.own(new TWSocket());
    const server = await loop.listen();
    const connecting = wsocket.connect('127.0.0.1', (server.address() as net.AddressInfo).port);
    wsocket.closeGracefully();
    await expect(connecting).rejects.toThrow(/closed before connecting/);
    expect(wsocket.state).toBe('closed');
    wsocket.closeGracefully();
    expect(wsocket.state).toBe('closed');
  });
});
