import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import * as net from 'node:net';
import { EchoClient } from '../src';
import { Harness } from './support/harness';

const harness = new Harness();
afterEach(() => harness.cleanup());

/** Writes `payload`, half-closes, and resolves with everything echoed until the server's FIN. */
function roundTrip(socket: net.Socket, payload: Buffer): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.end(payload);
  return once(socket, 'end').then(() => Buffer.concat(chunks));
}

test('echo returns a large binary buffer byte for byte, then closes after the peer half-closes', async () => {
  const server = await harness.server({ clientClass: 'echo' });
  const payload = randomBytes(4 * 1024 * 1024);
  for (let i = 0; i < 256; i++) payload[i] = i; // every byte value, CR and LF included: no line mode here
  const socket = net.connect(server.bindPort, '127.0.0.1');
  const closed = once(socket, 'close');
  const echoed = await roundTrip(socket, payload);
  expect(echoed.length).toBe(payload.length);
  expect(echoed.equals(payload)).toBe(true);
  await closed;
});

test('echo stops reading while its peer does not read, and loses nothing', async () => {
  let reportPaused: (client: WatchedEcho) => void = () => {};
  const paused = new Promise<WatchedEcho>((resolve) => (reportPaused = resolve));
  class WatchedEcho extends EchoClient {
    maxBuffered = 0;
    protected override onData(data: Buffer): void {
      super.onData(data);
      this.maxBuffered = Math.max(this.maxBuffered, this.bufferedBytes);
      if (this.rawSocket?.isPaused()) reportPaused(this);
    }
  }
  const server = await harness.server({ clientClass: WatchedEcho });
  // Far more than the kernel buffers of both ends can hold, so the server's sends must back up.
  const payload = randomBytes(32 * 1024 * 1024);
  const socket = net.connect(server.bindPort, '127.0.0.1');
  socket.pause(); // a peer that writes and does not read
  const closed = once(socket, 'close');
  socket.write(payload);

  const client = await paused;
  expect(client.rawSocket?.isPaused()).toBe(true);
  // What the server holds for this peer is bounded by one socket buffer and a chunk, not by the stream.
  expect(client.maxBuffered).toBeLessThan(1024 * 1024);

  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.end();
  socket.resume();
  await once(socket, 'end');
  const echoed = Buffer.concat(chunks);
  expect(echoed.length).toBe(payload.length);
  expect(echoed.equals(payload)).toBe(true);
  await closed;
});

test('echo is registered by name and sends a banner when the server has one', async () => {
  const server = await harness.server({ clientClass: 'echo', banner: 'echo here' });
  expect(server.clientClass).toBe(EchoClient);
  const socket = net.connect(server.bindPort, '127.0.0.1');
  const echoed = await roundTrip(socket, Buffer.from('ping'));
  expect(echoed.toString()).toBe('echo here\r\nping');
});
