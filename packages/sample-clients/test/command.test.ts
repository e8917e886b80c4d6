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
