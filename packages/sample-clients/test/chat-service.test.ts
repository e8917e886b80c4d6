import * as net from 'node:net';
import { HubBus, ServiceHub, TWSocketServer } from '@ics-ts/wsocket-server';
import { ChatClient } from '../src';
import { Harness } from './support/harness';
import { LineClient } from './support/line-client';

const harness = new Harness();
const peers: Peer[] = [];
afterEach(async () => {
  for (const peer of peers.splice(0)) peer.destroy();
  await harness.cleanup();
});

const BANNER = 'Welcome to the test chat. Your nick?';

/** Two chat servers, one service: A on 127.0.0.1, B on 127.0.0.2 (so that /who shows two addresses). */
async function twoNodes(hub: ServiceHub): Promise<[TWSocketServer<ChatClient>, TWSocketServer<ChatClient>]> {
  return Promise.all([
    harness.server<ChatClient>({ clientClass: ChatClient, banner: BANNER, bus: new HubBus(hub, { nodeId: 'a' }) }),
    harness.server<ChatClient>({ clientClass: ChatClient, banner: BANNER, addr: '127.0.0.2', bus: new HubBus(hub, { nodeId: 'b' }) }),
  ]);
}

/** The peers of these tests: what LineClient reads, from a chosen local address (B's members come from 127.0.0.2). */
type Peer = Pick<LineClient, 'line' | 'sendLine' | 'destroy'>;

function lineReader(socket: net.Socket): Peer {
  const lines: string[] = [];
  const waiters: ((line: string) => void)[] = [];
  let buffer = '';
  socket.setEncoding('utf8');
  socket.on('error', () => {});
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    let end: number;
    while ((end = buffer.indexOf('\r\n')) >= 0) {
      lines.push(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
    }
    while (waiters.length > 0 && lines.length > 0) waiters.shift()!(lines.shift()!);
  });
  return {
    line: () => (lines.length > 0 ? Promise.resolve(lines.shift()!) : new Promise((resolve) => waiters.push(resolve))),
    sendLine: (text: string) => void socket.write(`${text}\r\n`),
    destroy: () => void socket.destroy(),
  };
}

async function connect(server: TWSocketServer<ChatClient>): Promise<Peer> {
  const socket = net.connect({ port: server.bindPort, host: server.addr, localAddress: server.addr });
  const peer = lineReader(socket);
  peers.push(peer);
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  expect(await peer.line()).toBe(BANNER);
  return peer;
}

async function join(server: TWSocketServer<ChatClient>, nick: string): Promise<{ peer: Peer; welcome: string }> {
  const peer = await connect(server);
  peer.sendLine(nick);
  return { peer, welcome: await peer.line() };
}

test('chat across two servers on one ServiceHub: /who lists both, messages cross, a nick held on the other server is taken, a node gone vanishes', async () => {
  const hub = new ServiceHub();
  const [a, b] = await twoNodes(hub);
  const { peer: alice, welcome } = await join(a, 'Alice');
  expect(welcome).toBe('* Welcome, Alice. Nobody else is here yet. /help lists the commands.');
  const { peer: bob, welcome: bobWelcome } = await join(b, 'bob');
  expect(bobWelcome).toBe('* Welcome, bob. Here: Alice. /help lists the commands.');
  expect(await alice.line()).toBe('* bob joined');

  alice.sendLine('/who');
  expect(await alice.line()).toBe('* Here (2): Alice (127.0.0.1), bob (127.0.0.2)');
  bob.sendLine('/who');
  expect(await bob.line()).toBe('* Here (2): Alice (127.0.0.1), bob (127.0.0.2)');

  alice.sendLine('hello from a');
  expect(await bob.line()).toBe('<Alice> hello from a');
  bob.sendLine('hello from b');
  expect(await alice.line()).toBe('<bob> hello from b');

  // A nick held on the other server, in any case, is taken here.
  const carol = await connect(a);
  carol.sendLine('BOB');
  expect(await carol.line()).toBe('* BOB is taken. Your nick?');
  carol.sendLine('alice');
  expect(await carol.line()).toBe('* alice is taken. Your nick?');
  carol.sendLine('carol');
  expect(await carol.line()).toBe('* Welcome, carol. Here: Alice, bob. /help lists the commands.');
  expect(await alice.line()).toBe('* carol joined');
  expect(await bob.line()).toBe('* carol joined');

  // Renames and leaves cross too; the nick freed on one server can be taken on the other.
  bob.sendLine('/nick robert');
  expect(await bob.line()).toBe('* You are now robert.');
  expect(await alice.line()).toBe('* bob is now robert');
  expect(await carol.line()).toBe('* bob is now robert');
  const dave = await connect(a);
  dave.sendLine('bob');
  expect(await dave.line()).toBe('* Welcome, bob. Here: Alice, carol, robert. /help lists the commands.');
  expect(await alice.line()).toBe('* bob joined');
  expect(await carol.line()).toBe('* bob joined');
  expect(await bob.line()).toBe('* bob joined');

  // B's bus removed from the hub (its node gone): its members vanish from /who on A, and hear A no more.
  hub.removeNode('b');
  alice.sendLine('/who');
  expect(await alice.line()).toBe('* Here (3): Alice (127.0.0.1), carol (127.0.0.1), bob (127.0.0.1)');
  alice.sendLine('still there?');
  expect(await carol.line()).toBe('<Alice> still there?');
  bob.sendLine('/who'); // B's own answer comes first: nothing from A reached it
  expect(await bob.line()).toMatch(/^\* Here \(/);
});

test('a member dropped on one server is announced on the other, and its nick is free there', async () => {
  const hub = new ServiceHub();
  const [a, b] = await twoNodes(hub);
  const { peer: alice } = await join(a, 'alice');
  const { peer: bob } = await join(b, 'bob');
  expect(await alice.line()).toBe('* bob joined');
  bob.destroy();
  expect(await alice.line()).toBe('* bob left');
  const { welcome } = await join(a, 'BOB');
  expect(welcome).toBe('* Welcome, BOB. Here: alice. /help lists the commands.');
});
