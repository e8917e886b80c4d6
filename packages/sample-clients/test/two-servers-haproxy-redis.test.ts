/**
 * Two `ics-ts-server` processes, one Redis, one HAProxy in front (TCP,
 * round robin, PROXY v2): the setup of docs/scaling-out.md, with every
 * program real. Clients landing on different servers are in one chat room,
 * `/who` shows their real addresses (from the PROXY header), maxClients holds
 * for the service, and a server that dies leaves no ghost member.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeWithPrograms } from '../../../test-support/outside-program';
import { RunningHaproxy, freePort, runHaproxy } from '../../../test-support/haproxy';
import { RedisServer } from '../../../test-support/redis-server';
import { CliProcess } from './support/cli-process';
import { LineClient } from './support/line-client';

jest.setTimeout(90_000);

/** The server config and the HAProxy config of docs/scaling-out.md, as the page shows them. */
function guide(): { serverConfig: Record<string, unknown>; haproxyConfig: string } {
  const text = readFileSync(path.join(__dirname, '../../../docs/scaling-out.md'), 'utf8');
  const json = /two-server setup below:\n\n```json\n([\s\S]*?)```/.exec(text);
  const cfg = /## Behind HAProxy\n[\s\S]*?```\n([\s\S]*?)```/.exec(text);
  if (!json || !cfg) throw new Error('docs/scaling-out.md: the server config or the HAProxy config is missing');
  return { serverConfig: JSON.parse(json[1]) as Record<string, unknown>, haproxyConfig: cfg[1] };
}

describeWithPrograms({ haproxy: 'haproxy', 'redis-server': 'redis-server' }, 'two servers behind HAProxy sharing one Redis', (programs) => {
  let dir: string;
  let redis: RedisServer | undefined;
  let haproxy: RunningHaproxy | undefined;
  const peers: LineClient[] = [];

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'ics-ts-two-servers-'));
  });
  afterAll(async () => {
    for (const peer of peers) peer.destroy();
    await haproxy?.stop();
    await CliProcess.killAll();
    await redis?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  async function chatMember(port: number, nick: string, localAddress: string): Promise<LineClient> {
    const peer = new LineClient(port, '127.0.0.1', localAddress);
    peers.push(peer);
    await peer.connected;
    expect(await peer.line()).toBe('Your nick?');
    peer.sendLine(nick);
    expect(await peer.line()).toMatch(/^\* Welcome, /);
    return peer;
  }

  test('one chat across both servers, real addresses in /who, one maxClients, no ghost after a server dies', async () => {
    redis = await RedisServer.start(programs['redis-server']);
    const { serverConfig, haproxyConfig } = guide();
    const config = path.join(dir, 'server.json');
    // The page's config with a free port, this test's Redis, a short presenceTtl and 3 seats.
    const redisOptions = serverConfig.redis as Record<string, unknown>;
    writeFileSync(
      config,
      JSON.stringify({ ...serverConfig, port: 0, maxClients: 3, redis: { ...redisOptions, url: redis.url, presenceTtl: 2000 } }),
    );
    const servers = [new CliProcess(['--config', config]), new CliProcess(['--config', config])];
    const ports = (await Promise.all(servers.map((server) => server.listening()))).map((listening) => listening.port);
    for (const server of servers) await server.waitForStderr(/service bus \(redis\) up/);

    const frontend = await freePort();
    const backends = [...haproxyConfig.matchAll(/^  server \w+ 127\.0\.0\.1:(\d+) /gm)];
    expect(backends).toHaveLength(2);
    const haproxyText = haproxyConfig
      .replace(/bind 127\.0\.0\.1:\d+/, `bind 127.0.0.1:${frontend}`)
      .replace(`127.0.0.1:${backends[0][1]} `, `127.0.0.1:${ports[0]} `)
      .replace(`127.0.0.1:${backends[1][1]} `, `127.0.0.1:${ports[1]} `);
    haproxy = await runHaproxy(programs.haproxy, haproxyText, frontend);

    const ann = await chatMember(frontend, 'ann', '127.0.0.2');
    const bob = await chatMember(frontend, 'bob', '127.0.0.3');
    expect(await ann.line()).toBe('* bob joined');
    // Round robin put them on different servers; each server logs the real peer address.
    const landedOn = (address: string) => servers.findIndex((server) => server.lines.some((line) => line.includes(`connected from ${address}:`)));
    expect(new Set([landedOn('127.0.0.2'), landedOn('127.0.0.3')])).toEqual(new Set([0, 1]));

    ann.sendLine('/who');
    expect(await ann.line()).toBe('* Here (2): ann (127.0.0.2), bob (127.0.0.3)');
    bob.sendLine('/who');
    expect(await bob.line()).toBe('* Here (2): ann (127.0.0.2), bob (127.0.0.3)');
    ann.sendLine('hi bob');
    expect(await bob.line()).toBe('<ann> hi bob');
    bob.sendLine('hi ann');
    expect(await ann.line()).toBe('<bob> hi ann');

    // maxClients 3 for the service: one more seat on either server, then busy on both.
    const greetings: string[] = [];
    for (let i = 0; i < 3; i++) {
      const peer = new LineClient(frontend, '127.0.0.1', '127.0.0.4');
      peers.push(peer);
      greetings.push(await peer.line());
    }
    expect(greetings.filter((line) => line === 'busy')).toHaveLength(2);
    expect(greetings.filter((line) => line === 'Your nick?')).toHaveLength(1);

    // bob's server dies without a word: its members stop counting within presenceTtl (2 s).
    const bobServer = servers[landedOn('127.0.0.3')];
    bobServer.child.kill('SIGKILL');
    await bobServer.finished();
    let who = '';
    for (let attempt = 0; attempt < 40 && who !== '* Here (1): ann (127.0.0.2)'; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      ann.sendLine('/who');
      who = await ann.line();
    }
    expect(who).toBe('* Here (1): ann (127.0.0.2)');
  });
});
