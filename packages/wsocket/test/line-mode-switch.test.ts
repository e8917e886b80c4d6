import { once } from 'node:events';
import { TWSocket } from '../src';
import { Loopback, Recorder, random, randomInt, serverReceived, writeNow } from './helpers';

const loop = new Loopback();
afterEach(() => loop.dispose());

/** Line mode until the line "DATA", raw data after it (an SMTP-like protocol). */
class DataSwitch extends TWSocket {
  readonly lines: string[] = [];
  readonly raw: Buffer[] = [];

  protected override onLine(line: string): void {
    this.lines.push(line);
    if (line === 'DATA') this.lineMode = false;
  }

  protected override onData(data: Buffer): void {
    this.raw.push(Buffer.from(data));
    super.onData(data);
  }

  get rawBytes(): Buffer {
    return Buffer.concat(this.raw);
  }
}

/** Every byte value, several times over, line ends included. */
function binaryPayload(length: number, seed: number): Buffer {
  const rnd = random(seed);
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = i % 97 === 0 ? 0x0d : i % 89 === 0 ? 0x0a : randomInt(rnd, 0, 255);
  return bytes;
}

describe('switching lineMode off inside onLine', () => {
  test('the rest of the same packet, and later packets, go to onData: no byte lost or duplicated', async () => {
    const { wsocket, peer } = await loop.pair(new DataSwitch({ lineMode: true }));
    const payload = binaryPayload(4000, 3);
    const later = binaryPayload(3000, 4);
    peer.write(Buffer.concat([Buffer.from('HELO x\r\nDATA\r\n'), payload]));
    await serverReceived(wsocket, 14 + payload.length);
    await writeNow(peer, later);
    peer.end();
    await once(wsocket, 'sessionClosed');
    expect(wsocket.lines).toEqual(['HELO x', 'DATA']);
    expect(wsocket.rawBytes.equals(Buffer.concat([payload, later]))).toBe(true);
  });

  test('the same holds for every way the stream is cut into packets', async () => {
    const head = Buffer.from('A\r\nDATA\r\n');
    const payload = Buffer.from('x\r\ny\r\n\r\nDATA\r\nz');
    const stream = Buffer.concat([head, payload]);
    for (let cut = 1; cut < stream.length; cut++) {
      const { wsocket, peer } = await loop.pair(new DataSwitch({ lineMode: true }));
      await writeNow(peer, stream.subarray(0, cut));
      await serverReceived(wsocket, cut);
      peer.end(stream.subarray(cut));
      await once(wsocket, 'sessionClosed');
      expect({ cut, lines: wsocket.lines, raw: wsocket.rawBytes.toString() }).toEqual({
        cut,
        lines: ['A', 'DATA'],
        raw: payload.toString(),
      });
      await loop.dispose();
    }
  });

  test('lines after the switch in the same packet are not delivered as lines', async () => {
    const { wsocket, peer } = await loop.pair(new DataSwitch({ lineMode: true }));
    peer.end('DATA\r\nnot\r\na line\r\n');
    await once(wsocket, 'sessionClosed');
    expect(wsocket.lines).toEqual(['DATA']);
    expect(wsocket.rawBytes.toString()).toBe('not\r\na line\r\n');
  });

  test('switching back on inside onData: the next packet is framed into lines again', async () => {
    class Toggle extends DataSwitch {
      protected override onData(data: Buffer): void {
        super.onData(data);
        if (data.includes('\r\n.\r\n')) this.lineMode = true;
      }
    }
    const { wsocket, peer } = await loop.pair(new Toggle({ lineMode: true }));
    await writeNow(peer, 'DATA\r\n');
    await serverReceived(wsocket, 6);
    await writeNow(peer, 'body\r\n.\r\n');
    await serverReceived(wsocket, 15);
    peer.end('QUIT\r\n');
    await once(wsocket, 'sessionClosed');
    expect(wsocket.lines).toEqual(['DATA', 'QUIT']);
    expect(wsocket.rawBytes.toString()).toBe('body\r\n.\r\n');
  });
});

describe('switching lineMode off outside a handler', () => {
  test('hands the unfinished line to onData at once', async () => {
    const wsocket = new TWSocket({ lineMode: true });
    const data = new Recorder<string>(wsocket, 'data', (chunk: Buffer) => chunk.toString());
    const lines = new Recorder<string>(wsocket, 'line');
    const { peer } = await loop.pair(wsocket);
    peer.write('done\r\nunfin');
    await serverReceived(wsocket, 11);
    wsocket.lineMode = false;
    expect(data.values).toEqual(['unfin']);
    peer.write('ished\r\n');
    expect(await data.count(2)).toEqual(['unfin', 'ished\r\n']);
    expect(lines.values).toEqual(['done']);
  });
});

describe('changing a line option inside onLine', () => {
  test('a new lineEnd frames the rest of the same packet', async () => {
    class Mode extends TWSocket {
      readonly lines: string[] = [];
      protected override onLine(line: string): void {
        this.lines.push(line);
        if (line === 'SEMI') this.lineEnd = ';';
        if (line === 'CRLF') this.lineEnd = '\r\n';
      }
    }
    const { wsocket, peer } = await loop.pair(new Mode({ lineMode: true }));
    peer.end('one\r\nSEMI\r\na;b\r\nc;CRLF;x;y\r\n');
    await once(wsocket, 'sessionClosed');
    expect(wsocket.lines).toEqual(['one', 'SEMI', 'a', 'b\r\nc', 'CRLF', 'x;y']);
  });

  test('a lower lineLimit applies to the rest of the same packet', async () => {
    class Tighten extends TWSocket {
      readonly lines: string[] = [];
      protected override onLine(line: string): void {
        this.lines.push(line);
        if (line === 'TIGHT') this.lineLimit = 3;
      }
    }
    const { wsocket, peer } = await loop.pair(new Tighten({ lineMode: true }));
    const exceeded = new Recorder<number>(wsocket, 'lineLimitExceeded');
    peer.end('long line\r\nTIGHT\r\nlong line\r\nok\r\n');
    await once(wsocket, 'sessionClosed');
    expect(wsocket.lines).toEqual(['long line', 'TIGHT', 'ok']);
    expect(exceeded.values).toEqual([9]);
  });
});

describe('changing a line option outside a handler', () => {
  test('the unfinished line is carried over and framed with the new lineEnd', async () => {
    const wsocket = new TWSocket({ lineMode: true });
    const lines = new Recorder<string>(wsocket, 'line');
    const { peer } = await loop.pair(wsocket);
    peer.write('x;y');
    await serverReceived(wsocket, 3);
    wsocket.lineEnd = ';';
    expect(lines.values).toEqual(['x']);
    peer.write('z;');
    expect(await lines.count(2)).toEqual(['x', 'yz']);
  });

  test('turning lineAcceptLf on frames bare LFs from then on, the held line included', async () => {
    const wsocket = new TWSocket({ lineMode: true });
    const lines = new Recorder<string>(wsocket, 'line');
    const { peer } = await loop.pair(wsocket);
    peer.write('a\nb');
    await serverReceived(wsocket, 3);
    wsocket.lineAcceptLf = true;
    expect(lines.values).toEqual(['a']);
    peer.write('\r\n');
    expect(await lines.count(2)).toEqual(['a', 'b']);
  });
});

describe('options changed while in raw mode', () => {
  test('apply once line mode is back on, also when changed in the same onLine that left it', async () => {
    class Modes extends DataSwitch {
      protected override onLine(line: string): void {
        if (line === 'DATA') this.lineEnd = ';';
        super.onLine(line);
      }
      protected override onData(data: Buffer): void {
        super.onData(data);
        if (data.toString().endsWith('.')) {
          this.lineLimit = 3;
          this.lineMode = true;
        }
      }
    }
    const wsocket = new Modes({ lineMode: true });
    const exceeded = new Recorder<number>(wsocket, 'lineLimitExceeded');
    const { peer } = await loop.pair(wsocket);
    await writeNow(peer, 'DATA\r\nraw;.');
    await serverReceived(wsocket, 11);
    peer.end('toolong;abc;\r\n');
    await once(wsocket, 'sessionClosed');
    expect(wsocket.lines).toEqual(['DATA', 'abc', '\r\n']);
    expect(wsocket.rawBytes.toString()).toBe('raw;.');
    expect(exceeded.values).toEqual([7]);
  });
});
