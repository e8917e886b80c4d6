import * as net from 'node:net';
import { RedisBus } from '@ics-ts/redis-bus';
import { type RoomMember, TWSocketClient, TWSocketServer, type WSocketServerOptions } from '@ics-ts/wsocket-server';
import { describeWithPrograms } from '../../../test-support/outside-program';
import { RedisServer, waitFor } from '../../../test-support/redis-server';

/** Two TWSocketServers, each with its own RedisBus on one redis-server: one service. */

class LineClient extends TWSocketClient {
  constructor() {
    super({ lineMode: true });
  }
  protected override onLine(line: string): void {
    this.sendLine(`echo ${line}`);
  }
}

class Inbox implements RoomMember {
  readonly got: string[] = [];
  deliver(message: string): void {
    this.got.push(message);
  }
}

const servers: TWSocketServer[] = [];
const sockets: net.Socket[] = [];
let service = 0;

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(servers.splice(0).map((server) => server.shutdown(1000)));
});

async function twoServers(url: string, options: WSocketServerOptions = {}): Promise<[TWSocketServer, TWSocketServer]> {
  service++;
  const made = ['a', 'b'].map((nodeId) => {
    const server = new TWSocketServer({
      addr: '127.0.0.1',
      port: 0,
      clientClass: LineClient,
      banner: 'welcome',
      bannerTooBusy: 'busy',
      bannerTooBusyPerIp: 'busy for you',
      bus: new RedisBus({ url, nodeId, service: `servers-${process.pid}-${service}`, presenceTtl: 1500 }),
      ...options,
    });
    servers.push(server);
    return server;
  });
  await Promise.all(made.map((server) => server.listen()));
  expect(made.map((server) => server.bus.status)).toEqual(['up', 'up']);
  return made as [TWSocketServer, TWSocketServer];
}

/** Connects (from `localAddress`) and resolves with the first line the server sends. */
function firstLine(port: number, localAddress = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    sockets.push(socket);
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
      const end = text.indexOf('\r\n');
      if (end >= 0) resolve(text.slice(0, end));
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`closed before a line; got ${JSON.stringify(text)}`)));
  });
}

describeWithPrograms({ 'redis-server': 'redis-server' }, 'two TWSocketServers on one Redis', ({ 'redis-server': program }) => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await RedisServer.start(program);
  });
  afterAll(async () => {
    await redis?.kill();
  });

  test('maxClients 3 is the service\'s: two on A, then B takes one and turns the next away; a disconnect frees a slot for either', async () => {
    const [a, b] = await twoServers(redis.url, { maxClients: 3 });
    expect([await firstLine(a.bindPort), await firstLine(a.bindPort)]).toEqual(['welcome', 'welcome']);
    expect(await firstLine(b.bindPort)).toBe('welcome');
    expect(await firstLine(b.bindPort)).toBe('busy');
    expect(await firstLine(a.bindPort)).toBe('busy');
    expect([a.clientCount, b.clientCount]).toEqual([2, 1]);
    expect([await a.serviceClientCount(), await b.serviceClientCount()]).toEqual([3, 3]);

    sockets[0].destroy();
    await waitFor('the slot back in Redis', async () => ((await b.serviceClientCount()) === 2 ? true : undefined));
    expect(await firstLine(b.bindPort)).toBe('welcome');
    expect(b.stats().service).toMatchObject({ kind: 'redis', status: 'up', slots: 2 });
  });

  test('maxClientsPerIp 2 is the service\'s: one address key counted on both servers', async () => {
    const [a, b] = await twoServers(redis.url, { maxClientsPerIp: 2 });
    expect(await firstLine(a.bindPort, '127.0.0.2')).toBe('welcome');
    expect(await firstLine(b.bindPort, '127.0.0.2')).toBe('welcome');
    expect(await firstLine(a.bindPort, '127.0.0.2')).toBe('busy for you');
    expect(await firstLine(b.bindPort, '127.0.0.3')).toBe('welcome');
  });

  test('one room: keys unique across the servers, a broadcast reaches the members of both', async () => {
    const [a, b] = await twoServers(redis.url);
    const [ann, bob] = [new Inbox(), new Inbox()];
    expect(await a.room('lobby').join(ann, 'ann', 'Ann on a')).toBe(true);
    expect(await b.room('lobby').join(bob, 'ann', 'not Ann')).toBe(false);
    expect(await b.room('lobby').join(bob, 'bob', 'Bob on b')).toBe(true);
    expect(await a.room('lobby').members()).toEqual(
      expect.arrayContaining([
        { key: 'ann', value: 'Ann on a', node: 'a' },
        { key: 'bob', value: 'Bob on b', node: 'b' },
      ]),
    );
    a.room('lobby').broadcast('hello from a', ann);
    await waitFor('bob got it', () => (bob.got.length === 1 ? true : undefined));
    b.room('lobby').broadcast('hello from b');
    await waitFor('ann got it', () => (ann.got.length === 1 ? true : undefined));
    expect([ann.got, bob.got]).toEqual([['hello from b'], ['hello from a', 'hello from b']]);
  });

  test('Redis killed: the servers go on alone (serviceStatus "down"), and come back "up" when it restarts', async () => {
    const own = await RedisServer.start(program);
    try {
      const [a, b] = await twoServers(own.url, { maxClients: 2 });
      const seen: string[] = [];
      a.on('serviceStatus', (status) => seen.push(status));
      expect(await firstLine(b.bindPort)).toBe('welcome');
      await own.kill();
      await waitFor('a down', () => (a.bus.status === 'down' ? true : undefined));
      // alone, a counts its own clients only: 2 more fit
      expect([await firstLine(a.bindPort), await firstLine(a.bindPort), await firstLine(a.bindPort)]).toEqual(['welcome', 'welcome', 'busy']);
      await own.restart();
      await waitFor('both up', () => (a.bus.status === 'up' && b.bus.status === 'up' ? true : undefined));
      expect(await b.serviceClientCount()).toBe(3);
      expect(await firstLine(b.bindPort)).toBe('busy');
      expect(seen).toEqual(['down', 'up']);
    } finally {
      await Promise.all(servers.splice(0).map((server) => server.shutdown(1000)));
      await own.kill();
    }
  });
});
