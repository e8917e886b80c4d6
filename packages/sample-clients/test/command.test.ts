import { once } from 'node:events';
import { COMMANDS, LineCommandClient } from '../src';
import { Harness } from './support/harness';

const harness = new Harness();
afterEach(() => harness.cleanup());

async function connect(banner = '') {
  const server = await harness.server<LineCommandClient>({ clientClass: 'command', banner });
  const peer = await harness.connect(server);
  return { server, peer };
}

test('greets with +OK, the default greeting when the server has no banner', async () => {
  const { peer } = await connect();
  expect(await peer.line()).toBe('+OK ics-ts command server ready, HELP lists the commands');
  const { peer: other } = await connect('demo server');
  expect(await other.line()).toBe('+OK demo server');
});

test('HELP lists the commands; HELP <command> describes one; any case works', async () => {
  const { peer } = await connect();
  await peer.line();
  peer.sendLine('help');
  expect(await peer.line()).toBe('+OK commands: HELP, TIME, QUIT (HELP <command> for details)');
  peer.sendLine('HeLp time');
  expect(await peer.line()).toBe("+OK TIME: the server's date and time, ISO 8601 in UTC");
  peer.sendLine('HELP nope');
  expect(await peer.line()).toBe('-ERR no command "nope"');
});

test('TIME answers an ISO 8601 UTC time; it takes no arguments', async () => {
  const { peer } = await connect();
  await peer.line();
  peer.send('time\n'); // a bare LF ends a line too
  const reply = await peer.line();
  expect(reply).toMatch(/^\+OK \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  expect(new Date(reply.slice(4)).toISOString()).toBe(reply.slice(4));
  peer.sendLine('TIME please');
  expect(await peer.line()).toBe('-ERR TIME takes no arguments (usage: TIME)');
});

test('an unknown command, blank lines and an over-long line are answered without closing', async () => {
  const { peer } = await connect();
  await peer.line();
  peer.sendLine('');
  peer.sendLine('   ');
  peer.sendLine('FROB 1 2');
  // Blank lines get no reply: the next line answers FROB.
  expect(await peer.line()).toBe('-ERR unknown command "FROB", HELP lists the commands');
  peer.sendLine('x'.repeat(5000));
  expect(await peer.line()).toBe('-ERR line too long (over 1024 bytes)');
  peer.sendLine('help');
  expect(await peer.line()).toMatch(/^\+OK commands: /);
});

test('QUIT says goodbye and the server closes the connection', async () => {
  const { server, peer } = await connect();
  await peer.line();
  const gone = once(server, 'clientDisconnect');
  peer.sendLine('quit');
  expect(await peer.line()).toBe('+OK bye');
  expect(await peer.rest()).toEqual([]);
  await gone;
  expect(server.clientCount).toBe(0);
});

test('a subclass serves more commands from its own table', async () => {
  class Shouting extends LineCommandClient {
    protected override get commandTable() {
      return {
        ...COMMANDS,
        SHOUT: {
          usage: 'SHOUT text',
          summary: 'says it louder',
          takesArgs: true,
          run: (client: LineCommandClient, args: string) => client.ok(args.toUpperCase()),
        },
      };
    }
  }
  const server = await harness.server({ clientClass: Shouting });
  const peer = await harness.connect(server);
  await peer.line();
  peer.sendLine('shout hello there');
  expect(await peer.line()).toBe('+OK HELLO THERE');
  peer.sendLine('HELP');
  expect(await peer.line()).toBe('+OK commands: HELP, TIME, QUIT, SHOUT (HELP <command> for details)');
});

describe('hostile requests (issue 11: a CR or U+2028 in the arguments threw a TypeError)', () => {
  test('any character in the arguments: CR, U+2028, NEL, NUL, ESC; answered, never a dropped connection', async () => {
    const { server, peer } = await connect();
    const exceptions: unknown[] = [];
    server.on('bgException', (error) => exceptions.push(error));
    await peer.line();
    const cases: [string, string][] = [
      ['TIME x\ry', '-ERR TIME takes no arguments (usage: TIME)'],
      ['TIME x\u2028y', '-ERR TIME takes no arguments (usage: TIME)'],
      ['TIME \u2028', ''], // trailing white space only: TIME itself
      ['time\u0085now', '-ERR unknown command "time\\u0085now", HELP lists the commands'], // NEL is not white space
      ['HELP \u0000', '-ERR no command "\\u0000"'],
      ['HELP a\rb', '-ERR no command "a\\rb"'],
      ['HELP \u202eevil\u2066', '-ERR no command "\\u202eevil\\u2066"'],
      ['\u001b[2J', '-ERR unknown command "\\u001b[2J", HELP lists the commands'],
      ['\u009b31m', '-ERR unknown command "\\u009b31m", HELP lists the commands'],
      ['TI\u2028ME', '-ERR unknown command "TI", HELP lists the commands'],
      ['X'.repeat(100), `-ERR unknown command "${'X'.repeat(40)}...", HELP lists the commands`],
    ];
    for (const [request, reply] of cases) {
      peer.send(`${request}\n`);
      const got = await peer.line();
      if (reply === '') expect(got).toMatch(/^\+OK \d{4}-/);
      else expect(got).toBe(reply);
    }
    peer.sendLine('help time');
    expect(await peer.line()).toMatch(/^\+OK TIME: /);
    expect(exceptions).toEqual([]);
  });

  test('a reply never carries a raw CR, LF or bidi character, even when a command echoes its arguments', async () => {
    class Echoing extends LineCommandClient {
      protected override get commandTable() {
        return { ...COMMANDS, ECHO: { usage: 'ECHO text', summary: 'says it back', takesArgs: true, run: (c: LineCommandClient, a: string) => c.ok(a) } };
      }
    }
    const server = await harness.server({ clientClass: Echoing });
    const peer = await harness.connect(server);
    await peer.line();
    peer.send('ECHO one\rtwo\u2028three\u202eend\u0007\n');
    expect(await peer.line()).toBe('+OK one\\u000dtwo\\u2028three\\u202eend\\u0007');
    peer.send('ECHO plain text, tabs\tand é ü 漢字 stay readable\n');
    expect(await peer.line()).toBe('+OK plain text, tabs\\u0009and é ü 漢字 stay readable');
    expect(peer.partial).toBe('');
  });

  test('a command that throws: -ERR, reported once to bgException, the connection goes on', async () => {
    class Failing extends LineCommandClient {
      protected override get commandTable() {
        return {
          ...COMMANDS,
          BOOM: { usage: 'BOOM', summary: 'fails', takesArgs: false, run: () => { throw new Error('kaboom'); } },
        };
      }
    }
    const server = await harness.server({ clientClass: Failing });
    const exceptions: unknown[] = [];
    server.on('bgException', (error) => exceptions.push(error));
    const peer = await harness.connect(server);
    await peer.line();
    peer.sendLine('boom');
    expect(await peer.line()).toBe('-ERR BOOM failed (internal error)');
    expect(exceptions).toHaveLength(1);
    expect((exceptions[0] as Error).message).toBe('kaboom');
    peer.sendLine('TIME');
    expect(await peer.line()).toMatch(/^\+OK \d{4}-/);
  });

  test('a peer that sends requests and never reads: the replies waiting for it stay bounded', async () => {
    const count = 400_000;
    let peak = 0;
    let lines = 0;
    let allRead: () => void;
    const everyRequestRead = new Promise<string>((resolve) => (allRead = () => resolve('read all without pausing')));
    class Measured extends LineCommandClient {
      constructor() {
        super();
        // What is measured is the output backlog: no read rate to slow the requests down.
        this.readLinesPerSecond = 0;
        this.readBytesPerSecond = 0;
      }

      protected override onLine(line: string): void {
        super.onLine(line);
        lines++;
        peak = Math.max(peak, this.bufferedBytes);
        if (lines === count) allRead();
      }
    }
    const server = await harness.server({ clientClass: Measured });
    const peer = await harness.connect(server);
    await peer.line();
    peer.socket.pause(); // reads nothing: every reply stays queued on the server
    peer.socket.write('FROB\n'.repeat(count)); // 2 MB of requests, 23 MB of replies
    // Once the replies have backed up to the peer, the server stops reading; resume, and every
    // request is still answered, in order.
    const paused = new Promise<string>((resolve) => server.clients[0].rawSocket!.once('pause', () => resolve('paused')));
    expect(await Promise.race([paused, everyRequestRead])).toBe('paused');
    peer.socket.resume();
    const replies = await peer.take(count);
    expect(replies.every((line) => line === '-ERR unknown command "FROB", HELP lists the commands')).toBe(true);
    expect(lines).toBe(count);
    // Delivery stops as soon as 64 KB (sendHighWater) wait, even inside a read chunk: one reply over it.
    // Without the pause the server would queue all 23 MB.
    expect(peak).toBeLessThan(65_536 + 100);
    console.log(`command sample, peer not reading: peak reply backlog ${peak} bytes for ${count} requests`);
  }, 60_000); // 400,000 requests and 23 MB of replies in this process: 3 s idle, 7.8 s in a full run on a half-loaded 2-core machine
});
