import { once } from 'node:events';
import * as net from 'node:net';
import { TWSocket, WSocketOptions } from '../src';
import { Loopback, random, randomInt, writeNow } from './helpers';

const loop = new Loopback();
afterEach(() => loop.dispose());

const LINES = 10_000;

/** Random lines of 0..300 bytes, any byte but the ones a line end is made of. */
function randomLines(seed: number, forbidden: number[]): string[] {
  const rnd = random(seed);
  const lines: string[] = [];
  for (let n = 0; n < LINES; n++) {
    const bytes = Buffer.alloc(randomInt(rnd, 0, 300));
    for (let i = 0; i < bytes.length; i++) {
      let b: number;
      do b = randomInt(rnd, 0, 255);
      while (forbidden.includes(b));
      bytes[i] = b;
    }
    lines.push(bytes.toString('latin1'));
  }
  return lines;
}

/** Writes `stream` in random-size chunks, each handed to the system before the next. */
async function writeInRandomChunks(peer: net.Socket, stream: Buffer, seed: number): Promise<number> {
  const rnd = random(seed);
  let chunks = 0;
  for (let pos = 0; pos < stream.length; chunks++) {
    const size = randomInt(rnd, 1, 4096);
    await writeNow(peer, stream.subarray(pos, pos + size));
    pos += size;
  }
  peer.end();
  return chunks;
}

async function sendAndCollect(options: WSocketOptions, lines: string[], lineEnd: string, seed: number): Promise<string[]> {
  const wsocket = new TWSocket({ lineMode: true, encoding: 'latin1', ...options });
  const received: string[] = [];
  wsocket.on('line', (line) => received.push(line));
  const { peer } = await loop.pair(wsocket);
  const closed = once(wsocket, 'sessionClosed');
  const stream = Buffer.from(lines.map((line) => line + lineEnd).join(''), 'latin1');
  const chunks = await writeInRandomChunks(peer, stream, seed);
  expect(chunks).toBeGreaterThan(100);
  await closed;
  return received;
}

describe('a large stream of lines over a real socket', () => {
  test('10,000 random lines, CRLF, random chunks: all arrive, complete and in order', async () => {
    const lines = randomLines(11, [0x0d, 0x0a]);
    const received = await sendAndCollect({}, lines, '\r\n', 12);
    expect(received.length).toBe(LINES);
    expect(received).toEqual(lines);
  });

  test('10,000 random lines, multi-byte lineEnd "\\r\\n.\\r\\n" with CR and LF inside lines', async () => {
    const lines = randomLines(13, [0x2e]);
    const received = await sendAndCollect({ lineEnd: '\r\n.\r\n' }, lines, '\r\n.\r\n', 14);
    expect(received.length).toBe(LINES);
    expect(received).toEqual(lines);
  });

  test('10,000 random lines, lineAcceptLf, ended by LF or CRLF at random', async () => {
    const lines = randomLines(15, [0x0d, 0x0a]);
    const rnd = random(16);
    const wsocket = new TWSocket({ lineMode: true, encoding: 'latin1', lineAcceptLf: true });
    const received: string[] = [];
    wsocket.on('line', (line) => received.push(line));
    const { peer } = await loop.pair(wsocket);
    const closed = once(wsocket, 'sessionClosed');
    const stream = Buffer.from(lines.map((line) => line + (rnd() < 0.5 ? '\n' : '\r\n')).join(''), 'latin1');
    await writeInRandomChunks(peer, stream, 17);
    await closed;
    expect(received).toEqual(lines);
  });
});
