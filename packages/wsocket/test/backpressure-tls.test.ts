import { createDevCertificate } from '@ics-ts/ssl-context';
import { once } from 'node:events';
import * as tls from 'node:tls';
import { TWSocket } from '../src';
import { Received, writeNow } from './helpers';

/**
 * Over TLS, `writableLength` is the TLSSocket's clear-text queue: the pause
 * must work there too (a test-only use of the development certificates).
 */

const REPLY = 16 * 1024;

class BigReplies extends TWSocket {
  readonly lines: string[] = [];
  maxQueued = 0;
  protected override onLine(line: string): void {
    this.lines.push(line);
    this.send(Buffer.alloc(REPLY, 0x30 + (this.lines.length % 10)));
    this.maxQueued = Math.max(this.maxQueued, this.bufferedBytes);
  }
}

test('a TLS peer that does not read: reading pauses under sendHighWater + one reply, every reply arrives once it reads', async () => {
  const identity = await createDevCertificate({ names: ['127.0.0.1'] });
  const wsocket = new BigReplies({ lineMode: true });
  const server = tls.createServer({ ...identity, allowHalfOpen: true }, (socket) => wsocket.attach(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const peer = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
  peer.on('error', () => {});
  try {
    await once(peer, 'secureConnect');
    peer.pause();
    const count = 2000;
    let text = '';
    for (let i = 0; i < count; i++) text += `req${i}\r\n`;
    await writeNow(peer, text);
    while (!wsocket.rawSocket) await once(server, 'secureConnection');
    if (!wsocket.readingPaused) await once(wsocket.rawSocket, 'pause');
    expect(wsocket.lines.length).toBeLessThan(count);
    expect(wsocket.maxQueued).toBeLessThanOrEqual(wsocket.sendHighWater + REPLY);
    const received = new Received(peer);
    peer.resume();
    await received.untilBytes(count * REPLY);
    expect(received.byteCount).toBe(count * REPLY);
    expect(wsocket.lines.length).toBe(count);
    expect(wsocket.maxQueued).toBeLessThanOrEqual(wsocket.sendHighWater + REPLY);
  } finally {
    wsocket.abort();
    peer.destroy();
    server.close();
  }
});
