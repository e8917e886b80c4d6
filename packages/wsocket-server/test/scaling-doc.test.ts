/**
 * The room example of docs/scaling-out.md ("Rooms in your own client
 * classes"), read from the page at test time, compiled and served by two
 * servers on one ServiceHub (two nodes of one service, as workers or Redis
 * would make them): keys are unique across both, broadcasts cross them.
 */
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as ts from 'typescript';
import * as serverPackage from '../src';
import { HubBus, ServiceHub, TWSocketClient, TWSocketServer } from '../src';

function memberClass(): typeof TWSocketClient {
  const text = readFileSync(path.resolve(__dirname, '../../../docs/scaling-out.md'), 'utf8');
  const match = /## Rooms in your own client classes\n[\s\S]*?```ts\n([\s\S]*?)```/.exec(text);
  if (!match) throw new Error('docs/scaling-out.md: the room example is missing');
  const js = ts.transpileModule(`import { TWSocketClient } from '@ics-ts/wsocket-server';\n${match[1]}\nexports.Member = Member;`, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  const exported: { Member?: typeof TWSocketClient } = {};
  const requireFor = (name: string): unknown => {
    if (name === '@ics-ts/wsocket-server') return serverPackage;
    throw new Error(`the example imports ${name}`);
  };
  new Function('require', 'exports', js)(requireFor, exported);
  return exported.Member!;
}

/** A peer reading CRLF lines. */
class Peer {
  readonly socket: net.Socket;
  private text = '';
  private readonly waiting: ((line: string) => void)[] = [];
  private readonly lines: string[] = [];
  constructor(port: number) {
    this.socket = net.connect({ port, host: '127.0.0.1' });
    this.socket.setEncoding('utf8');
    this.socket.on('data', (chunk: string) => {
      this.text += chunk;
      let end: number;
      while ((end = this.text.indexOf('\r\n')) >= 0) {
        const line = this.text.slice(0, end);
        this.text = this.text.slice(end + 2);
        const waiter = this.waiting.shift();
        if (waiter) waiter(line);
        else this.lines.push(line);
      }
    });
  }
  line(): Promise<string> {
    const line = this.lines.shift();
    return line !== undefined ? Promise.resolve(line) : new Promise((resolve) => this.waiting.push(resolve));
  }
  send(line: string): void {
    this.socket.write(`${line}\r\n`);
  }
}

test('docs/scaling-out.md: the room example joins service-wide and broadcasts across two servers', async () => {
  const Member = memberClass();
  const hub = new ServiceHub();
  const servers = [0, 1].map(
    (i) => new TWSocketServer({ addr: '127.0.0.1', port: 0, clientClass: Member, bus: new HubBus(hub, { nodeId: `node-${i}` }) }),
  );
  const peers: Peer[] = [];
  try {
    await Promise.all(servers.map((server) => server.listen()));
    const [ann, bob, twin] = [servers[0], servers[1], servers[1]].map((server) => {
      const peer = new Peer(server.bindPort);
      peers.push(peer);
      return peer;
    });
    ann.send('Ann');
    expect(await ann.line()).toBe('Welcome, Ann.');
    bob.send('Bob');
    expect(await bob.line()).toBe('Welcome, Bob.');
    twin.send('ANN'); // the key is lower-cased: ann is held on the other server
    expect(await twin.line()).toBe('ANN is taken.');
    ann.send('hello');
    expect(await bob.line()).toBe('<ann> hello');
    bob.send('hi');
    expect(await ann.line()).toBe('<bob> hi');
    expect((await servers[0].room('lobby').members()).map((entry) => entry.key).sort()).toEqual(['ann', 'bob']);
  } finally {
    for (const peer of peers) peer.socket.destroy();
    await Promise.all(servers.map((server) => server.shutdown(1000)));
  }
});
