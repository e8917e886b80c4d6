import { LineSplitter } from '../src';
import { splitterTextPath } from './splitter-text-path';

// Every LineSplitter case again, with a sink that takes the text path (latin1:
// one character per byte), so both paths answer alike at every split point.
splitterTextPath.encoding = 'latin1';
require('./line-splitter.test');

// These check which path served which line.
describe('text path after a partial line', () => {
  function recorder(delimiter: string) {
    const seen: string[] = [];
    const splitter = new LineSplitter(Buffer.from(delimiter, 'latin1'), 0, {
      deliverLine: (line: Buffer) => (seen.push(`bytes:${line.toString('latin1')}`), true),
      lineLimitExceeded: () => 'discard',
      textEncoding: () => 'latin1',
      deliverText: (line: string) => (seen.push(`text:${line}`), true),
    });
    const push = (text: string) => splitter.push(Buffer.from(text, 'latin1'));
    return { seen, splitter, push };
  }

  test('the chunk that finishes a held line frames the lines after it as text', () => {
    const { seen, splitter, push } = recorder('\r\n');
    push('ab');
    push('c\r\nline2\r\nline3\r\npart');
    expect(seen).toEqual(['bytes:abc', 'text:line2', 'text:line3']);
    expect(splitter.pendingBytes).toBe(4);
    push('\r\n');
    expect(seen.at(-1)).toBe('bytes:part');
  });

  test('one byte per chunk, a five-byte delimiter and a self-overlapping one: the same lines as one chunk', () => {
    for (const [delimiter, stream] of [
      ['\r\n.\r\n', 'one\r\n.\r\ntwo\r\n\r\n.\r\nthree\r\n.\r'],
      ['aab', 'xaaab1aaabaab2aa'],
    ]) {
      const whole = recorder(delimiter);
      whole.push(stream);
      const bytes = recorder(delimiter);
      for (const ch of stream) bytes.push(ch);
      expect(bytes.seen.map((s) => s.slice(s.indexOf(':') + 1))).toEqual(whole.seen.map((s) => s.slice(s.indexOf(':') + 1)));
      expect(bytes.splitter.pendingBytes).toBe(whole.splitter.pendingBytes);
    }
  });
});
