import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as ts from 'typescript';
import * as redisBus from '@ics-ts/redis-bus';
import * as wsocketServer from '@ics-ts/wsocket-server';
import type { TWSocketServer } from '@ics-ts/wsocket-server';
import { describeWithPrograms } from '../../../test-support/outside-program';
import { RedisServer, waitFor } from '../../../test-support/redis-server';

/**
 * The README's example, read from the README at test time, compiled and run
 * twice (two servers, two nodes) against a real redis-server: its fixed port
 * becomes 0, its Redis URL the test's.
 */

const MODULES: Record<string, unknown> = { '@ics-ts/redis-bus': redisBus, '@ics-ts/wsocket-server': wsocketServer };

function readmeExample(): string {
  const text = readFileSync(path.resolve(__dirname, '../README.md'), 'utf8');
  const match = /## Example\n[\s\S]*?```ts\n([\s\S]*?)```/.exec(text);
  if (!match) throw new Error('README.md: no ```ts block under "## Example"');
  return match[1];
}

function runExample(source: string, redisUrl: string, log: (line: string) => void): TWSocketServer {
  const changed = source.replace(/\bport: \d+/, 'port: 0').replace(/'0\.0\.0\.0'/, "'127.0.0.1'").replace('redis://127.0.0.1:6379', redisUrl);
  if (!changed.includes(redisUrl) || !changed.includes('port: 0')) throw new Error('the example has no port or Redis URL to replace');
  const js = ts.transpileModule(changed.replace(/\bconst server\b/, 'server'), {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  const requireFor = (name: string): unknown => {
    if (name in MODULES) return MODULES[name];
    throw new Error(`the example imports ${name}`);
  };
  const scope = { server: undefined as TWSocketServer | undefined };
  const console = { log: (...args: unknown[]) => log(args.map(String).join(' ')) };
  new Function('require', 'exports', 'console', 'scope', `with (scope) { ${js} }`)(requireFor, {}, console, scope);
  if (!scope.server) throw new Error('the example made no server');
  return scope.server;
}

/** A client of the lobby: sends lines, collects the lines it gets. */
class Talker {
  readonly lines: string[] = [];
  private text = '';
  readonly socket: net.Socket;
  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.setEncoding('utf8');
    this.socket.on('data', (chunk: string) => {
      this.text += chunk;
      const parts = this.text.split('\r\n');
      this.text = parts.pop()!;
      this.lines.push(...parts);
    });
  }
  say(line: string): void {
    this.socket.write(`${line}\r\n`); // as telnet sends it
  }
  until(line: string): Promise<true> {
    return waitFor(`the line ${JSON.stringify(line)} (got ${JSON.stringify(this.lines)})`, () => (this.lines.includes(line) ? true : undefined));
  }
}

describeWithPrograms({ 'redis-server': 'redis-server' }, 'README example', ({ 'redis-server': program }) => {
  test('two lobby servers on one Redis: one nick namespace, every line to everyone in the lobby', async () => {
    const redis = await RedisServer.start(program);
    const logged: string[] = [];
    const servers = [runExample(readmeExample(), redis.url, (line) => logged.push(line)), runExample(readmeExample(), redis.url, (line) => logged.push(line))];
    const talkers: Talker[] = [];
    try {
      await waitFor('both servers listening and up', () => (servers.every((s) => s.bindPort > 0 && s.bus.status === 'up') ? true : undefined));
      expect(logged).toEqual(Array(2).fill(`service up: connected to ${redis.url}`));
      const [ann, bob] = [new Talker(servers[0].bindPort), new Talker(servers[1].bindPort)];
      talkers.push(ann, bob);
      await Promise.all([ann.until('Your nick?'), bob.until('Your nick?')]);
      ann.say('ann');
      await ann.until('hello ann');
      bob.say('ann');
      await bob.until('ann is taken, another?');
      bob.say('bob');
      await bob.until('hello bob');
      ann.say('hi bob');
      await bob.until('ann: hi bob');
      bob.say('hi ann');
      await ann.until('bob: hi ann');
      expect(ann.lines).toEqual(['Your nick?', 'hello ann', 'bob: hi ann']);
      expect(await servers[0].room('lobby').members()).toEqual(
        expect.arrayContaining([expect.objectContaining({ key: 'ann' }), expect.objectContaining({ key: 'bob', value: `on ${servers[1].bus.nodeId}` })]),
      );
    } finally {
      for (const talker of talkers) talker.socket.destroy();
      await Promise.all(servers.map((server) => server.shutdown(1000)));
      await redis.kill();
    }
  });
});
