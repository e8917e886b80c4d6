import { once } from 'node:events';
import { TWSocket, WSocketOptions } from '../src';
import { Loopback, Received, Recorder, portOf, writeNow } from './helpers';

const loop = new Loopback();
afterEach(() => loop.dispose());

async function linePair(options: WSocketOptions = {}) {
  const wsocket = new TWSocket({ lineMode: true, ...options });
  const lines = new Recorder<string>(wsocket, 'line');
  const pair = await loop.pair(wsocket);
  return { ...pair, lines };
}

describe('TWSocket line mode over a real connection', () => {
  test('delivers each line without its line end', async () => {
    const { peer, lines } = await linePair();
    peer.write('one\r\ntwo\r\n\r\nthree\r\n');
    expect(await lines.count(4)).toEqual(['one', 'two', '', 'three']);
  });

  test('a line written in many pieces arrives once, whole', async () => {
    const { peer, lines } = await linePair();
    for (const piece of ['he', 'llo', ' wor', 'ld\r', '\nnext\r\n']) await writeNow(peer, piece);
    expect(await lines.count(2)).toEqual(['hello world', 'next']);
  });

  test('line mode is off by default: chunks go to data', async () => {
    const wsocket = new TWSocket();
    const data = new Recorder<Buffer>(wsocket, 'data');
    const lines = new Recorder<string>(wsocket, 'line');
    const { peer } = await loop.pair(wsocket);
    peer.end('a\r\nb\r\n');
    await once(wsocket, 'sessionClosed');
    expect(Buffer.concat(data.values).toString()).toBe('a\r\nb\r\n');
    expect(lines.values).toEqual([]);
  });

  test('a bare LF is part of the line unless lineAcceptLf', async () => {
    const { peer, lines } = await linePair();
    peer.write('a\nb\r\n');
    expect(await lines.count(1)).toEqual(['a\nb']);
  });

  test('lineAcceptLf: a bare LF ends a line, and a CR right before it is removed', async () => {
    const { peer, lines } = await linePair({ lineAcceptLf: true });
    peer.write('a\nb\r\nc\rd\n\r\n\n');
    expect(await lines.count(5)).toEqual(['a', 'b', 'c\rd', '', '']);
  });

  test('lineAcceptLf: a CRLF split between packets is still one line end', async () => {
    const { peer, lines } = await linePair({ lineAcceptLf: true });
    await writeNow(peer, 'abc\r');
    await writeNow(peer, '\nxyz\n');
    expect(await lines.count(2)).toEqual(['abc', 'xyz']);
  });

  test('lineAcceptLf with a lineEnd not ending in LF changes nothing: no byte of the line is removed', async () => {
    const { peer, lines } = await linePair({ lineAcceptLf: true, lineEnd: 'END' });
    peer.write('OPENEND\nx\nEND');
    expect(await lines.count(2)).toEqual(['OPEN', '\nx\n']);
  });

  test('a custom lineEnd, given as text', async () => {
    const { peer, lines } = await linePair({ lineEnd: '\r\n.\r\n' });
    peer.write('Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n.\r\n');
    expect(await lines.count(2)).toEqual(['Subject: x\r\n\r\nbody', 'QUIT']);
  });

  test('a custom lineEnd, given as bytes', async () => {
    const { peer, lines } = await linePair({ lineEnd: Buffer.from([0]) });
    peer.write(Buffer.from('a\0bc\0\0', 'latin1'));
    expect(await lines.count(3)).toEqual(['a', 'bc', '']);
  });

  test('a UTF-8 character split between packets is decoded whole', async () => {
    const { peer, lines } = await linePair();
    const bytes = Buffer.from('héllo ✓\r\n', 'utf8');
    await writeNow(peer, bytes.subarray(0, 2));
    await writeNow(peer, bytes.subarray(2, 9));
    await writeNow(peer, bytes.subarray(9));
    expect(await lines.count(1)).toEqual(['héllo ✓']);
  });

  test('encoding latin1 hands every byte over as one character', async () => {
    const { peer, lines } = await linePair({ encoding: 'latin1' });
    const all = Buffer.alloc(256 - 2);
    let n = 0;
    for (let b = 0; b < 256; b++) if (b !== 0x0d && b !== 0x0a) all[n++] = b;
    peer.write(Buffer.concat([all, Buffer.from('\r\n')]));
    const [line] = await lines.count(1);
    expect(Buffer.from(line, 'latin1').equals(all)).toBe(true);
  });

  test('sendLine appends the default CRLF', async () => {
    const { wsocket, peer } = await linePair();
    const received = new Received(peer);
    expect(wsocket.sendLine('hello')).toBe(true);
    await received.untilText('hello\r\n');
    expect(received.text).toBe('hello\r\n');
  });

  test('sendLine appends a custom lineEnd, and encodes with the chosen encoding', async () => {
    const { wsocket, peer } = await linePair({ lineEnd: ';', encoding: 'latin1' });
    const received = new Received(peer);
    wsocket.sendLine('caf\u00e9');
    wsocket.sendLine('');
    await received.untilBytes(6);
    expect(received.bytes).toEqual(Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x3b, 0x3b]));
  });

  test('a reply sent from onLine reaches the peer, line by line', async () => {
    class Echo extends TWSocket {
      protected override onLine(line: string): void {
        this.sendLine(`echo ${line}`);
      }
    }
    const { peer } = await loop.pair(new Echo({ lineMode: true }));
    const received = new Received(peer);
    peer.write('a\r\nb\r\n');
    await received.untilText('echo b\r\n');
    expect(received.text).toBe('echo a\r\necho b\r\n');
  });

  test('two TWSockets, client mode against server side, talk in lines', async () => {
    class Upper extends TWSocket {
      protected override onLine(line: string): void {
        this.sendLine(line.toUpperCase());
      }
    }
    const server = await loop.listen((socket) => loop.own(new Upper({ lineMode: true, lineEnd: '\n' })).attach(socket));
    const client = loop.own(new TWSocket({ lineMode: true, lineEnd: '\n' }));
    const lines = new Recorder<string>(client, 'line');
    await client.connect('127.0.0.1', portOf(server));
    client.sendLine('abc');
    client.sendLine('déf');
    expect(await lines.count(2)).toEqual(['ABC', 'DÉF']);
  });
});

describe('TWSocket final partial line', () => {
  test('the unfinished line is delivered when the peer ends, before sessionClosed', async () => {
    const { wsocket, peer } = await linePair();
    const events: string[] = [];
    wsocket.on('line', (line) => events.push(`line ${line}`));
    wsocket.on('sessionClosed', () => events.push('closed'));
    peer.end('a\r\npartial');
    await once(wsocket, 'sessionClosed');
    expect(events).toEqual(['line a', 'line partial', 'closed']);
  });

  test('on a half-close, the handler can still reply to the final line; then our side ends', async () => {
    class Answer extends TWSocket {
      protected override onLine(line: string): void {
        this.sendLine(`got ${line}`);
      }
    }
    const { peer } = await loop.pair(new Answer({ lineMode: true }));
    const received = new Received(peer);
    peer.end('first\r\nlast words');
    expect((await received.untilEnd()).toString()).toBe('got first\r\ngot last words\r\n');
  });

  test('nothing extra is delivered when the stream ended on a line end', async () => {
    const { wsocket, peer, lines } = await linePair();
    peer.end('a\r\n');
    await once(wsocket, 'sessionClosed');
    expect(lines.values).toEqual(['a']);
  });

  test('lineAcceptLf: a final line ending in CR loses that CR like any other line', async () => {
    const { wsocket, peer, lines } = await linePair({ lineAcceptLf: true });
    peer.end('last\r');
    await once(wsocket, 'sessionClosed');
    expect(lines.values).toEqual(['last']);
  });
});
