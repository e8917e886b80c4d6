import { LineLimitAction, LineSplitter } from '../src';
import { random, randomInt } from './helpers';
import { splitterTextPath } from './splitter-text-path';

interface Run {
  lines: string[];
  exceeded: number[];
  splitter: LineSplitter;
  push(chunk: string | Buffer): Buffer | undefined;
}

interface RunOptions {
  limit?: number;
  onLimit?: LineLimitAction;
  /** Return false from the sink after the line with this text. */
  stopAfter?: string;
}

function splitterFor(delimiter: string, options: RunOptions = {}): Run {
  const lines: string[] = [];
  const exceeded: number[] = [];
  const deliver = (text: string) => {
    lines.push(text);
    return text !== options.stopAfter;
  };
  const sink = {
    deliverLine: (line: Buffer) => deliver(line.toString('latin1')),
    lineLimitExceeded(length: number) {
      exceeded.push(length);
      return options.onLimit ?? 'discard';
    },
  };
  // line-splitter-text.test.ts runs every case again through the text path.
  const textPath = splitterTextPath.encoding;
  const splitter = new LineSplitter(
    Buffer.from(delimiter, 'latin1'),
    options.limit ?? 0,
    textPath ? { ...sink, textEncoding: () => textPath, deliverText: deliver } : sink,
  );
  const push = (chunk: string | Buffer) => splitter.push(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk);
  return { lines, exceeded, splitter, push };
}

function split(delimiter: string, chunks: string[], options: RunOptions = {}): Run {
  const run = splitterFor(delimiter, options);
  for (const chunk of chunks) run.push(chunk);
  return run;
}

/** The truth: leftmost, non-overlapping occurrences in the whole stream; the tail is not a line. */
function reference(stream: string, delimiter: string): { lines: string[]; tail: string } {
  const lines: string[] = [];
  let pos = 0;
  for (;;) {
    const idx = stream.indexOf(delimiter, pos);
    if (idx < 0) return { lines, tail: stream.slice(pos) };
    lines.push(stream.slice(pos, idx));
    pos = idx + delimiter.length;
  }
}

/** Offsets may repeat, giving an empty chunk: that case must be harmless too. */
function cut(stream: string, at: number[]): string[] {
  const chunks: string[] = [];
  let prev = 0;
  for (const point of at) {
    chunks.push(stream.slice(prev, point));
    prev = point;
  }
  chunks.push(stream.slice(prev));
  return chunks;
}

/** Every way to cut `stream` into three chunks (two cut points) must frame it like the reference. */
function expectEverySplitMatches(stream: string, delimiter: string): void {
  const expected = reference(stream, delimiter);
  for (let i = 0; i <= stream.length; i++) {
    for (let j = i; j <= stream.length; j++) {
      const run = split(delimiter, cut(stream, [i, j]));
      const tail = run.splitter.flush()?.toString('latin1') ?? '';
      const context = `cuts ${i},${j} of ${JSON.stringify(stream)}`;
      expect({ context, lines: run.lines, tail }).toEqual({ context, ...expected });
    }
  }
}

describe('LineSplitter framing', () => {
  test('several lines in one chunk', () => {
    const run = split('\r\n', ['one\r\ntwo\r\nthree\r\n']);
    expect(run.lines).toEqual(['one', 'two', 'three']);
    expect(run.splitter.pendingBytes).toBe(0);
  });

  test('one line split across many chunks', () => {
    const run = split('\r\n', ['he', 'llo', ' ', 'wor', 'ld', '\r\n']);
    expect(run.lines).toEqual(['hello world']);
  });

  test('CRLF split between two chunks', () => {
    const run = split('\r\n', ['abc\r', '\ndef\r\n']);
    expect(run.lines).toEqual(['abc', 'def']);
  });

  test('a CR not followed by LF stays in the line, whether or not the chunk ends after it', () => {
    expect(split('\r\n', ['a\rb\r\n']).lines).toEqual(['a\rb']);
    expect(split('\r\n', ['a\r', 'b\r\n']).lines).toEqual(['a\rb']);
    expect(split('\r\n', ['a\r', '\r', '\n']).lines).toEqual(['a\r']);
  });

  test('empty lines are delivered as empty strings', () => {
    expect(split('\r\n', ['\r\n\r\nx\r\n\r\n']).lines).toEqual(['', '', 'x', '']);
    expect(split('\r\n', ['\r', '\n', '\r', '\n']).lines).toEqual(['', '']);
  });

  test('a partial line is held, not delivered', () => {
    const run = split('\r\n', ['abc', 'de']);
    expect(run.lines).toEqual([]);
    expect(run.splitter.pendingBytes).toBe(5);
  });

  test('an empty chunk changes nothing, even in the middle of a line end', () => {
    const run = split('\r\n.\r\n', ['a\r\n', '', '.', '', '\r\n', '']);
    expect(run.lines).toEqual(['a']);
  });

  test('a single-byte delimiter', () => {
    expect(split('\0', ['a\0b', 'c\0\0']).lines).toEqual(['a', 'bc', '']);
  });

  test('a line inside one chunk is a slice of it, not a copy', () => {
    const chunk = Buffer.from('abc\r\n', 'latin1');
    const seen: Buffer[] = [];
    const splitter = new LineSplitter(Buffer.from('\r\n'), 0, {
      deliverLine: (line) => (seen.push(line), true),
      lineLimitExceeded: () => 'discard',
    });
    splitter.push(chunk);
    expect(seen[0].buffer).toBe(chunk.buffer);
  });

  test('rejects an empty delimiter', () => {
    const sink = { deliverLine: () => true, lineLimitExceeded: () => 'discard' as const };
    expect(() => new LineSplitter(Buffer.alloc(0), 0, sink)).toThrow(RangeError);
  });
});

describe('LineSplitter with a delimiter split at every possible position', () => {
  test('CRLF', () => {
    expectEverySplitMatches('ab\r\n\r\nc\rd\r\r\ne\r', '\r\n');
  });

  test('"END"', () => {
    expectEverySplitMatches('OPENEND\nENENDEND xEN', 'END');
  });

  test('SMTP end of data "\\r\\n.\\r\\n"', () => {
    expectEverySplitMatches('Hi\r\n.\r.\r\n\r\n.\r\n.\r\n.\r\n\r\n.x', '\r\n.\r\n');
  });

  test('self-overlapping "aab"', () => {
    expectEverySplitMatches('aaabaabaaaabbaab aaa', 'aab');
  });

  test('self-overlapping "abab"', () => {
    expectEverySplitMatches('abababaababbabab ababa', 'abab');
  });

  test('"aaa"', () => {
    expectEverySplitMatches('aaaaaaaabaaaaa', 'aaa');
  });

  test('random streams over a two-letter alphabet, random chunking', () => {
    const rnd = random(1);
    for (const delimiter of ['aab', 'abab', 'abaab', 'aa', 'ab', 'aabaa']) {
      for (let round = 0; round < 300; round++) {
        const length = randomInt(rnd, 0, 40);
        let stream = '';
        for (let i = 0; i < length; i++) stream += rnd() < 0.6 ? 'a' : 'b';
        const cuts: number[] = [];
        for (let i = randomInt(rnd, 0, 6); i > 0; i--) cuts.push(randomInt(rnd, 0, length));
        cuts.sort((x, y) => x - y);
        const run = split(delimiter, cut(stream, cuts));
        const tail = run.splitter.flush()?.toString('latin1') ?? '';
        expect({ stream, cuts, lines: run.lines, tail }).toEqual({ stream, cuts, ...reference(stream, delimiter) });
      }
    }
  });

  test('1-byte chunks of a long stream', () => {
    const rnd = random(2);
    const delimiter = '\r\n.\r\n';
    let stream = '';
    for (let i = 0; i < 40_000; i++) stream += ['\r', '\n', '.', 'x'][randomInt(rnd, 0, 3)];
    const run = split(delimiter, [...stream]);
    const tail = run.splitter.flush()?.toString('latin1') ?? '';
    const expected = reference(stream, delimiter);
    expect(expected.lines.length).toBeGreaterThan(10);
    expect({ lines: run.lines, tail }).toEqual(expected);
  });
});

describe('LineSplitter lineLimit', () => {
  test('a line of exactly the limit is delivered, whatever the split', () => {
    const stream = '12345\r\nok\r\n';
    for (let i = 0; i <= stream.length; i++) {
      const run = split('\r\n', cut(stream, [i]), { limit: 5 });
      expect({ i, lines: run.lines, exceeded: run.exceeded }).toEqual({ i, lines: ['12345', 'ok'], exceeded: [] });
    }
  });

  test('a line one byte over the limit is dropped whole, whatever the split; the next line is intact', () => {
    const stream = 'a\r\n123456\r\nok\r\n';
    for (let i = 0; i <= stream.length; i++) {
      for (let j = i; j <= stream.length; j++) {
        const run = split('\r\n', cut(stream, [i, j]), { limit: 5 });
        expect({ i, j, lines: run.lines, reports: run.exceeded.length }).toEqual({ i, j, lines: ['a', 'ok'], reports: 1 });
      }
    }
  });

  test('random streams and chunkings: the outcome never depends on the split', () => {
    const rnd = random(5);
    for (const [delimiter, onLimit] of [['\r\n', 'discard'], ['aab', 'discard'], ['abab', 'keep'], ['\r\n.\r\n', 'discard']] as const) {
      for (let round = 0; round < 300; round++) {
        const limit = randomInt(rnd, 1, 8);
        let stream = '';
        for (let i = randomInt(rnd, 0, 60); i > 0; i--) stream += 'ab\r\n.'[randomInt(rnd, 0, 4)];
        stream += delimiter;
        const whole = reference(stream, delimiter).lines;
        const expected = {
          lines: onLimit === 'keep' ? whole : whole.filter((line) => line.length <= limit),
          reports: whole.filter((line) => line.length > limit).length,
        };
        const cuts: number[] = [];
        for (let i = randomInt(rnd, 0, 8); i > 0; i--) cuts.push(randomInt(rnd, 0, stream.length));
        cuts.sort((x, y) => x - y);
        const run = split(delimiter, cut(stream, cuts), { limit, onLimit });
        expect({ stream, cuts, limit, lines: run.lines, reports: run.exceeded.length }).toEqual({ stream, cuts, limit, ...expected });
      }
    }
  });

  test('discard: an over-long line in one chunk is dropped, the next delivered', () => {
    const run = split('\r\n', ['first\r\n' + 'x'.repeat(20) + '\r\nnext\r\n'], { limit: 10 });
    expect(run.lines).toEqual(['first', 'next']);
    expect(run.exceeded).toEqual([20]);
  });

  test('discard: a line growing over many chunks is dropped up to its line end, not cut into a tail line', () => {
    const run = split('\r\n', ['xxxxxx', 'xxxxxx', 'xxxxxx', 'tail\r', '\nnext\r\n'], { limit: 10 });
    expect(run.lines).toEqual(['next']);
    expect(run.exceeded).toHaveLength(1);
    expect(run.exceeded[0]).toBeGreaterThan(10);
  });

  test('discard never holds more than limit + lineEnd - 1 bytes while an endless line streams in', () => {
    const run = splitterFor('\r\n.\r\n', { limit: 100 });
    let mostHeld = 0;
    for (let i = 0; i < 100_000; i++) {
      run.push(i % 7 === 0 ? '\r\n' : 'y');
      mostHeld = Math.max(mostHeld, run.splitter.pendingBytes);
    }
    expect(mostHeld).toBeLessThanOrEqual(100 + '\r\n.\r\n'.length - 1);
    run.push('\r\n.\r\nafter\r\n.\r\n');
    expect(run.lines).toEqual(['after']);
    expect(run.exceeded).toHaveLength(1);
  });

  test('discard finds a line end that arrives split after the drop', () => {
    const run = split('\r\n.\r\n', ['z'.repeat(50) + '\r\n', '.', '\r', '\nok\r\n.\r\n'], { limit: 10 });
    expect(run.lines).toEqual(['ok']);
  });

  test('keep: the over-long line is delivered whole and reported once', () => {
    const one = split('\r\n', ['x'.repeat(30) + '\r\n'], { limit: 10, onLimit: 'keep' });
    expect(one.lines).toEqual(['x'.repeat(30)]);
    expect(one.exceeded).toEqual([30]);

    const many = split('\r\n', ['x'.repeat(12), 'x'.repeat(12), 'x'.repeat(6) + '\r\nshort\r\n'], { limit: 10, onLimit: 'keep' });
    expect(many.lines).toEqual(['x'.repeat(30), 'short']);
    expect(many.exceeded).toHaveLength(1);
  });

  test('keep: the limit applies again to the next line', () => {
    const run = split('\r\n', ['x'.repeat(12), '\r\n' + 'y'.repeat(12), '\r\n'], { limit: 10, onLimit: 'keep' });
    expect(run.lines).toEqual(['x'.repeat(12), 'y'.repeat(12)]);
    expect(run.exceeded).toEqual([12, 12]);
  });

  test('close in one chunk: nothing more is delivered and nothing handed back', () => {
    const run = splitterFor('\r\n', { limit: 5, onLimit: 'close' });
    expect(run.push('ok\r\ntoo long\r\nlater\r\n')).toBeUndefined();
    expect(run.push('more\r\n')).toBeUndefined();
    expect(run.lines).toEqual(['ok']);
    expect(run.exceeded).toEqual([8]);
    expect(run.splitter.flush()).toBeUndefined();
  });

  test('close over many chunks: nothing more is delivered and nothing handed back', () => {
    const run = splitterFor('\r\n', { limit: 5, onLimit: 'close' });
    run.push('ok\r\nabc');
    expect(run.push('defgh')).toBeUndefined();
    expect(run.push('\r\nlater\r\n')).toBeUndefined();
    expect(run.lines).toEqual(['ok']);
    expect(run.exceeded).toHaveLength(1);
    expect(run.splitter.flush()).toBeUndefined();
  });

  test('limit 0 means no limit', () => {
    const run = split('\r\n', ['x'.repeat(200_000), '\r\n']);
    expect(run.lines[0]).toHaveLength(200_000);
    expect(run.exceeded).toEqual([]);
  });
});

describe('LineSplitter flush', () => {
  test('returns the partial line and empties the splitter', () => {
    const run = split('\r\n', ['a\r\npar', 'tial']);
    expect(run.splitter.flush()?.toString()).toBe('partial');
    expect(run.splitter.pendingBytes).toBe(0);
    expect(run.splitter.flush()).toBeUndefined();
  });

  test('returns the bytes of a line end not yet complete as they are', () => {
    const run = split('\r\n.\r\n', ['abc\r\n.']);
    expect(run.splitter.flush()?.toString()).toBe('abc\r\n.');
  });

  test('after a flush, a line end begun before it is not completed by the next chunk', () => {
    const run = split('\r\n', ['abc\r']);
    run.splitter.flush();
    run.push('\nxyz\r\n');
    expect(run.lines).toEqual(['\nxyz']);
  });

  test('returns nothing while an over-long line is being discarded', () => {
    const run = split('\r\n', ['x'.repeat(20)], { limit: 10 });
    expect(run.splitter.flush()).toBeUndefined();
    run.push('fresh\r\n');
    expect(run.lines).toEqual(['fresh']);
  });
});

describe('LineSplitter stopped by the sink', () => {
  test('push returns the bytes after the line', () => {
    const run = splitterFor('\r\n', { stopAfter: 'STOP' });
    const rest = run.push('a\r\nSTOP\r\nb\r\nc');
    expect(run.lines).toEqual(['a', 'STOP']);
    expect(rest?.toString()).toBe('b\r\nc');
    expect(run.splitter.pendingBytes).toBe(0);
  });

  test('push returns an empty buffer (not undefined) when the stop was the last byte', () => {
    const run = splitterFor('\r\n', { stopAfter: 'STOP' });
    const rest = run.push('STOP\r\n');
    expect(rest).toBeDefined();
    expect(rest).toHaveLength(0);
  });

  test('a stop on a line end completed across chunks returns the rest of the second chunk', () => {
    const run = splitterFor('\r\n', { stopAfter: 'STOP' });
    expect(run.push('STOP\r')).toBeUndefined();
    expect(run.push('\nraw\r\nbytes')?.toString()).toBe('raw\r\nbytes');
  });

  test('the splitter goes on from where it stopped when pushed the rest again', () => {
    let stops = 1;
    const lines: string[] = [];
    const splitter = new LineSplitter(Buffer.from('\n'), 0, {
      deliverLine: (line) => (lines.push(line.toString()), stops-- <= 0),
      lineLimitExceeded: () => 'discard',
    });
    const rest = splitter.push(Buffer.from('a\nb\nc'));
    splitter.push(rest!);
    splitter.push(Buffer.from('\n'));
    expect(lines).toEqual(['a', 'b', 'c']);
  });
});

describe('LineSplitter dropLastByte (line editing)', () => {
  test('removes the last byte of the partial line, across chunks', () => {
    const run = split('\r\n', ['ab', 'cd']);
    expect(run.splitter.dropLastByte()).toBe(true);
    expect(run.splitter.dropLastByte()).toBe(true);
    run.push('X\r\n');
    expect(run.lines).toEqual(['abX']);
  });

  test('removing the started line end means the rest of it no longer ends the line', () => {
    const run = split('\r\n', ['ab\r']);
    run.splitter.dropLastByte();
    run.push('\n\r\n');
    expect(run.lines).toEqual(['ab\n']);
  });

  test('returns false when no partial line is held', () => {
    const run = split('\r\n', ['done\r\n']);
    expect(run.splitter.dropLastByte()).toBe(false);
  });
});

describe('takeLineBegan (the line clock of lineTimeout)', () => {
  test('tells a new unfinished line from one that goes on, without work per chunk', () => {
    const lines: string[] = [];
    const splitter = new LineSplitter(Buffer.from('\r\n'), 0, {
      deliverLine: (line) => (lines.push(line.toString('latin1')), true),
      lineLimitExceeded: () => 'discard',
    });
    expect(splitter.takeLineBegan()).toBe(false);
    splitter.push(Buffer.from('ab'));
    expect([splitter.midLine, splitter.takeLineBegan()]).toEqual([true, true]);
    expect(splitter.takeLineBegan()).toBe(false); // asked: cleared
    splitter.push(Buffer.from('c'));
    expect([splitter.midLine, splitter.takeLineBegan()]).toEqual([true, false]); // the same line goes on
    splitter.push(Buffer.from('\r\nde'));
    expect([splitter.midLine, splitter.takeLineBegan()]).toEqual([true, true]); // one ended, another began
    splitter.push(Buffer.from('\r\n'));
    expect([splitter.midLine, splitter.takeLineBegan()]).toEqual([false, false]);
    expect(lines).toEqual(['abc', 'de']);
  });
});
