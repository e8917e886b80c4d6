import { CliProcess } from './support/cli-process';
import { LineClient } from './support/line-client';

/**
 * Random requests to the command sample served by the CLI (a real process,
 * real sockets): every non-blank line gets exactly one reply, `+OK` or
 * `-ERR`, on one line with no raw control or bidi character; the connection
 * is never dropped; nothing reaches stderr. Issue 11: `TIME x\ry` threw a
 * TypeError, the peer got no reply and stderr got a stack per request.
 *
 * The generator is seeded (FUZZ_SEED=n to replay a failure).
 */

jest.setTimeout(120_000);
afterEach(() => CliProcess.killAll());

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
const PEERS = 4;
const LINES_PER_PEER = 300;

/** mulberry32: small, seedable, good enough to pick test input. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ['TIME', 'time', 'HELP', 'help', 'Help TIME', 'FROB', ' ', ' ', '\t'];
const TRICKY = ['\r', '\u2028', '\u2029', '\u0085', '\u202e', '\u2066', '\u009b', '\u0000', '\u001b[2J', '\u007f', '\ufeff', '\u00a0', 'é', '漢', '😀', '"', '\\'];

function randomLine(next: () => number): Buffer {
  if (next() < 0.03) {
    // Over lineLimit (1024): answered once, "line too long".
    return Buffer.from(Array.from({ length: 1500 }, () => 0x20 + Math.floor(next() * 0x5f)));
  }
  const parts: Buffer[] = [];
  const length = Math.floor(next() * 60);
  for (let i = 0; i < length; i++) {
    const kind = next();
    if (kind < 0.35) {
      let byte = Math.floor(next() * 256);
      if (byte === 0x0a) byte = 0x0d; // LF ends the line: the generator decides where lines end
      parts.push(Buffer.of(byte)); // raw: half-characters and invalid UTF-8 included
    } else if (kind < 0.6) parts.push(Buffer.from(WORDS[Math.floor(next() * WORDS.length)]));
    else parts.push(Buffer.from(TRICKY[Math.floor(next() * TRICKY.length)]));
  }
  return Buffer.concat(parts);
}

/** What the protocol promises for one request line: blank (Unicode white space only) gets no reply. */
function repliesExpected(line: Buffer): number {
  if (line.length > 1024) return 1;
  return line.toString('utf8').trim() === '' ? 0 : 1;
}

function firstWord(line: Buffer): string {
  return line.toString('utf8').trim().split(/\s/)[0].toUpperCase();
}

const SAFE_REPLY = /^(\+OK|-ERR) [^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*$/;

test(`random bytes and lines: one reply per non-blank line, never a drop, never a stack (seed ${SEED})`, async () => {
  const cli = new CliProcess(['--client', 'command', '--port', '0', '--quiet']);
  const { port } = await cli.listening();
  const next = random(SEED);
  const runs = Array.from({ length: PEERS }, async (_, index) => {
    const lines: Buffer[] = [];
    while (lines.length < LINES_PER_PEER) {
      const line = randomLine(next);
      if (line.length <= 1024 && firstWord(line) === 'QUIT') continue; // QUIT ends the run
      lines.push(line);
    }
    const expected = lines.reduce((sum, line) => sum + repliesExpected(line), 0);
    // Sent in random slices, so lines and UTF-8 sequences are cut across reads.
    const stream = Buffer.concat([...lines.flatMap((line) => [line, Buffer.from('\n')]), Buffer.from('QUIT\r\n')]);
    const peer = new LineClient(port);
    await peer.connected;
    for (let at = 0; at < stream.length; ) {
      const size = 1 + Math.floor(next() * 700);
      peer.socket.write(stream.subarray(at, at + size));
      at += size;
    }
    const replies = await peer.rest(); // the server closes after "+OK bye"
    peer.destroy();
    const got = { peer: index, replies: replies.length, lastReply: replies[replies.length - 1], partial: peer.partial };
    expect(got).toEqual({ peer: index, replies: expected + 2, lastReply: '+OK bye', partial: '' }); // + greeting + bye
    for (const reply of replies) expect(reply).toMatch(SAFE_REPLY);
    return expected;
  });
  const answered = await Promise.all(runs);
  cli.child.kill('SIGTERM');
  expect(await cli.finished()).toEqual({ code: 0, signal: null });
  expect(cli.stderr).toBe('');
  console.log(`command fuzz (seed ${SEED}): ${PEERS * LINES_PER_PEER} random lines, ${answered.reduce((a, b) => a + b, 0)} answered, stderr empty`);
});
