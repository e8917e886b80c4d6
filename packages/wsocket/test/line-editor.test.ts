import { LineEditor, LineSplitter } from '../src';

/** Types `chunks` (as packets) through a LineEditor in front of a LineSplitter, as TWSocket does. */
function type(chunks: string[], lineEnd = '\r\n', echo = true) {
  const lines: string[] = [];
  const echoed: string[] = [];
  const delimiter = Buffer.from(lineEnd, 'latin1');
  const splitter = new LineSplitter(delimiter, 0, {
    deliverLine: (line) => (lines.push(line.toString('latin1')), true),
    lineLimitExceeded: () => 'discard',
  });
  const editor = new LineEditor(delimiter);
  for (const chunk of chunks) {
    const edited = editor.edit(Buffer.from(chunk, 'latin1'), splitter, echo);
    if (edited.echo) echoed.push(edited.echo.toString('latin1'));
    splitter.push(edited.data);
  }
  return { lines, echo: echoed.join(''), held: splitter.flush()?.toString('latin1') ?? '' };
}

const ERASE = '\b \b';

describe('LineEditor backspace', () => {
  test('BS and DEL erase the previous byte and echo BS SP BS', () => {
    expect(type(['abx\bc\x7fd\r\n'])).toEqual({ lines: ['abd'], echo: `abx${ERASE}c${ERASE}d\r\n`, held: '' });
  });

  test('erases a byte that arrived in an earlier packet', () => {
    expect(type(['abc', '\b\bZ\r\n']).lines).toEqual(['aZ']);
  });

  test('at the start of a line it erases nothing and echoes nothing', () => {
    expect(type(['\b\x7fab\r\n'])).toEqual({ lines: ['ab'], echo: 'ab\r\n', held: '' });
  });

  test('never erases into the previous line, in the same packet or after it', () => {
    expect(type(['ab\r\n\bcd\r\n']).lines).toEqual(['ab', 'cd']);
    expect(type(['ab\r\n', '\bcd\r\n']).lines).toEqual(['ab', 'cd']);
  });

  test('never erases into the previous line with a custom line end either', () => {
    expect(type(['ab;\bc;'], ';').lines).toEqual(['ab', 'c']);
    expect(type(['abEND\bc', 'END'], 'END').lines).toEqual(['ab', 'c']);
  });

  test('a line end begun in an earlier packet and completed in this one is not erased', () => {
    expect(type(['ab\r', '\n\bc\r\n']).lines).toEqual(['ab', 'c']);
    expect(type(['abE', 'ND\bc', 'END'], 'END').lines).toEqual(['ab', 'c']);
  });

  test('erasing part of a line end means it no longer ends the line', () => {
    expect(type(['abEN\bXD'], 'END')).toEqual({ lines: [], echo: `abEN${ERASE}XD`, held: 'abEXD' });
    expect(type(['ab\r', '\b\n\r\n']).lines).toEqual(['ab\n']);
  });

  test('without echo, nothing is returned to send back', () => {
    const editor = new LineEditor(Buffer.from('\r\n'));
    const held = { dropLastByte: () => false, endsWith: () => false };
    expect(editor.edit(Buffer.from('a\b\tb'), held, false).echo).toBeUndefined();
  });
});

describe('LineEditor TAB', () => {
  test('expands to the next multiple of 8 columns', () => {
    expect(type(['\tx\r\n']).lines).toEqual([' '.repeat(8) + 'x']);
    expect(type(['a\tb\r\n']).lines).toEqual(['a' + ' '.repeat(7) + 'b']);
    expect(type(['1234567\t8\r\n']).lines).toEqual(['1234567 8']);
    expect(type(['12345678\t9\r\n']).lines).toEqual(['12345678' + ' '.repeat(8) + '9']);
  });

  test('echoes the spaces it expanded to', () => {
    expect(type(['ab\t\r\n']).echo).toBe('ab      \r\n');
  });

  test('counts columns across packets, and from 0 again on each line', () => {
    expect(type(['abc', '\tZ\r\n', '\tY\r\n']).lines).toEqual(['abc' + ' '.repeat(5) + 'Z', ' '.repeat(8) + 'Y']);
  });

  test('an erase moves the column back', () => {
    expect(type(['abc\b\tZ\r\n']).lines).toEqual(['ab' + ' '.repeat(6) + 'Z']);
  });
});

describe('LineEditor construction', () => {
  test('rejects an empty line end', () => {
    expect(() => new LineEditor(Buffer.alloc(0))).toThrow(RangeError);
  });
});
