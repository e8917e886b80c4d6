import * as net from 'node:net';
import { CHAT_PROMPT, ChatClient, ChatRoom } from '../src';
import { TWSocketServer } from '@ics-ts/wsocket-server';
import { container, injectable } from 'tsyringe';
import { Harness, allGone } from './support/harness';
import { LineClient } from './support/line-client';

const harness = new Harness();
afterEach(() => harness.cleanup());

const BANNER = 'Welcome to the test chat. Your nick?';

async function chatServer(banner = BANNER): Promise<TWSocketServer<ChatClient>> {
  return harness.server<ChatClient>({ clientClass: 'chat', banner });
}

/** Connects, reads the banner, picks `nick`, reads the welcome line. */
async function join(server: TWSocketServer<ChatClient>, nick: string): Promise<{ peer: LineClient; welcome: string }> {
  const peer = await harness.connect(server);
  expect(await peer.line()).toBe(server.banner || CHAT_PROMPT);
  peer.sendLine(nick);
  return { peer, welcome: await peer.line() };
}

test('two clients: nicks, join announced, a line reaches the other and not the sender, /who, /quit, leave announced', async () => {
  const server = await chatServer();
  const { peer: alice, welcome } = await join(server, 'alice');
  expect(welcome).toBe('* Welcome, alice. Nobody else is here yet. /help lists the commands.');

  const { peer: bob, welcome: bobWelcome } = await join(server, 'bob');
  expect(bobWelcome).toBe('* Welcome, bob. Here: alice. /help lists the commands.');
  expect(await alice.line()).toBe('* bob joined');

  alice.sendLine('hello bob');
  expect(await bob.line()).toBe('<alice> hello bob');
  // The sender's next line is the /who answer: had the broadcast come back to it, it would come first.
  alice.sendLine('/who');
  expect(await alice.line()).toBe('* Here (2): alice (127.0.0.1), bob (127.0.0.1)');

  bob.send('hi alice\n'); // a bare LF ends a line too (nc, scripts)
  expect(await alice.line()).toBe('<bob> hi alice');

  bob.sendLine('/quit gotta go');
  expect(await bob.line()).toBe('* Bye, bob.');
  expect(await bob.rest()).toEqual([]); // the server closed the connection
  expect(await alice.line()).toBe('* bob left (gotta go)');

  alice.sendLine('/who');
  expect(await alice.line()).toBe('* Here (1): alice (127.0.0.1)');
});

test('a peer that drops the connection is announced as having left', async () => {
  const server = await chatServer();
  const { peer: alice } = await join(server, 'alice');
  const { peer: bob } = await join(server, 'bob');
  expect(await alice.line()).toBe('* bob joined');
  bob.destroy();
  expect(await alice.line()).toBe('* bob left');
});

test('nick rules: invalid, taken (any case), /nick to choose and to rename', async () => {
  const server = await chatServer();
  const { peer: alice } = await join(server, 'alice');
  const carol = await harness.connect(server);
  expect(await carol.line()).toBe(BANNER);

  carol.sendLine('no spaces please');
  expect(await carol.line()).toBe('* "no spaces please" is not a valid nick: 1 to 20 ASCII letters, digits, _ or -. Your nick?');
  carol.sendLine('ALICE');
  expect(await carol.line()).toBe('* ALICE is taken. Your nick?');
  carol.sendLine('/nick carol');
  expect(await carol.line()).toBe('* Welcome, carol. Here: alice. /help lists the commands.');
  expect(await alice.line()).toBe('* carol joined');

  carol.sendLine('/nick alice');
  expect(await carol.line()).toBe('* alice is taken. Your nick?');
  carol.sendLine('/nick Caroline');
  expect(await carol.line()).toBe('* You are now Caroline.');
  expect(await alice.line()).toBe('* carol is now Caroline');
  carol.sendLine('/nick Caroline');
  expect(await carol.line()).toBe('* You are already Caroline.');

  alice.sendLine('/who');
  expect(await alice.line()).toBe('* Here (2): alice (127.0.0.1), Caroline (127.0.0.1)');
});

test('/help, unknown commands, // escapes a leading slash, control characters are removed', async () => {
  const server = await chatServer();
  const { peer: alice } = await join(server, 'alice');
  const { peer: bob } = await join(server, 'bob');
  expect(await alice.line()).toBe('* bob joined');

  bob.sendLine('/HELP');
  const help = await bob.until((line) => line.startsWith('* Any other line'));
  expect(help[0]).toBe('* Commands:');
  expect(help.join('\n')).toMatch(/\/nick NAME[\s\S]*\/who[\s\S]*\/quit[\s\S]*\/help/);

  bob.sendLine('/dance');
  expect(await bob.line()).toBe('* Unknown command /dance, try /help');
  bob.sendLine(`/${'x'.repeat(4000)}`);
  expect(await bob.line()).toBe(`* Unknown command /${'x'.repeat(29)}..., try /help`);

  bob.sendLine('//dance is not a command');
  expect(await alice.line()).toBe('<bob> /dance is not a command');
  bob.sendLine('red \u001b[31malert\u0007');
  expect(await alice.line()).toBe('<bob> red [31malert');
});

test('before choosing a nick: /who works, nothing is broadcast, /quit closes', async () => {
  const server = await chatServer('');
  const { peer: alice } = await join(server, 'alice'); // no banner: the chat's own prompt
  const shy = await harness.connect(server);
  expect(await shy.line()).toBe(CHAT_PROMPT);
  shy.sendLine('/who');
  expect(await shy.line()).toBe('* Here (1): alice (127.0.0.1)');
  shy.sendLine('/quit');
  expect(await shy.line()).toBe('* Bye.');
  await shy.closed;
  // alice heard of no join and no leave: her next line answers her own /who.
  alice.sendLine('/who');
  expect(await alice.line()).toBe('* Here (1): alice (127.0.0.1)');
});

test('two servers in one process have two rooms', async () => {
  const first = await chatServer();
  const second = await chatServer();
  const { peer: alice } = await join(first, 'alice');
  const { peer: bob, welcome } = await join(second, 'bob');
  expect(welcome).toBe('* Welcome, bob. Nobody else is here yet. /help lists the commands.');
  const { peer: alice2, welcome: welcome2 } = await join(second, 'alice'); // the nick is free on the other server
  expect(welcome2).toBe('* Welcome, alice. Here: bob. /help lists the commands.');
  expect(await bob.line()).toBe('* alice joined');
  bob.sendLine('hello');
  expect(await alice2.line()).toBe('<bob> hello');
  alice.sendLine('/who');
  expect(await alice.line()).toBe('* Here (1): alice (127.0.0.1)');
});

test('the room is injected: a ChatRoom subclass registered in the server container replaces it', async () => {
  const said: string[] = [];
  @injectable() // a subclass needs its own decorator: tsyringe reads constructor parameters per class
  class LoggingRoom extends ChatRoom {
    override broadcast(line: string, except?: Parameters<ChatRoom['broadcast']>[1]): number {
      said.push(line);
      return super.broadcast(line, except);
    }
  }
  const parent = container.createChildContainer();
  parent.register(ChatRoom, { useClass: LoggingRoom });
  const server = await harness.server<ChatClient>({ clientClass: 'chat', banner: BANNER, container: parent });
  const { peer: alice } = await join(server, 'alice');
  const { peer: bob } = await join(server, 'bob');
  expect(await alice.line()).toBe('* bob joined');
  bob.sendLine('logged?');
  expect(await alice.line()).toBe('<bob> logged?');
  bob.destroy();
  expect(await alice.line()).toBe('* bob left');
  alice.destroy();
  await allGone(server);
  expect(said).toEqual(['* alice joined', '* bob joined', '<bob> logged?', '* bob left', '* alice left']);
  expect(server.clientCount).toBe(0);
});

/** The chat without its read rate: for tests that need a member to send fast (what they measure is not the rate). */
@injectable()
class UnlimitedChat extends ChatClient {
  constructor(room: ChatRoom) {
    super(room);
    this.readLinesPerSecond = 0;
    this.readBytesPerSecond = 0;
  }
}

test('a member that stops reading is dropped once too much is queued for it; the others go on', async () => {
  const server = await harness.server<ChatClient>({ clientClass: UnlimitedChat, banner: BANNER });
  const { peer: talker } = await join(server, 'talker');
  const { peer: listener } = await join(server, 'listener');
  const { peer: slow } = await join(server, 'slow');
  await talker.take(2); // listener joined, slow joined
  await listener.line(); // slow joined
  slow.socket.pause(); // reads nothing more

  // Rounds of 128 KB, each awaited at the listener (which reads, so nothing piles up for it), until
  // the kernel buffers of the slow member are full and more than ChatRoom.maxBacklog waits for it.
  const line = 'x'.repeat(4000);
  for (let round = 0; ; round++) {
    for (let i = 0; i < 32; i++) talker.sendLine(line);
    talker.sendLine(`round ${round}`);
    const got = await listener.until((text) => text === `<talker> round ${round}` || text === '* slow left');
    if (got[got.length - 1] === '* slow left') break;
    expect(round).toBeLessThan(4000); // 500 MB and still there: the slow member was never dropped
  }
  slow.socket.resume(); // what the kernel holds for it, then the end of the stream
  await slow.closed;
  talker.sendLine('/who');
  expect(await talker.until((text) => text.startsWith('* Here'))).toContain('* Here (2): talker (127.0.0.1), listener (127.0.0.1)');
  talker.sendLine('still here');
  await listener.until((text) => text === '<talker> still here');
});

describe('hostile members (issue 11)', () => {
  /** A peer like `nc`: it does not close its side when the server closes; it only stops when told. */
  async function joinHalfOpen(server: TWSocketServer<ChatClient>, nick: string): Promise<net.Socket> {
    const socket = net.connect({ port: server.bindPort, host: '127.0.0.1', allowHalfOpen: true });
    sockets.push(socket);
    socket.setEncoding('utf8');
    let text = '';
    await new Promise<void>((resolve) => {
      socket.on('data', (chunk: string) => {
        text += chunk;
        if (text.includes('* Welcome')) resolve();
      });
      socket.write(`${nick}\n`);
    });
    return socket;
  }
  const sockets: net.Socket[] = [];
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.destroy();
  });

  test('/quit is announced when typed, not when the peer finally closes (nc keeps its side open); only once', async () => {
    const server = await chatServer();
    const { peer: alice } = await join(server, 'alice');
    const nc = await joinHalfOpen(server, 'bob');
    expect(await alice.line()).toBe('* bob joined');
    const ended = new Promise<void>((resolve) => nc.once('end', resolve));
    nc.write('/quit see you\n');
    expect(await alice.line()).toBe('* bob left (see you)');
    await ended; // the server closed its side...
    // ...and bob is still connected, its close waiting for closeTimeout: the notice did not wait for it.
    expect(nc.destroyed).toBe(false);
    expect(server.clientCount).toBe(2);
    alice.sendLine('/who');
    expect(await alice.line()).toBe('* Here (1): alice (127.0.0.1)'); // a quitting member is out of the room at once
    const gone = allGoneButOne(server);
    nc.end();
    await gone;
    alice.sendLine('/who');
    // No second "* bob left": the next line alice gets answers her /who.
    expect(await alice.line()).toBe('* Here (1): alice (127.0.0.1)');
  });

  test('C0 (but TAB), DEL, C1, line separators and bidi controls are removed from messages', async () => {
    const server = await chatServer();
    const { peer: alice } = await join(server, 'alice');
    const { peer: bob } = await join(server, 'bob');
    expect(await alice.line()).toBe('* bob joined');
    bob.sendLine('csi \u009b31m red\u007f, bidi \u202eevil\u202c \u2066iso\u2069 \u200emark\u200f \u061calm, sep\u2028ar\u2029ated,\ttab kept, é 漢 😀 kept');
    expect(await alice.line()).toBe('<bob> csi 31m red, bidi evil iso mark alm, separated,\ttab kept, é 漢 😀 kept');
    bob.sendLine('/quit \u202egoodbye\u001b[2J');
    expect(await alice.line()).toBe('* bob left (goodbye[2J)');
  });

  test('nicks are ASCII, unique case-insensitively: look-alikes and hidden characters cannot pose as another member', async () => {
    const server = await chatServer();
    const { peer: admin } = await join(server, 'admin');
    const eve = await harness.connect(server);
    await eve.line();
    eve.sendLine('\u0430dmin'); // Cyrillic а
    expect(await eve.line()).toBe('* "\u0430dmin" is not a valid nick: 1 to 20 ASCII letters, digits, _ or -. Your nick?');
    eve.sendLine('ADMIN');
    expect(await eve.line()).toBe('* ADMIN is taken. Your nick?');
    eve.sendLine('ad\u202emin\u200f'); // invisible characters are removed first: it is "admin"
    expect(await eve.line()).toBe('* admin is taken. Your nick?');
    eve.sendLine('admin\u00a0'); // NBSP is white space: trimmed
    expect(await eve.line()).toBe('* admin is taken. Your nick?');
    eve.sendLine('x'.repeat(100));
    expect(await eve.line()).toBe(`* "${'x'.repeat(30)}..." is not a valid nick: 1 to 20 ASCII letters, digits, _ or -. Your nick?`);
    eve.sendLine('admin_2');
    expect(await eve.line()).toBe('* Welcome, admin_2. Here: admin. /help lists the commands.');
    expect(await admin.line()).toBe('* admin_2 joined');
  });

  test('a member that floods /help and never reads stops being read at 64 KB queued; the others go on', async () => {
    let peak = 0;
    @injectable()
    class Measured extends UnlimitedChat {
      protected override onLine(line: string): void {
        super.onLine(line);
        peak = Math.max(peak, this.bufferedBytes);
      }
    }
    const server = await harness.server<ChatClient>({ clientClass: Measured, banner: BANNER });
    const { peer: alice } = await join(server, 'alice');
    const { peer: flooder } = await join(server, 'flooder');
    expect(await alice.line()).toBe('* flooder joined');
    flooder.socket.pause();
    const client = server.clients.find((c) => c.nick === 'flooder')!;
    const paused = new Promise((resolve) => client.rawSocket!.once('pause', resolve));
    flooder.socket.write('/help\n'.repeat(20_000)); // 120 KB asking for 6 MB of help
    await paused;
    alice.sendLine('/who');
    expect(await alice.line()).toBe('* Here (2): alice (127.0.0.1), flooder (127.0.0.1)');
    // Delivery stopped at sendHighWater (64 KB) queued, inside the read chunk: one answer (6 lines) over.
    expect(peak).toBeLessThan(65_536 + 400);
    console.log(`chat sample, /help flood not read: reading paused at a peak backlog of ${peak} bytes`);
    let remaining = 20_000;
    flooder.socket.resume(); // it reads at last: every request is answered
    const help = await flooder.until((line) => line === '* Any other line is sent to everyone else (start it with // to send a leading /).' && --remaining === 0);
    expect(help).toHaveLength(20_000 * 6);
  });
});

/** Resolves when all but one client are gone. */
async function allGoneButOne(server: TWSocketServer<ChatClient>): Promise<void> {
  while (server.clientCount > 1) await new Promise((resolve) => server.once('clientDisconnect', resolve));
}
