import { TWSocket, WSocketOptions } from '../src';
import { Loopback, Received, Recorder, writeNow } from './helpers';

const loop = new Loopback();
afterEach(() => loop.dispose());

/** Answers each line, so the peer can tell the echo of a line from the reply to it. */
class Answer extends TWSocket {
  protected override onLine(line: string): void {
    super.onLine(line);
    this.sendLine(`[${line}]`);
  }
}

async function typing(options: WSocketOptions) {
  const wsocket = new Answer({ lineMode: true, ...options });
  const lines = new Recorder<string>(wsocket, 'line');
  const { peer } = await loop.pair(wsocket);
  const received = new Received(peer);
  return { wsocket, peer, lines, received };
}

describe('lineEcho', () => {
  test('every received byte is sent back, before the reply to the line', async () => {
    const { peer, received } = await typing({ lineEcho: true });
    await writeNow(peer, 'hel');
    await received.untilText('hel');
    await writeNow(peer, 'lo\r\n');
    await received.untilText('[hello]\r\n');
    expect(received.text).toBe('hello\r\n[hello]\r\n');
  });

  test('is off by default', async () => {
    const { peer, received } = await typing({});
    peer.write('quiet\r\n');
    await received.untilText('[quiet]\r\n');
    expect(received.text).toBe('[quiet]\r\n');
  });
});

describe('lineEdit', () => {
  test('backspace erases, including a byte that arrived in an earlier packet', async () => {
    const { peer, lines, received } = await typing({ lineEdit: true, lineEcho: true });
    await writeNow(peer, 'abc');
    await received.untilText('abc');
    await writeNow(peer, '\b\bX\r\n');
    expect(await lines.count(1)).toEqual(['aX']);
    await received.untilText('[aX]\r\n');
    expect(received.text).toBe('abc\b \b\b \bX\r\n[aX]\r\n');
  });

  test('DEL erases like BS; an erase at the start of a line does nothing', async () => {
    const { peer, lines } = await typing({ lineEdit: true });
    peer.write('\x7fab\x7f\r\nz\r\n');
    expect(await lines.count(2)).toEqual(['a', 'z']);
  });

  test('TAB expands to the next multiple of 8 columns, counting across packets', async () => {
    const { peer, lines, received } = await typing({ lineEdit: true, lineEcho: true });
    await writeNow(peer, 'abc');
    await received.untilText('abc');
    await writeNow(peer, '\tZ\r\n');
    expect(await lines.count(1)).toEqual(['abc     Z']);
    await received.untilText('[abc     Z]\r\n');
    expect(received.text).toBe('abc     Z\r\n[abc     Z]\r\n');
  });

  test('with lineAcceptLf, erasing never crosses a bare LF', async () => {
    const { peer, lines } = await typing({ lineEdit: true, lineAcceptLf: true });
    peer.write('one\n\btwo\n');
    expect(await lines.count(2)).toEqual(['one', 'two']);
  });

  test('with a custom lineEnd, erasing never crosses it', async () => {
    const { peer, lines } = await typing({ lineEdit: true, lineEnd: ';' });
    peer.write('ab;\bc;');
    expect(await lines.count(2)).toEqual(['ab', 'c']);
  });

  test('without lineEdit, BS and TAB are ordinary bytes', async () => {
    const { peer, lines } = await typing({});
    peer.write('a\bb\tc\r\n');
    expect(await lines.count(1)).toEqual(['a\bb\tc']);
  });
});
