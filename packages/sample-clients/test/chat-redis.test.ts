import * as net from 'node:net';
import { RedisBus } from '@ics-ts/redis-bus';
import { ChatClient } from '@ics-ts/sample-clients';
import { TWSocketServer } from '@ics-ts/wsocket-server';
import { describeWithPrograms } from '../../../test-support/outside-program';
import { RedisServer, waitFor } from '../../../test-support/redis-server';

/** The chat sample on two servers, each with its RedisBus: one room, one nick namespace, across servers. */

const BANNER = 'Welcome to the test chat. Your nick?';

/** A chat peer: the lines it got, in order, each taken once. */
class ChatPeer {
  private readonly lines: string[] = [];
  private buffer = '';
  readonly socket: net.Socket;
  constructor(port: number, host: string) {
    this.socket = net.connect({ port, host, localAddress: host });
    this.socket.setEncoding('utf8');
    this.socket.on('error', () => undefined);
    this.socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let end: number;
      while ((end = this.buffer.indexOf('\r\n')) >= 0) {
        this.lines.push(this.buffer.slice(0, end));
        this.buffer = this.buffer.slice(end + 2);
      }
    });
  }
  async line(): Promise<string> {
    await waitFor('a line', () => (this.lines.length > 0 ? true : undefined));
    return this.lines.shift()!;
  }
  send(text: string): void {
    this.socket.write(`${text}\r\n`);
  }
}

describeWithPrograms({ 'redis-server': 'redis-server' }, 'the chat sample on two servers and one Redis', ({ 'redis-server': program }) => {
  test('/who lists both servers, messages cross, a nick held on the other server is taken', async () => {
    const redis = await RedisServer.start(program);
    const servers = ['127.0.0.1', '127.0.0.2'].map(
      (addr, i) =>
        new TWSocketServer<ChatClient>({
          addr, port: 0, clientClass: ChatClient, banner: BANNER,
          bus: new RedisBus({ url: redis.url, nodeId: `chat-${i}`, service: 'chat-test', presenceTtl: 1500 }),
        }),
    );
    const peers: ChatPeer[] = [];
    const join = async (server: TWSocketServer<ChatClient>, nick: string): Promise<[ChatPeer, string]> => {
      const peer = new ChatPeer(server.bindPort, server.addr);
      peers.push(peer);
      expect(await peer.line()).toBe(BANNER);
      peer.send(nick);
      return [peer, await peer.line()];
    };
    try {
      await Promise.all(servers.map((server) => server.listen()));
      const [a, b] = servers;
      const [alice, aliceWelcome] = await join(a, 'Alice');
      expect(aliceWelcome).toBe('* Welcome, Alice. Nobody else is here yet. /help lists the commands.');
      const [bob, bobWelcome] = await join(b, 'bob');
      expect(bobWelcome).toBe('* Welcome, bob. Here: Alice. /help lists the commands.');
      expect(await alice.line()).toBe('* bob joined');
      alice.send('/who');
      expect(await alice.line()).toBe('* Here (2): Alice (127.0.0.1), bob (127.0.0.2)');
      alice.send('hello from a');
      expect(await bob.line()).toBe('<Alice> hello from a');
      bob.send('hello from b');
      expect(await alice.line()).toBe('<bob> hello from b');
      const [, carolAnswer] = await join(a, 'BOB');
      expect(carolAnswer).toBe('* BOB is taken. Your nick?');
      expect(await a.serviceClientCount()).toBe(3);
    } finally {
      for (const peer of peers) peer.socket.destroy();
      await Promise.all(servers.map((server) => server.shutdown(1000)));
      await redis.kill();
    }
  });
});
